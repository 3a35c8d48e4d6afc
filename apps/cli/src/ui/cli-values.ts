/**
 * Parsers for option values shared by the fleet commands; each throws a message that names the
 * flag and the bad value, so commander reports it before any request is sent.
 */
export const numberFlag =
  (flag: string) =>
  (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n))
      throw new Error(`${flag} expects a number, got "${v}"`);
    return n;
  };

export const countFlag =
  (flag: string) =>
  (v: string): number => {
    const n = numberFlag(flag)(v);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`${flag} expects a whole number, got "${v}"`);
    return n;
  };

/** `500ms`, `30s`, `2m`, `1h` or plain milliseconds. */
export const durationFlag =
  (flag: string) =>
  (v: string): number => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v);
    if (!m) throw new Error(`${flag} expects a duration like 500ms, 30s or 2m, got "${v}"`);
    const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 'ms']!;
    return Math.round(Number(m[1]) * scale);
  };

/** Comma-separated numbers, e.g. wave percents `10,50,100`. */
export const numberListFlag =
  (flag: string) =>
  (v: string): number[] => {
    const parts = v.split(',').map((s) => s.trim());
    if (parts.some((p) => p === '' || !Number.isFinite(Number(p))))
      throw new Error(`${flag} expects comma-separated numbers, got "${v}"`);
    return parts.map(Number);
  };

export const collectFlag = (value: string, previous: string[] = []): string[] => [
  ...previous,
  value,
];
