/**
 * Every problem found in a graph or model is a GraphError naming the node (when there is one),
 * so a user loading a broken file or a method doing bad surgery learns exactly where it is.
 */
export class GraphError extends Error {
  override readonly name = 'GraphError';

  constructor(
    message: string,
    /** The node at fault, when the problem belongs to one node. */
    readonly nodeId?: string,
  ) {
    super(nodeId === undefined ? message : `node "${nodeId}": ${message}`);
  }
}
