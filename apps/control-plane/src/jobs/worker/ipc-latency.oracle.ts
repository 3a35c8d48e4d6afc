/**
 * The child's latency oracle: every question goes to the control plane over IPC, which measures
 * the candidate on the fleet or predicts it. The candidate travels as ONNX (float, or QDQ when
 * the model carries quantizers), the form the agents run.
 */
import {
  type LatencyMeasurement,
  type LatencyOracle,
  UnknownDeviceError,
  exportQuantizedModel,
  hasQuantizers,
} from '@edgecompress/compress';
import { type Model, exportOnnx } from '@edgecompress/engine';
import type { ChildMessage, WorkerLatencyAnswer } from './job-worker.protocol';

export interface LatencyChannel {
  send(message: ChildMessage): void;
  /** Registers the handler of the parent's answers. */
  onAnswer(handler: (answer: WorkerLatencyAnswer) => void): void;
}

/** ONNX bytes of a model as it would be deployed. */
export async function deployableOnnx(model: Model): Promise<Uint8Array> {
  return hasQuantizers(model.graph) ? (await exportQuantizedModel(model)).bytes : exportOnnx(model);
}

export class IpcLatencyOracle implements LatencyOracle {
  private nextId = 1;
  private readonly pending = new Map<number, (answer: WorkerLatencyAnswer) => void>();
  /** The prediction the parent returned with the latest answer (for the round record). */
  lastPredictedMs: number | null = null;
  label = '';

  constructor(
    private readonly channel: LatencyChannel,
    private readonly deviceKey: string,
  ) {
    channel.onAnswer((answer) => {
      const resolve = this.pending.get(answer.requestId);
      this.pending.delete(answer.requestId);
      resolve?.(answer);
    });
  }

  async devices(): Promise<readonly string[]> {
    return [this.deviceKey];
  }

  /** Candidates sent for a measurement / for a prediction only. */
  readonly asked = { measure: 0, predict: 0 };

  async measure(model: Model, device: string): Promise<LatencyMeasurement> {
    return this.ask(model, device, 'measure');
  }

  /** The parent's prediction for the device class, spending no device time. */
  async predict(model: Model, device: string): Promise<LatencyMeasurement> {
    return this.ask(model, device, 'predict');
  }

  private async ask(
    model: Model,
    device: string,
    mode: 'measure' | 'predict',
  ): Promise<LatencyMeasurement> {
    if (device !== this.deviceKey) throw new UnknownDeviceError(device, [this.deviceKey]);
    this.asked[mode]++;
    const onnx = await deployableOnnx(model);
    const [h, w, c] = model.graph.inputShape;
    const requestId = this.nextId++;
    const answer = await new Promise<WorkerLatencyAnswer>((resolve) => {
      this.pending.set(requestId, resolve);
      this.channel.send({
        type: 'latency',
        requestId,
        onnxBase64: Buffer.from(onnx).toString('base64'),
        inputShape: [1, c!, h!, w!],
        label: this.label,
        mode,
      });
    });
    if (!answer.ok || answer.p50Ms === undefined || answer.source === undefined) {
      throw new Error(`latency of the candidate: ${answer.error ?? 'no answer'}`);
    }
    this.lastPredictedMs = answer.predictedMs ?? null;
    return {
      p50Ms: answer.p50Ms,
      ...(answer.p90Ms !== undefined ? { p90Ms: answer.p90Ms } : {}),
      ...(answer.p99Ms !== undefined ? { p99Ms: answer.p99Ms } : {}),
      source: answer.source,
      device,
    };
  }
}
