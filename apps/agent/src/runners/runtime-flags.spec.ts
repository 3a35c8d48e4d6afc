import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  AGENT_RUNTIME_FLAGS,
  flagName,
  nodeOptionsArgument,
  RUNNER_RUNTIME_FLAGS,
} from './runtime-flags';

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
});
