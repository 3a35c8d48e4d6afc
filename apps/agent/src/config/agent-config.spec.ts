import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKeyPair } from '@edgecompress/protocol';
import { AgentConfigError, loadAgentConfig } from './agent-config';

describe('loadAgentConfig', () => {
  let dir: string;
  let publicKeyPem: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ec-config-'));
    publicKeyPem = generateSigningKeyPair().publicKeyPem;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('merges file, environment and overrides (later wins) and applies defaults', () => {
    const keyFile = join(dir, 'cp.pub');
    writeFileSync(keyFile, publicKeyPem);
    const file = join(dir, 'agent.json');
    writeFileSync(
      file,
      JSON.stringify({
        deviceId: 'from-file',
        brokerUrl: 'mqtt://a:1883',
        dataDir: dir,
        trustedKeys: [keyFile],
      }),
    );
    const config = loadAgentConfig({
      file,
      env: { EC_DEVICE_ID: 'from-env', EC_DEVICE_PASSWORD: 's3cret' },
      overrides: { brokerUrl: 'mqtt://127.0.0.1:1884', keepaliveSec: undefined },
    });
    assert.equal(config.deviceId, 'from-env');
    assert.equal(config.password, 's3cret');
    assert.equal(config.brokerUrl, 'mqtt://127.0.0.1:1884');
    assert.equal(config.trustedKeys[0], publicKeyPem, 'a key path is read into its PEM');
    assert.equal(config.keepaliveSec, 30);
    assert.equal(config.modelQuotaBytes, 1024 * 1024 * 1024);
  });

  it('lists every problem at once', () => {
    try {
      loadAgentConfig({ env: { EC_DEVICE_ID: 'bad/id', EC_BROKER_URL: 'http//nope' } });
      assert.fail('should have thrown');
    } catch (err) {
      assert.ok(err instanceof AgentConfigError);
      const text = err.problems.join('\n');
      assert.match(text, /deviceId: must be 1-64/);
      assert.match(text, /brokerUrl: must be a URL/);
      assert.match(text, /dataDir:/);
      assert.match(text, /trustedKeys:/);
    }
  });

  it('reports a config file that is not JSON by its path', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ deviceId: ');
    assert.throws(() => loadAgentConfig({ file, env: {} }), /broken\.json: not valid JSON/);
  });
});
