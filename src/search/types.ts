/**
 * What a strategy needs from a search space, and nothing more. Strategies and the trainer only see
 * this interface; src/search/adapter.ts implements it over the built-in spaces of src/space/.
 */
import { nn, Placement, Tensor } from '../torch';

/** A decoded architecture in the space's own versioned JSON form. */
export type Genotype = Record<string, unknown>;

export type RelaxationKind = 'softmax' | 'gumbel' | 'gumbel-hard';

export interface Searchable {
  /** The supernet as a module (forward gives logits: [N, C, H, W] at input size, or [N, C]). */
  readonly module: nn.Module;
  forward(x: Tensor): Tensor;
  /** Architecture parameters (alphas, betas) with stable names. */
  namedArchParameters(): [string, Tensor][];
  /** Every trainable weight, without the architecture parameters. */
  weightParameters(): Tensor[];
  /** Chooses how the choices are relaxed, and the temperature. */
  setRelaxation(kind: RelaxationKind, temperature: number): void;
  /** Divide soft mixtures by the L2 norm of their weights (or not). */
  setNormalization(on: boolean): void;
  /** Path sampling: k options per choice run in each training pass (0: all). */
  setPathSampling(k: number): void;
  /**
   * Moves the supernet and the architecture parameters to `device` ('cpu', 'cuda', 'cuda:N'),
   * and/or lays the supernet's 4-D weights out in `memoryFormat`.
   */
  to(target: string | Placement): this;
  /** Relaxation weights (probabilities, differentiable) per choice label, each [rows, options]. */
  relaxationWeights(): [string, Tensor][];
  /** The architecture the current parameters decode to. */
  decode(): Genotype;
  /**
   * The discrete network of `genotype` made of the supernet's own modules (same parameter
   * tensors). With `release`, the pruned modules are disposed and the supernet must not be used
   * afterwards; without it the supernet stays intact (used to measure the discretization gap).
   */
  derive(genotype: Genotype, opts: { release: boolean }): nn.Module;
  /** A freshly initialised network of `genotype` (the two-stage baseline). */
  build(genotype: Genotype): nn.Module;
  /** A genotype drawn uniformly from the space (seeded): the control beside the decoded one. */
  randomGenotype(seed: number): Genotype;
  /** Releases the architecture parameters (after a released derive, nothing else of the supernet is left). */
  releaseArchitecture(): void;
  /** Releases the supernet and the architecture parameters. */
  dispose(): void;
}

/** The weight and architecture sample indices of an epoch (all to the weights once frozen). */
export type Split = (epoch: number, frozen: boolean) => { weight: number[]; arch: number[] };

/** One batch: inputs and per-pixel (or per-image) labels. */
export interface Batch {
  x: Tensor;
  y: Tensor;
}

/** Batches of a task, as the trainer consumes them (src/search/data.ts builds it from src/data). */
export interface TaskData {
  kind: 'segmentation' | 'classification';
  numClasses: number;
  ignoreIndex: number;
  classNames: string[];
  inChannels: number;
  trainSize: number;
  /** Number of validation samples (for the check that enough of them could be read). */
  valSize?: number;
  /** [height, width] of the training inputs (after any resize or crop), when known. */
  inputSize?: [number, number];
  /**
   * Training batches over `indices`, shuffled deterministically for (seed, epoch), augmented,
   * starting at batch `from` of that order (a run resumed in the middle of an epoch).
   * Batches are released by the consumer.
   */
  trainBatches(indices: number[], batchSize: number, epoch: number, from?: number): AsyncIterable<Batch>;
  /** How many batches trainBatches yields over `indices` (default: every batch, the last one partial). */
  trainSteps?(indices: number[]): number;
  /** Validation batches in a fixed order, not augmented. */
  valBatches(batchSize: number): AsyncIterable<Batch>;
  /** Samples left out as unreadable so far (`--skip-bad`), per role, without repeats. */
  skipped?(): { split: 'train' | 'val'; file: string; reason: string }[];
  /** Stops loader threads. */
  close(): Promise<void>;
}
