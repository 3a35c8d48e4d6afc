import { makeTempDir, type FakeClock, type TempDir } from '@edgecompress/testing';
import { join } from 'node:path';
import request from 'supertest';
import {
  createApiToken,
  loadConfig,
  startControlPlane,
  type ControlPlaneConfig,
  type RunningControlPlane,
} from '../../../apps/control-plane/src/main';

export const REPO_ROOT = join(__dirname, '..', '..', '..');

/** A config for tests: temp data dir, every listener on 127.0.0.1 and a free port, quiet logs. */
export function testConfig(dataDir: string, env: Record<string, string> = {}): ControlPlaneConfig {
  return loadConfig({
    EC_DATA_DIR: dataDir,
    EC_HTTP_PORT: '0',
    EC_MQTT_PORT: '0',
    EC_LOG_LEVEL: 'silent',
    EC_PROFILES_DIR: join(REPO_ROOT, 'device-profiles'),
    ...env,
  });
}

export interface ControlPlaneFixture {
  dir: TempDir;
  cp: RunningControlPlane;
  token: string;
  api: () => ReturnType<typeof request>;
  auth: { Authorization: string };
  /** Provisions a device over REST and returns its MQTT credentials. */
  provision(
    id: string,
    extra?: Record<string, unknown>,
  ): Promise<{ username: string; password: string }>;
  close(): Promise<void>;
}

export async function startFixture(
  env: Record<string, string> = {},
  dir = makeTempDir('edgec-cp-'),
  clock?: FakeClock,
): Promise<ControlPlaneFixture> {
  const { token } = createApiToken(dir.path, 'test-admin');
  const cp = await startControlPlane(testConfig(dir.path, env), clock ? { clock } : {});
  const auth = { Authorization: `Bearer ${token}` };
  const api = () => request(cp.httpUrl);
  return {
    dir,
    cp,
    token,
    api,
    auth,
    provision: async (id, extra = {}) => {
      const res = await api()
        .post('/api/v1/devices')
        .set(auth)
        .send({ id, name: id, ...extra });
      if (res.status !== 201)
        throw new Error(`provision ${id}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.mqtt as { username: string; password: string };
    },
    close: async () => {
      await cp.close();
    },
  };
}

/** GET a variant's artifact with the operator's token; the body is the file's bytes. */
export function downloadArtifact(fx: ControlPlaneFixture, variantId: string) {
  return fx
    .api()
    .get(`/api/v1/variants/${variantId}/artifact`)
    .set(fx.auth)
    .buffer(true)
    .parse((res, cb) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => cb(null, Buffer.concat(parts)));
    });
}
