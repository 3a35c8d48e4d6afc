/**
 * Where the control plane's write time goes: `ec_db_transaction_seconds` (sum and count per
 * transaction kind) scraped from its /metrics before and after a phase. SQLite writes are
 * synchronous and each commit is an fsync, so these seconds are event-loop time the control
 * plane spent on nothing else.
 */
export type TransactionTotals = Map<string, { seconds: number; count: number }>;

export interface TransactionShare {
  kind: string;
  transactions: number;
  seconds: number;
  meanMs: number;
}

const LINE = /^ec_db_transaction_seconds_(sum|count)\{kind="([^"]+)"\} ([0-9.e+-]+)$/;

export async function scrapeTransactions(baseUrl: string): Promise<TransactionTotals> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const totals: TransactionTotals = new Map();
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const entry = totals.get(m[2]!) ?? { seconds: 0, count: 0 };
    if (m[1] === 'sum') entry.seconds = Number(m[3]);
    else entry.count = Number(m[3]);
    totals.set(m[2]!, entry);
  }
  return totals;
}

/** Per kind, what happened between two scrapes; largest total time first. */
export function transactionsBetween(
  before: TransactionTotals,
  after: TransactionTotals,
): TransactionShare[] {
  const out: TransactionShare[] = [];
  for (const [kind, a] of after) {
    const b = before.get(kind) ?? { seconds: 0, count: 0 };
    const transactions = a.count - b.count;
    if (transactions <= 0) continue;
    const seconds = a.seconds - b.seconds;
    out.push({
      kind,
      transactions,
      seconds: Math.round(seconds * 100) / 100,
      meanMs: Math.round((seconds / transactions) * 1e5) / 100,
    });
  }
  return out.sort((x, y) => y.seconds - x.seconds);
}
