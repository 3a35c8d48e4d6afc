import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeMessage,
  encodeMessage,
  EXAMPLE_COMMANDS,
  EXAMPLE_EVENTS,
  EXAMPLE_HELLO,
  EXAMPLE_STATE,
  EXAMPLE_TELEMETRY,
  MAX_CHUNK_BYTES,
  MAX_JSON_DEPTH,
  MAX_JSON_PAYLOAD_BYTES,
  topics,
  type DecodeResult,
} from '@edgecompress/protocol';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const deviceId = EXAMPLE_STATE.deviceId;

function errorCode(result: DecodeResult): string {
  assert.equal(result.ok, false, 'expected a decode error');
  return result.ok ? '' : result.error.code;
}

/** Every example paired with the topic it travels on. */
const cases: Array<{ name: string; topic: string; message: Record<string, unknown> }> = [
  { name: 'state', topic: topics.deviceState(deviceId), message: EXAMPLE_STATE },
  { name: 'hello', topic: topics.deviceHello(deviceId), message: EXAMPLE_HELLO },
  { name: 'telemetry', topic: topics.deviceTelemetry(deviceId), message: EXAMPLE_TELEMETRY },
  ...Object.values(EXAMPLE_COMMANDS).map((message) => ({
    name: `cmd ${message.type}`,
    topic: topics.deviceCmd(deviceId),
    message,
  })),
  ...Object.values(EXAMPLE_EVENTS).map((message) => ({
    name: `event ${message.type}`,
    topic: topics.deviceEvents(deviceId),
    message,
  })),
];

/** A required top-level field of each example, to delete. */
const requiredField = (message: Record<string, unknown>) =>
  'type' in message && message.kind === 'event'
    ? 'commandId'
    : 'sentAt' in message
      ? 'sentAt'
      : 'id';

describe('decodeMessage on each schema', () => {
  for (const { name, topic, message } of cases) {
    describe(name, () => {
      it('accepts its example and returns it typed', () => {
        const result = decodeMessage(topic, json(message));
        assert.ok(result.ok, result.ok ? '' : result.error.message);
        assert.deepEqual(result.value.kind === 'chunk' ? null : result.value.message, message);
      });
      it('rejects a missing field', () => {
        const broken: Record<string, unknown> = { ...message };
        delete broken[requiredField(message)];
        assert.equal(errorCode(decodeMessage(topic, json(broken))), 'SCHEMA_INVALID');
      });
      it('rejects a wrong type', () => {
        const broken = { ...message, kind: 42 };
        assert.equal(errorCode(decodeMessage(topic, json(broken))), 'SCHEMA_INVALID');
      });
      it('rejects a wrong protocol version as UNSUPPORTED_VERSION', () => {
        for (const protocol of [2, 0, '1', null]) {
          assert.equal(
            errorCode(decodeMessage(topic, json({ ...message, protocol }))),
            'UNSUPPORTED_VERSION',
          );
        }
        const { protocol: _p, ...noVersion } = message;
        assert.equal(errorCode(decodeMessage(topic, json(noVersion))), 'UNSUPPORTED_VERSION');
      });
      it('rejects a payload over the size limit before parsing', () => {
        const padded = { ...message, pad: 'x'.repeat(MAX_JSON_PAYLOAD_BYTES) };
        assert.equal(errorCode(decodeMessage(topic, json(padded))), 'PAYLOAD_TOO_LARGE');
      });
      it('rejects JSON nested deeper than the limit', () => {
        const deep = `{"protocol":1,"x":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}`;
        assert.equal(errorCode(decodeMessage(topic, Buffer.from(deep))), 'JSON_TOO_DEEP');
      });
    });
  }
});

