import * as tf from '@tensorflow/tfjs-core';
import { batchNormTraining } from './batch-norm-training';
import { GraphError } from './graph-error';
import type { Graph, GraphNode, Model, Pads, Weights } from './ir';
import type { ShapeMap } from './shape-inference';
import { validateModel } from './validate-graph';
import { quantizerWeightPrefix, weightName, weightSpecs } from './weight-specs';
import { fakeQuantActivation, fakeQuantWeight } from '../quant';

export interface ForwardOptions {
  /** Training mode: BatchNorm normalises with batch statistics and proposes new running stats. */
  training: boolean;
  /** Node ids whose outputs to return (feature maps for distillation, activations for pruning). */
  capture?: readonly string[];
}

export interface ForwardResult {
  /** [N, numClasses] */
  logits: tf.Tensor2D;
  /** Outputs of the node ids asked for in `capture`. */
  captured: Map<string, tf.Tensor>;
  /** New BN moving statistics by weight name (training mode only), not yet applied. */
  stateUpdates: Map<string, tf.Tensor>;
}

type NamedVariables = Map<string, tf.Variable>;

let executorCount = 0;

/**
 * Runs a graph with tfjs ops over tfjs variables built from the model's weights.
 *
 * `forward` is pure: it never assigns a variable, so it can sit inside a gradient closure and a
 * caller decides whether and when BN running statistics move (`applyStateUpdates`). All
 * intermediate tensors are released; the returned logits, captures and updates belong to the
 * caller.
 */
export class GraphExecutor {
  readonly graph: Graph;
  /** Kernels, biases, BN gamma/beta and quantizer parameters, in graph order. */
  readonly trainable: ReadonlyMap<string, tf.Variable>;
  /** BN moving mean/variance, in graph order. */
  readonly state: ReadonlyMap<string, tf.Variable>;
  /** Output shape of every node, without the batch dimension. */
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  private readonly trainableVars: NamedVariables = new Map();
  private readonly stateVars: NamedVariables = new Map();
  /** Quantizer parameters by node id, looked up once rather than per forward pass. */
  private readonly quantizerParams = new Map<string, Map<string, tf.Variable>>();
  private disposed = false;

  constructor(model: Model) {
    const shapes: ShapeMap = validateModel(model);
    this.graph = structuredClone(model.graph);
    this.shapes = shapes;
    // tfjs registers variables by a process-wide unique name; the prefix lets several executors
    // (teacher and student) hold weights of the same name.
    const prefix = `ec${++executorCount}:`;
    const make = (name: string, trainable: boolean): tf.Variable => {
      const weight = model.weights.get(name)!;
      const initial = tf.tensor(weight.data, weight.shape, 'float32');
      const variable = tf.variable(initial, trainable, prefix + name);
      initial.dispose(); // the variable holds its own reference to the data
      return variable;
    };
    for (const node of this.graph.nodes) {
      for (const spec of weightSpecs(
        node,
        node.inputs.map((id) => shapes.get(id)!),
      )) {
        const target = spec.kind === 'state' ? this.stateVars : this.trainableVars;
        target.set(spec.name, make(spec.name, spec.kind === 'trainable'));
      }
      const quantPrefix = quantizerWeightPrefix(node);
      if (quantPrefix) {
        const names = [...model.weights.keys()].filter((n) => n.startsWith(quantPrefix)).sort();
        const params = new Map<string, tf.Variable>();
        for (const name of names) {
          const variable = make(name, true);
          this.trainableVars.set(name, variable);
          params.set(name.slice(quantPrefix.length), variable);
        }
        this.quantizerParams.set(node.id, params);
      }
    }
    this.trainable = this.trainableVars;
    this.state = this.stateVars;
  }

