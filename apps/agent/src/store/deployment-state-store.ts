/**
 * Which variant is active and which was active before it. One small file, replaced
 * atomically: after power loss at any point it names the old pair or the new pair.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonFile, writeJsonAtomic } from './atomic-file';

const variantSchema = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  variantId: z.string().optional(),
});

export const deploymentStateSchema = z.object({
  active: variantSchema.nullable(),
  previous: variantSchema.nullable(),
  updatedAt: z.number(),
});

export type DeployedVariant = z.infer<typeof variantSchema>;
export type DeploymentState = z.infer<typeof deploymentStateSchema>;

export class DeploymentStateStore {
  private readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'deployment.json');
  }

  read(): DeploymentState {
    return (
      readJsonFile(this.path, deploymentStateSchema) ?? {
        active: null,
        previous: null,
        updatedAt: 0,
      }
    );
  }

  write(state: DeploymentState): void {
    writeJsonAtomic(this.path, state);
  }
}
