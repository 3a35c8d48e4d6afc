import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeMessage,
  ERROR_CODES,
  EXAMPLE_COMMANDS,
  EXAMPLE_EVENTS,
  EXAMPLE_HELLO,
  EXAMPLE_STATE,
  EXAMPLE_TELEMETRY,
  isCommandExpired,
  topics,
} from '@edgecompress/protocol';

/** Small seeded generator so a failure replays exactly. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const deviceId = EXAMPLE_STATE.deviceId;
const samples: Array<[string, unknown]> = [
  [topics.deviceState(deviceId), EXAMPLE_STATE],
  [topics.deviceHello(deviceId), EXAMPLE_HELLO],
  [topics.deviceTelemetry(deviceId), EXAMPLE_TELEMETRY],
  ...Object.values(EXAMPLE_COMMANDS).map(
    (m) => [topics.deviceCmd(deviceId), m] as [string, unknown],
  ),
  ...Object.values(EXAMPLE_EVENTS).map(
    (m) => [topics.deviceEvents(deviceId), m] as [string, unknown],
  ),
];

describe('decodeMessage under mutation (fuzz, seeded)', () => {
  it('never throws and always returns a known error code for 3,000 mutated payloads', () => {
    const random = rng(20260101);
    const codes = new Set<string>();
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const [topic, message] = samples[Math.floor(random() * samples.length)] as [string, unknown];
      const bytes = Buffer.from(JSON.stringify(message));
      const mutations = 1 + Math.floor(random() * 4);
      for (let m = 0; m < mutations; m++) {
        const at = Math.floor(random() * bytes.length);
        const kind = random();
        if (kind < 0.5) bytes[at] = Math.floor(random() * 256);
        else if (kind < 0.75)
          bytes[at] = 0x22; // a quote in the wrong place
        else bytes[at] = [0x7b, 0x5b, 0x7d, 0x5d, 0x2c, 0x3a][Math.floor(random() * 6)] as number;
      }
      const result = decodeMessage(topic, bytes);
      if (result.ok) accepted++;
      else {
        assert.ok((ERROR_CODES as readonly string[]).includes(result.error.code));
        assert.equal(typeof result.error.message, 'string');
        codes.add(result.error.code);
      }
    }
    // Mutations must reach both the JSON parser and the schemas, not stop at one of them.
    for (const code of ['MALFORMED_JSON', 'SCHEMA_INVALID']) assert.ok(codes.has(code), code);
    assert.ok(accepted < 3000);
  });

  it('never throws on random topics', () => {
    const random = rng(7);
    const alphabet = 'ec/v1devics+#tatmnfk0123456789abcdef-_. ';
    for (let i = 0; i < 2000; i++) {
      const length = Math.floor(random() * 90);
      let topic = random() < 0.5 ? 'ec/v1/' : '';
      for (let c = 0; c < length; c++) topic += alphabet[Math.floor(random() * alphabet.length)];
      const result = decodeMessage(topic, Buffer.from('{}'));
      assert.equal(typeof result.ok, 'boolean');
    }
  });
});

describe('isCommandExpired', () => {
  it('is false up to the deadline and true after it', () => {
    const cmd = EXAMPLE_COMMANDS.ping;
    assert.equal(isCommandExpired(cmd, cmd.deadline), false);
    assert.equal(isCommandExpired(cmd, cmd.deadline + 1), true);
  });
});