  forward(x: tf.Tensor4D | tf.Tensor2D, opts: ForwardOptions): ForwardResult {
    this.assertLive();
    const expected = this.graph.inputShape;
    if (x.rank !== expected.length + 1 || !expected.every((d, i) => x.shape[i + 1] === d)) {
      throw new GraphError(
        `input batch has shape [${x.shape.join(', ')}], expected [N, ${expected.join(', ')}]`,
      );
    }
    const captureIds = [...new Set(opts.capture ?? [])];
    for (const id of captureIds) {
      if (!this.shapes.has(id)) throw new GraphError(`cannot capture "${id}": no such node`);
    }

    const out = tf.tidy(() => {
      const values = new Map<string, tf.Tensor>();
      const updateNames: string[] = [];
      const updates: tf.Tensor[] = [];
      for (const node of this.graph.nodes) {
        const inputs = node.inputs.map((id) => values.get(id)!);
        values.set(
          node.id,
          this.run(node, inputs, x, opts.training, (name, t) => {
            updateNames.push(name);
            updates.push(t);
          }),
        );
      }
      return {
        logits: values.get(this.graph.output)!,
        captured: captureIds.map((id) => values.get(id)!),
        updates,
        updateNames,
      };
    });
    return {
      logits: out.logits as tf.Tensor2D,
      captured: new Map(captureIds.map((id, i) => [id, out.captured[i]])),
      stateUpdates: new Map(out.updateNames.map((name, i) => [name, out.updates[i]])),
    };
  }

  /**
   * Assigns new running statistics (from `forward(..., { training: true })`). Checks every name
   * and shape before assigning any, so a bad map changes nothing. The caller keeps ownership of
   * the tensors and may dispose them afterwards.
   */
  applyStateUpdates(updates: Map<string, tf.Tensor>): void {
    this.assertLive();
    for (const [name, value] of updates) {
      const variable = this.stateVars.get(name);
      if (!variable) throw new GraphError(`state update for unknown state weight "${name}"`);
      if (!sameDims(variable.shape, value.shape)) {
        throw new GraphError(
          `state update "${name}" has shape [${value.shape.join(', ')}], expected [${variable.shape.join(', ')}]`,
        );
      }
    }
    for (const [name, value] of updates) this.stateVars.get(name)!.assign(value);
  }

