/**
 * SGD (momentum, Nesterov, L2 weight decay) and Adam/AdamW with the update rules of PyTorch's
 * torch.optim, over named tfjs variables, with parameter groups that each follow their own
 * learning-rate schedule and weight decay (e.g. quantizer parameters at 1e-5, no decay on BN).
 * The whole state is exportable for checkpoints.
 */
import * as tf from '@tensorflow/tfjs-core';
import { learningRateAt, validateSchedule, type LrSchedule } from './lr-schedule';

export type OptimizerConfig =
  | {
      kind: 'sgd';
      momentum?: number;
      nesterov?: boolean;
      dampening?: number;
    }
  | {
      kind: 'adam';
      beta1?: number;
      beta2?: number;
      epsilon?: number;
      /** AdamW: decay the weights directly instead of adding `wd * w` to the gradient. */
      decoupledWeightDecay?: boolean;
    };

export interface ParamGroup {
  name: string;
  /** Variables by weight name (e.g. an executor's `trainable`, filtered). */
  params: ReadonlyMap<string, tf.Variable>;
  schedule: LrSchedule;
  weightDecay?: number;
}

/** Serializable optimizer state: the step count and every slot tensor by `${param}:${slot}`. */
export interface OptimizerState {
  kind: OptimizerConfig['kind'];
  step: number;
  slots: Map<string, { shape: number[]; data: Float32Array }>;
}

export class Optimizer {
  private stepCount = 0;
  private readonly slots = new Map<string, tf.Variable>();

  constructor(
    readonly config: OptimizerConfig,
    readonly groups: readonly ParamGroup[],
  ) {
    const seen = new Set<string>();
    for (const group of groups) {
      validateSchedule(group.schedule);
      for (const name of group.params.keys()) {
        if (seen.has(name)) throw new Error(`parameter "${name}" is in two optimizer groups`);
        seen.add(name);
      }
    }
    if (config.kind === 'sgd' && config.nesterov && !((config.momentum ?? 0) > 0)) {
      throw new Error('Nesterov momentum requires momentum > 0');
    }
  }

  /** Steps taken so far; the next step uses the learning rate at this index. */
  get step(): number {
    return this.stepCount;
  }

  /** All parameters of all groups, by name. */
  parameters(): Map<string, tf.Variable> {
    const all = new Map<string, tf.Variable>();
    for (const group of this.groups) for (const [name, v] of group.params) all.set(name, v);
    return all;
  }

  learningRates(): Record<string, number> {
    return Object.fromEntries(
      this.groups.map((g) => [g.name, learningRateAt(g.schedule, this.stepCount)]),
    );
  }

  /**
   * Applies one update from gradients keyed by parameter name. Parameters without a gradient
   * are left alone (as PyTorch skips parameters whose grad is None).
   */
  apply(grads: ReadonlyMap<string, tf.Tensor>): void {
    const t = this.stepCount + 1;
    for (const group of this.groups) {
      const lr = learningRateAt(group.schedule, this.stepCount);
      const wd = group.weightDecay ?? 0;
      for (const [name, param] of group.params) {
        const grad = grads.get(name);
        if (!grad) continue;
        tf.tidy(() => {
          if (this.config.kind === 'sgd') this.sgdUpdate(name, param, grad, lr, wd);
          else this.adamUpdate(name, param, grad, lr, wd, t);
        });
      }
    }
    this.stepCount = t;
  }

  private sgdUpdate(name: string, p: tf.Variable, grad: tf.Tensor, lr: number, wd: number): void {
    const cfg = this.config as Extract<OptimizerConfig, { kind: 'sgd' }>;
    const momentum = cfg.momentum ?? 0;
    let d: tf.Tensor = wd !== 0 ? tf.add(grad, tf.mul(p, wd)) : grad;
    if (momentum !== 0) {
      const key = `${name}:momentum`;
      const buf = this.slots.get(key);
      let next: tf.Tensor;
      if (!buf) {
        next = d;
        this.slots.set(key, tf.variable(d.clone(), false));
      } else {
        next = tf.add(tf.mul(buf, momentum), tf.mul(d, 1 - (cfg.dampening ?? 0)));
        buf.assign(next);
      }
      d = cfg.nesterov ? tf.add(d, tf.mul(next, momentum)) : next;
    }
    p.assign(tf.sub(p, tf.mul(d, lr)));
  }

  private adamUpdate(
    name: string,
    p: tf.Variable,
    grad: tf.Tensor,
    lr: number,
    wd: number,
    t: number,
  ): void {
    const cfg = this.config as Extract<OptimizerConfig, { kind: 'adam' }>;
    const beta1 = cfg.beta1 ?? 0.9;
    const beta2 = cfg.beta2 ?? 0.999;
    const eps = cfg.epsilon ?? 1e-8;
    let g: tf.Tensor = grad;
    let w: tf.Tensor = p;
    if (wd !== 0) {
      if (cfg.decoupledWeightDecay) w = tf.mul(p, 1 - lr * wd);
      else g = tf.add(g, tf.mul(p, wd));
    }
    const m = this.slot(`${name}:m`, p);
    const v = this.slot(`${name}:v`, p);
    const mNext = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
    const vNext = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
    m.assign(mNext);
    v.assign(vNext);
    const stepSize = lr / (1 - beta1 ** t);
    const denom = tf.add(tf.div(tf.sqrt(vNext), Math.sqrt(1 - beta2 ** t)), eps);
    p.assign(tf.sub(w, tf.mul(tf.div(mNext, denom), stepSize)));
  }

  private slot(key: string, like: tf.Variable): tf.Variable {
    let slot = this.slots.get(key);
    if (!slot) {
      slot = tf.variable(tf.zerosLike(like), false);
      this.slots.set(key, slot);
    }
    return slot;
  }

  exportState(): OptimizerState {
    const slots = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [key, v] of [...this.slots].sort(([a], [b]) => (a < b ? -1 : 1))) {
      slots.set(key, {
        shape: [...v.shape],
        data: Float32Array.from(v.dataSync() as Float32Array),
      });
    }
    return { kind: this.config.kind, step: this.stepCount, slots };
  }

  /** Restores exported state; checks every slot against its parameter before changing anything. */
  importState(state: OptimizerState): void {
    if (state.kind !== this.config.kind) {
      throw new Error(
        `optimizer state is for ${state.kind}, this optimizer is ${this.config.kind}`,
      );
    }
    const params = this.parameters();
    for (const [key, slot] of state.slots) {
      const param = params.get(key.slice(0, key.lastIndexOf(':')));
      if (!param) throw new Error(`optimizer state has slot "${key}" for an unknown parameter`);
      if (param.shape.join() !== slot.shape.join()) {
        throw new Error(
          `optimizer slot "${key}" has shape [${slot.shape}], parameter has [${param.shape}]`,
        );
      }
    }
    this.disposeSlots();
    for (const [key, slot] of state.slots) {
      this.slots.set(key, tf.variable(tf.tensor(slot.data, slot.shape, 'float32'), false));
    }
    this.stepCount = state.step;
  }

  dispose(): void {
    this.disposeSlots();
  }

  private disposeSlots(): void {
    for (const v of this.slots.values()) v.dispose();
    this.slots.clear();
  }
}
