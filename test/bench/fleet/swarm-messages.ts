/** IPC messages between the fleet benchmark and its agent-swarm child processes. */
import type { SwarmCounters, TransferMode } from './simulated-agent';

export interface SwarmDevice {
  id: string;
  password: string;
  profileId: string;
}

export type SwarmRequest =
  | {
      type: 'start';
      brokerUrl: string;
      publicKeyPem: string;
      transfer: TransferMode;
      /** The control plane's HTTP API, for `http` transfer. */
      controlPlaneUrl: string;
      devices: SwarmDevice[];
      concurrency: number;
    }
  | { type: 'stats' }
  | { type: 'stop' };

export type SwarmReply =
  | { type: 'ready' }
  | { type: 'connected'; connected: number; failed: number; firstError: string | null; ms: number }
  | {
      type: 'stats';
      counters: SwarmCounters;
      connected: number;
      rssBytes: number;
      /** User + system CPU time of the process so far. */
      cpuSeconds: number;
    }
  | { type: 'fatal'; message: string };
