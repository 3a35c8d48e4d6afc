import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ARCHITECTURES, buildModel, countModelCost } from '@edgecompress/engine';
import {
  defaultProfilesDir,
  graphWorkload,
  loadDeviceProfiles,
  predictLatency,
} from '@edgecompress/profiles';

const profiles = loadDeviceProfiles(defaultProfilesDir() as string);

describe('every builder architecture on every shipped profile', () => {
  for (const architecture of ARCHITECTURES) {
    it(architecture, () => {
      const { graph } = buildModel(architecture, {
        inputShape: [32, 32, 3],
        numClasses: 10,
        shapeOnly: true,
      });
      // Two independent counts agree: the workload's conv/dense ops are 2 x the engine's MACs.
      const layerOps = graphWorkload(graph)
        .filter((l) => l.op === 'conv2d' || l.op === 'depthwiseConv2d' || l.op === 'dense')
        .reduce((sum, l) => sum + l.ops, 0);
      assert.equal(layerOps, 2 * countModelCost(graph).macs);

      for (const profile of profiles) {
        for (const target of profile.accelerator
          ? (['cpu', 'accelerator'] as const)
          : (['cpu'] as const)) {
          const p = predictLatency(graph, profile, { target });
          assert.ok(Number.isFinite(p.totalMs) && p.totalMs > 0, `${profile.id}/${target}`);
          assert.deepEqual(
            [...p.perNodeMs.keys()],
            graph.nodes.map((n) => n.id),
          );
        }
      }
    });
  }
});
