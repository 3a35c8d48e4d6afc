import { z } from 'zod';
import { GraphError } from './graph-error';
import { GRAPH_FORMAT, GRAPH_VERSION, type Graph } from './ir';

/**
 * Runtime schema of the graph JSON, for graphs that arrive from outside (model files, the REST
 * API, imports). It checks types and value ranges; `validateGraph` then checks structure and
 * shapes. Unknown keys are rejected so a file from a newer writer is not half-understood.
 */
const int = z.number().int();
const positive = int.positive();
const pair = z.tuple([positive, positive]);
const pads = z.tuple([int.nonnegative(), int.nonnegative(), int.nonnegative(), int.nonnegative()]);
const quantizer = z.enum(['learned-interval', 'lsq', 'pact', 'dorefa']);
const bits = int.min(1).max(16);
const weightQuant = z.strictObject({ quantizer, bits, perChannel: z.boolean() }).optional();
const tags = z
  .strictObject({
    role: z.enum(['stem', 'body', 'classifier']).optional(),
    stage: int.nonnegative().optional(),
    block: int.nonnegative().optional(),
  })
  .optional();
const none = z.strictObject({});

const node = <Op extends string, A extends z.ZodType>(op: Op, attrs: A) =>
  z.strictObject({
    id: z.string().min(1).max(256),
    op: z.literal(op),
    inputs: z.array(z.string()).max(1024),
    attrs,
    tags,
  });

const pool = z.strictObject({ poolSize: pair, strides: pair, pads });

const nodeSchema = z.discriminatedUnion('op', [
  node('input', z.strictObject({ shape: z.array(positive).min(1).max(4) })),
  node(
    'conv2d',
    z.strictObject({
      filters: positive,
      weightQuant,
      kernelSize: pair,
      strides: pair,
      pads,
      dilations: pair,
      groups: positive,
      useBias: z.boolean(),
    }),
  ),
  node(
    'depthwiseConv2d',
    z.strictObject({
      kernelSize: pair,
      strides: pair,
      pads,
      dilations: pair,
      depthMultiplier: positive,
      useBias: z.boolean(),
      weightQuant,
    }),
  ),
  node(
    'batchNorm',
    z.strictObject({ epsilon: z.number().positive(), momentum: z.number().min(0).max(1) }),
  ),
  node('relu', none),
  node('relu6', none),
  node('maxPool', pool),
  node('avgPool', pool),
  node('globalAvgPool', none),
  node('add', none),
  node('concat', z.strictObject({ axis: z.literal(-1) })),
  node('flatten', none),
  node('dense', z.strictObject({ units: positive, useBias: z.boolean(), weightQuant })),
  node('softmax', none),
  node('fakeQuant', z.strictObject({ quantizer, bits, signed: z.boolean() })),
]);

export const graphSchema = z.strictObject({
  format: z.literal(GRAPH_FORMAT),
  version: z.literal(GRAPH_VERSION),
  name: z.string().max(256),
  architecture: z.string().max(256),
  inputShape: z.array(positive).min(1).max(4),
  numClasses: positive,
  nodes: z.array(nodeSchema).min(1).max(100_000),
  output: z.string(),
  features: z.string().optional(),
  stages: z
    .array(z.strictObject({ name: z.string(), output: z.string() }))
    .max(1024)
    .optional(),
});

/**
 * Parses untrusted graph JSON into a Graph, with an error that says which field is wrong. The
 * result still needs `validateGraph` (or `validateModel`) for structure and shapes.
 */
export function parseGraph(json: unknown): Graph {
  const header = json as { format?: unknown; version?: unknown } | null;
  if (
    header &&
    typeof header === 'object' &&
    header.format === GRAPH_FORMAT &&
    header.version !== GRAPH_VERSION
  ) {
    throw new GraphError(
      `graph version ${String(header.version)} is not supported (this build reads version ${GRAPH_VERSION})`,
    );
  }
  const result = graphSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue.path.length ? issue.path.join('.') : 'graph';
    throw new GraphError(`invalid graph JSON at ${where}: ${issue.message}`);
  }
  return result.data as Graph;
}
