/** Steps shared by every command that needs an artifact on disk: fetch it, then verify it. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { AgentError } from '../agent-error';
import type { AgentServices } from '../agent-services';
import { delay } from '../clock';
import { httpArtifactSource } from '../jobs/artifact-fetcher-http';
import type { JobStep } from '../jobs/command-job';

export function fetchStep(
  services: AgentServices,
  sha256: string,
  dataKey = 'fetch',
  variantId?: string,
): JobStep {
  return {
    name: 'fetch',
    async run(ctx) {
      if (services.models.hasModel(sha256)) {
        // Already stored (deployed before, or an earlier command of a rollout): nothing to fetch
        // and nothing to report; the verify step still re-reads the file before any load.
        ctx.data[dataKey] = { fetchedChunks: 0, reusedChunks: 0 };
        return;
      }
      ctx.progress('fetch', 0);
      const fetchOnce = () =>
        services.fetcher.fetch(sha256, (fraction) => ctx.progress('fetch', fraction), {
          variantId,
          http: httpArtifactSource(services.config),
        });
      // A dropped connection says nothing about the artifact: the command stays ours, so the
      // fetch is tried again (resuming from the chunks on disk) once the broker is back,
      // within the stall budget, instead of ending the command with an error.
      const giveUpAt = services.clock.now() + services.config.fetchStallTimeoutMs;
      let result: Awaited<ReturnType<typeof fetchOnce>>;
      for (;;) {
        try {
          result = await fetchOnce();
          break;
        } catch (err) {
          const retry =
            isConnectionDrop(err) && !ctx.cancelled() && services.clock.now() < giveUpAt;
          if (!retry) throw err;
          await delay(
            services.clock,
            Math.min(RETRY_AFTER_DROP_MS, services.config.reconnectMinMs),
          );
        }
      }
      ctx.data[dataKey] = {
        fetchedChunks: result.fetchedChunks,
        reusedChunks: result.reusedChunks,
      };
      ctx.progress('fetch', 1);
    },
  };
}

const RETRY_AFTER_DROP_MS = 1000;

function isConnectionDrop(err: unknown): boolean {
  return (
    err instanceof AgentError &&
    err.code === 'ARTIFACT_NOT_FOUND' &&
    /^cannot subscribe: .*(connection closed|not connected|disconnecting)/i.test(err.message)
  );
}

export async function fileSha256(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Re-hashes the stored file: a file damaged on disk since it was written is never loaded. */
export function verifyStep(services: AgentServices, sha256: string): JobStep {
  return {
    name: 'verify',
    async run(ctx) {
      ctx.progress('verify', 0);
      const path = services.models.artifactPath(sha256);
      let actual: { sha256: string; bytes: number };
      try {
        actual = await fileSha256(path);
      } catch {
        throw new AgentError('ARTIFACT_NOT_FOUND', `artifact ${sha256} is not in the model store`);
      }
      if (actual.sha256 !== sha256) {
        services.models.removeModel(sha256);
        throw new AgentError(
          'CHECKSUM_MISMATCH',
          `stored artifact ${sha256} hashes to ${actual.sha256}; removed`,
        );
      }
      ctx.data.bytes = actual.bytes;
      ctx.progress('verify', 1);
    },
  };
}
