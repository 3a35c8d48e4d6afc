/** One training step of an epoch-based trainer (SQAKD, CKDF), as its progress callback gets it. */
export interface EpochProgress {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  /** Test accuracy, set at the end of an epoch when the trainer evaluated (the split has labels). */
  accuracy?: number;
}