describe('decodeMessage on bad input never throws', () => {
  const topic = topics.deviceState(deviceId);
  it('malformed JSON, non-object JSON, invalid UTF-8, empty payload', () => {
    assert.equal(errorCode(decodeMessage(topic, Buffer.from('{"protocol":1,'))), 'MALFORMED_JSON');
    assert.equal(errorCode(decodeMessage(topic, Buffer.from(''))), 'MALFORMED_JSON');
    assert.equal(
      errorCode(decodeMessage(topic, Buffer.from([0xff, 0xfe, 0x7b]))),
      'MALFORMED_JSON',
    );
    assert.equal(errorCode(decodeMessage(topic, Buffer.from('[1,2]'))), 'SCHEMA_INVALID');
    assert.equal(errorCode(decodeMessage(topic, Buffer.from('null'))), 'SCHEMA_INVALID');
  });
  it('a million nested brackets are refused by depth, not by a stack overflow', () => {
    const deep = Buffer.from('['.repeat(500_000) + ']'.repeat(500_000));
    assert.equal(errorCode(decodeMessage(topic, deep)), 'JSON_TOO_DEEP');
  });
  it('brackets inside strings do not count towards depth', () => {
    const message = { ...EXAMPLE_STATE, agentVersion: '0.1.0' };
    const text = JSON.stringify({ ...message, note: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[' });
    const result = decodeMessage(topic, Buffer.from(text));
    assert.ok(result.ok);
  });
  it('a malformed topic is TOPIC_INVALID', () => {
    for (const bad of [
      'ec/v1/devices/a+b/state',
      'ec/v2/devices/x/state',
      'ec/v1/devices/x/nope',
      '',
    ]) {
      assert.equal(errorCode(decodeMessage(bad, json(EXAMPLE_STATE))), 'TOPIC_INVALID');
    }
  });
  it('a payload naming another device than its topic is TOPIC_MISMATCH', () => {
    const result = decodeMessage(topics.deviceState('other-device'), json(EXAMPLE_STATE));
    assert.equal(errorCode(result), 'TOPIC_MISMATCH');
  });
  it('a message on the wrong channel fails its schema', () => {
    assert.equal(
      errorCode(decodeMessage(topics.deviceHello(deviceId), json(EXAMPLE_STATE))),
      'SCHEMA_INVALID',
    );
  });
  it('unknown command and event types are SCHEMA_INVALID', () => {
    const cmd = { ...EXAMPLE_COMMANDS.ping, type: 'reboot' };
    assert.equal(errorCode(decodeMessage(topics.deviceCmd(deviceId), json(cmd))), 'SCHEMA_INVALID');
    const event = { ...EXAMPLE_EVENTS.pong, type: 'teapot' };
    assert.equal(
      errorCode(decodeMessage(topics.deviceEvents(deviceId), json(event))),
      'SCHEMA_INVALID',
    );
  });
  it('an error event with a code outside the closed enum is SCHEMA_INVALID', () => {
    const event = { ...EXAMPLE_EVENTS.error, code: 'SOMETHING_NEW' };
    assert.equal(
      errorCode(decodeMessage(topics.deviceEvents(deviceId), json(event))),
      'SCHEMA_INVALID',
    );
  });
  it('a benchmark with neither runs nor a time budget is SCHEMA_INVALID', () => {
    const { runs: _r, timeBudgetMs: _t, ...cmd } = EXAMPLE_COMMANDS.benchmark;
    const result = decodeMessage(topics.deviceCmd(deviceId), json(cmd));
    assert.equal(errorCode(result), 'SCHEMA_INVALID');
    assert.match(result.ok ? '' : result.error.message, /runs/);
  });
  it('unordered latency percentiles are SCHEMA_INVALID', () => {
    const report = EXAMPLE_EVENTS['benchmark-report'];
    const event = { ...report, latencyMs: { ...report.latencyMs, p99: 1 } };
    assert.equal(
      errorCode(decodeMessage(topics.deviceEvents(deviceId), json(event))),
      'SCHEMA_INVALID',
    );
  });
});

describe('decodeMessage on chunks', () => {
  const sha = EXAMPLE_STATE.activeVariant?.artifactSha256 ?? '';
  it('returns the bytes and index', () => {
    const result = decodeMessage(topics.artifactChunk(sha, 7), Buffer.from([1, 2, 3]));
    assert.ok(result.ok && result.value.kind === 'chunk');
    assert.equal(result.value.index, 7);
    assert.deepEqual([...result.value.data], [1, 2, 3]);
  });
  it('rejects oversized and empty chunks', () => {
    const topic = topics.artifactChunk(sha, 0);
    assert.equal(
      errorCode(decodeMessage(topic, Buffer.alloc(MAX_CHUNK_BYTES + 1))),
      'PAYLOAD_TOO_LARGE',
    );
    assert.equal(errorCode(decodeMessage(topic, Buffer.alloc(0))), 'SCHEMA_INVALID');
  });
});

describe('encodeMessage', () => {
  it('round-trips through decodeMessage', () => {
    const bytes = encodeMessage('cmd', EXAMPLE_COMMANDS.benchmark);
    const result = decodeMessage(topics.deviceCmd(deviceId), bytes);
    assert.ok(result.ok);
    assert.deepEqual(
      result.value.kind === 'cmd' && result.value.message,
      EXAMPLE_COMMANDS.benchmark,
    );
  });
  it('throws with the schema issue on an invalid message', () => {
    assert.throws(
      () => encodeMessage('telemetry', { ...EXAMPLE_TELEMETRY, cpuLoadPercent: 150 }),
      /cpuLoadPercent/,
    );
  });
});
