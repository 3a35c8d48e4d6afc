import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeMessage, verifyManifest } from '@edgecompress/protocol';

const doc = readFileSync(join(__dirname, '../../../docs/protocol.md'), 'utf8');

describe('docs/protocol.md examples', () => {
  const examples = [...doc.matchAll(/\*\*`(ec\/v1\/[^`]+)`\*\*\n\n?```json\n([\s\S]*?)\n```/g)];
  it('has one example per message type (3 device messages, 6 commands, 8 events, manifest)', () => {
    assert.equal(examples.length, 18);
  });
  for (const [, topic, body] of examples) {
    it(`decodes on ${topic}: ${(/"type": "([^"]+)"/.exec(body ?? '') ?? [])[1] ?? ''}`, () => {
      const result = decodeMessage(topic as string, Buffer.from(body as string));
      assert.ok(result.ok, result.ok ? '' : `${result.error.code}: ${result.error.message}`);
      if (result.value.kind === 'manifest') {
        const pem =
          /-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/.exec(doc)?.[0] ?? '';
        assert.ok(verifyManifest(result.value.message, pem).ok, 'manifest signature');
      }
    });
  }
});
