import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './control-plane.config';

describe('loadConfig', () => {
  it('fills defaults: embedded broker on 127.0.0.1:1883, HTTP on 8080', () => {
    const config = loadConfig({});
    assert.equal(config.mqtt.mode, 'embedded');
    assert.equal(config.mqtt.port, 1883);
    assert.equal(config.http.port, 8080);
    assert.equal(config.artifacts.chunkBytes, 64 * 1024);
  });

  it('lists every problem at once instead of failing on the first', () => {
    try {
      loadConfig({ EC_HTTP_PORT: 'eighty', EC_MQTT_MODE: 'external', EC_CHUNK_BYTES: '1' });
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      const text = err.problems.join('\n');
      assert.match(text, /EC_HTTP_PORT/);
      assert.match(text, /EC_CHUNK_BYTES/);
      assert.match(text, /EC_MQTT_URL: required when EC_MQTT_MODE=external/);
      assert.equal(err.problems.length, 3);
    }
  });

  it('accepts an external broker URL', () => {
    const config = loadConfig({ EC_MQTT_MODE: 'external', EC_MQTT_URL: 'mqtt://10.0.0.2:1883' });
    assert.equal(config.mqtt.url, 'mqtt://10.0.0.2:1883');
  });

  it('runs one compression job per core by default and never more, whatever is asked', () => {
    const cores = availableParallelism();
    assert.equal(loadConfig({}).jobs.concurrency, cores);
    assert.equal(loadConfig({ EC_JOB_CONCURRENCY: '' }).jobs.concurrency, cores);
    assert.equal(loadConfig({ EC_JOB_CONCURRENCY: '1' }).jobs.concurrency, 1);
    assert.equal(loadConfig({ EC_JOB_CONCURRENCY: String(cores + 5) }).jobs.concurrency, cores);
  });

  it('refuses a job concurrency that is not a whole number >= 1, naming the variable', () => {
    for (const bad of ['0', '-2', '1.5', 'many']) {
      assert.throws(
        () => loadConfig({ EC_JOB_CONCURRENCY: bad }),
        (err: unknown) => err instanceof ConfigError && /EC_JOB_CONCURRENCY/.test(err.message),
        bad,
      );
    }
  });
});