  /** A snapshot of the graph and the current weights, independent of this executor. */
  toModel(): Model {
    this.assertLive();
    const weights: Weights = new Map();
    for (const vars of [this.trainableVars, this.stateVars]) {
      for (const [name, variable] of vars) {
        weights.set(name, {
          shape: [...variable.shape],
          data: Float32Array.from(variable.dataSync() as Float32Array),
        });
      }
    }
    return { graph: structuredClone(this.graph), weights };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const variable of this.trainableVars.values()) variable.dispose();
    for (const variable of this.stateVars.values()) variable.dispose();
  }

  private assertLive(): void {
    if (this.disposed) throw new GraphError('executor was disposed');
  }

  private weight(nodeId: string, role: string): tf.Variable {
    const name = weightName(nodeId, role);
    return (this.trainableVars.get(name) ?? this.stateVars.get(name))!;
  }

  /** A layer's kernel as the layer uses it: fake-quantized when the layer carries `weightQuant`. */
  private kernel(node: GraphNode & { op: 'conv2d' | 'depthwiseConv2d' | 'dense' }): tf.Tensor {
    const kernel = this.weight(node.id, 'kernel');
    const quant = node.attrs.weightQuant;
    return quant ? fakeQuantWeight(kernel, quant, this.quantParams(node), node.id) : kernel;
  }

  /** Quantizer parameters of a node by their short names (`lower`, `step`, `alpha`, ...). */
  private quantParams(node: GraphNode): ReadonlyMap<string, tf.Variable> {
    return this.quantizerParams.get(node.id) ?? new Map();
  }

  private run(
    node: GraphNode,
    inputs: tf.Tensor[],
    x: tf.Tensor,
    training: boolean,
    proposeUpdate: (name: string, value: tf.Tensor) => void,
  ): tf.Tensor {
    const [a] = inputs;
    switch (node.op) {
      case 'input':
        return x;
      case 'conv2d': {
        const { strides, dilations, pads, groups, filters, useBias } = node.attrs;
        const kernel = this.kernel(node) as tf.Tensor4D;
        const channels = a.shape[3]!;
        const pad = explicitPad(pads);
        let y: tf.Tensor4D;
        if (groups === 1) {
          y = tf.conv2d(a as tf.Tensor4D, kernel, strides, pad, 'NHWC', dilations);
        } else if (groups === channels) {
          // A per-channel grouped conv is a depthwise conv: [kh, kw, 1, C*m] -> [kh, kw, C, m].
          const [kh, kw] = node.attrs.kernelSize;
          const depthwise = tf.reshape(kernel, [
            kh,
            kw,
            channels,
            filters / channels,
          ]) as tf.Tensor4D;
          y = tf.depthwiseConv2d(a as tf.Tensor4D, depthwise, strides, pad, 'NHWC', dilations);
        } else {
          const xs = tf.split(a, groups, 3) as tf.Tensor4D[];
          const ks = tf.split(kernel, groups, 3) as tf.Tensor4D[];
          y = tf.concat(
            xs.map((xg, g) => tf.conv2d(xg, ks[g], strides, pad, 'NHWC', dilations)),
            3,
          );
        }
        return useBias ? tf.add(y, this.weight(node.id, 'bias')) : y;
      }
      case 'depthwiseConv2d': {
        const { strides, dilations, pads, useBias } = node.attrs;
        const kernel = this.kernel(node) as tf.Tensor4D;
        const y = tf.depthwiseConv2d(
          a as tf.Tensor4D,
          kernel,
          strides,
          explicitPad(pads),
          'NHWC',
          dilations,
        );
        return useBias ? tf.add(y, this.weight(node.id, 'bias')) : y;
      }
      case 'batchNorm':
        return this.batchNorm(
          node.id,
          node.attrs.epsilon,
          node.attrs.momentum,
          a,
          training,
          proposeUpdate,
        );
      case 'relu':
        return tf.relu(a);
      case 'relu6':
        return tf.relu6(a);
      case 'maxPool':
        return tf.maxPool(
          a as tf.Tensor4D,
          node.attrs.poolSize,
          node.attrs.strides,
          explicitPad(node.attrs.pads),
        );
      case 'avgPool':
        return tf.avgPool(
          a as tf.Tensor4D,
          node.attrs.poolSize,
          node.attrs.strides,
          explicitPad(node.attrs.pads),
        );
      case 'globalAvgPool':
        return tf.mean(a, [1, 2]);
      case 'add':
        return inputs.length === 2 ? tf.add(inputs[0], inputs[1]) : tf.addN(inputs);
      case 'concat':
        return inputs.length === 1 ? a : tf.concat(inputs, -1);
      case 'flatten':
        return a.rank === 2 ? a : tf.reshape(a, [a.shape[0], -1]);
      case 'dense': {
        const y = tf.matMul(a as tf.Tensor2D, this.kernel(node) as tf.Tensor2D);
        return node.attrs.useBias ? tf.add(y, this.weight(node.id, 'bias')) : y;
      }
      case 'softmax':
        return tf.softmax(a);
      case 'fakeQuant':
        return fakeQuantActivation(a, node.attrs, this.quantParams(node), node.id);
    }
  }

  /**
   * Eval: normalise with the running statistics. Training: normalise with the batch mean and
   * biased variance, and propose running = momentum * running + (1 - momentum) * batch with the
   * unbiased variance, as PyTorch does (so a PyTorch peer tracks the same statistics).
   */
  private batchNorm(
    nodeId: string,
    epsilon: number,
    momentum: number,
    x: tf.Tensor,
    training: boolean,
    proposeUpdate: (name: string, value: tf.Tensor) => void,
  ): tf.Tensor {
    const gamma = this.weight(nodeId, 'gamma');
    const beta = this.weight(nodeId, 'beta');
    const movingMean = this.weight(nodeId, 'movingMean');
    const movingVariance = this.weight(nodeId, 'movingVariance');
    if (!training) return tf.batchNorm(x, movingMean, movingVariance, beta, gamma, epsilon);

    const { y, mean, variance } = batchNormTraining(
      x,
      gamma as tf.Tensor1D,
      beta as tf.Tensor1D,
      epsilon,
    );
    const count = x.size / x.shape[x.rank - 1]!;
    const unbiased = count > 1 ? tf.mul(variance, count / (count - 1)) : variance;
    const blend = (running: tf.Tensor, batch: tf.Tensor): tf.Tensor =>
      tf.add(tf.mul(running, momentum), tf.mul(batch, 1 - momentum));
    proposeUpdate(weightName(nodeId, 'movingMean'), blend(movingMean, mean));
    proposeUpdate(weightName(nodeId, 'movingVariance'), blend(movingVariance, unbiased));
    return y;
  }
}

function explicitPad([top, bottom, left, right]: Pads):
  'valid' | [[0, 0], [number, number], [number, number], [0, 0]] {
  if (top === 0 && bottom === 0 && left === 0 && right === 0) return 'valid';
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
