import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OrtRunner } from './ort-runner';
import type { RuntimeResult } from './runner-protocol';
import {
  AGENT_ENVIRONMENT,
  AGENT_RUNTIME_FLAGS,
  flagName,
  nodeOptionsArgument,
  RUNNER_RUNTIME_FLAGS,
  withoutAgentEnvironment,
} from './runtime-flags';

const UNIT = join(__dirname, '../../../../deploy/agent/edgec-agent.service');

/** heap_size_limit of a fresh `node <flags>` process (old plus young generation). */
function heapSizeLimit(flags: readonly string[]): number {
  const r = spawnSync(
    process.execPath,
    [...flags, '-p', 'require("node:v8").getHeapStatistics().heap_size_limit'],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.trim());
}

describe('runtime flags of the agent and its runner', () => {
  it('names flags with or without values and negations', () => {
    assert.equal(flagName('--max-semi-space-size=1'), 'max-semi-space-size');
    assert.equal(flagName('--no-jitless'), 'jitless');
    assert.equal(flagName('--single_threaded_gc'), 'single-threaded-gc');
  });

  it('sets every lean agent flag back in the runner, and nothing else', () => {
    assert.ok(AGENT_RUNTIME_FLAGS.length > 0);
    assert.deepEqual(
      RUNNER_RUNTIME_FLAGS.map(flagName).sort(),
      AGENT_RUNTIME_FLAGS.map(flagName).sort(),
    );
    for (const flag of AGENT_RUNTIME_FLAGS) {
      assert.ok(!RUNNER_RUNTIME_FLAGS.includes(flag), `${flag} is not set back`);
    }
  });

  it('appended after the agent flags, the runner flags give Node its default heap limits', () => {
    const stock = heapSizeLimit([]);
    const agent = heapSizeLimit(AGENT_RUNTIME_FLAGS);
    // The young generation is three semi-spaces' worth: 3 x (16 - 1) MiB smaller for the agent.
    assert.equal(stock - agent, 3 * 15 * 2 ** 20);
    assert.equal(heapSizeLimit([...AGENT_RUNTIME_FLAGS, ...RUNNER_RUNTIME_FLAGS]), stock);
  });

  it('passes the runner flags as one --node-options argument', () => {
    assert.equal(nodeOptionsArgument(['--a=1', '--no-b']), '--node-options=--a=1 --no-b');
  });

  it('the systemd unit gives the agent its environment', () => {
    const unit = readFileSync(UNIT, 'utf8');
    assert.ok(Object.keys(AGENT_ENVIRONMENT).length > 0);
    for (const [key, value] of Object.entries(AGENT_ENVIRONMENT)) {
      assert.match(unit, new RegExp(`^Environment=${key}=${value}$`, 'm'));
    }
  });

  it("keeps the agent's environment from runners, but not an operator's own value", () => {
    const [key, value] = Object.entries(AGENT_ENVIRONMENT)[0]!;
    assert.equal(withoutAgentEnvironment({ [key]: value, PATH: '/bin' })[key], undefined);
    assert.equal(withoutAgentEnvironment({ [key]: value, PATH: '/bin' }).PATH, '/bin');
    assert.equal(withoutAgentEnvironment({ [key]: '4096' })[key], '4096');
  });

  it('a runner started by an agent with that environment does not see it', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, AGENT_ENVIRONMENT);
    try {
      const result = await new OrtRunner().run<RuntimeResult>(
        { kind: 'runtime' },
        { timeoutMs: 30_000, memoryLimitBytes: 2 ** 30 },
      );
      assert.deepEqual(result.agentEnvironment, {});
      assert.ok(result.heapSizeLimitBytes > 0);
    } finally {
      process.env = saved;
    }
  });
});
