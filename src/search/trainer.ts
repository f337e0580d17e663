/**
 * The trainer: one run, one schedule, phases in order.
 *
 *   warm-up   weights only (architecture parameters untouched)
 *   search    alternate an architecture step (architecture split) and a weight step (weight split)
 *   frozen    single-stage: the derived network, inherited weights and optimizer state, all data
 *   retrain   two-stage baseline: a fresh network of the decoded genotype, its own schedule
 *
 * It owns data order, learning rates, evaluation, logs and checkpoints; strategies only supply the
 * architecture step (strategies.ts) and the freeze rule lives in protocol.ts.
 */
import { dispose, nn, noGrad, optim, Tensor, tidy, getRngState, setRngState } from '../torch';
import type { CostModel } from '../space';
import { Phase, readRunCheckpoint, RunCheckpoint, writeRunCheckpoint } from './checkpoint';
import { placement, SearchConfig } from './config';
import { convergence, genotypeChanges } from './convergence';
import { evaluate, EvalResult, recalibrateBatchNorm, withRecalibratedBatchNorm } from './evaluate';
import { inPrecision } from './precision';
import { meanEntropy } from './regularizers';
import { freezeDecision, retainOptimizer } from './protocol';
import { MAX_SKIPPED_FRACTION, tooFewMessage } from './data';
import { RunDir } from './rundir';
import { Parallel, SINGLE } from './parallel';
import { makeSchedule } from './schedules';
import { ARCH_STEPS, ArchStepContext } from './strategies';
import { Batch, Genotype, Searchable, Split, TaskData } from './types';

export type { Split };

export type { Phase };
export type Reporter = (event: Record<string, unknown>) => void;

const F = nn.functional;

export interface RunSummary {
  epochs: number;
  phase: Phase;
  frozenAt: number | null;
  /** Why the architecture was frozen (null: it was not). */
  freezeReason: string | null;
  algorithm: SearchConfig['algorithm'];
  protocol: SearchConfig['protocol'];
  genotype: Genotype;
  final: Record<string, unknown>;
  /** 'miou' for segmentation, 'accuracy' (top-1) for classification. */
  metric: 'miou' | 'accuracy';
  bestScore: number;
  wallSeconds: number;
  /** Files left out as unreadable (`--skip-bad`), per split; absent when none. */
  skipped?: { split: 'train' | 'val'; file: string; reason: string }[];
  /** Set when the run stopped early on request (requestStop), with where: epoch in progress (1-based), steps done. */
  stopped?: { epoch: number; step: number };
}

export class Trainer {
  private phase: Phase = 'search';
  private model: nn.Module;
  private forward: (x: Tensor) => Tensor;
  private weightOpt: optim.SGD;
  private archOpt: optim.Adam | null;
  private epoch = 0; // finished epochs
  private frozenAt: number | null = null;
  private freezeReason: string | null = null;
  private genotype: Genotype | null = null;
  /** Decoded genotypes (JSON) of the finished search epochs, for the freeze rule. */
  private history: string[] = [];
  /** The genotype decoded after the previous epoch (warm-up included), for `archChanged`. */
  private lastDecoded: string | null = null;
  private best = -Infinity;
  private retrainStart = 0;
  private readonly tau;
  /** The run's id (config.json), written into every checkpoint. */
  private readonly runId: string | null;
  private readonly entropyWeight;
  private readonly loss: (logits: Tensor, y: Tensor) => Tensor;
  /** Set by requestStop(): the run stops after the current step, with a checkpoint. */
  private stopAsked = false;
  /** With several ranks: a stop that every rank has agreed on at the same step (see parallel.ts). */
  private stopAgreed = false;
  /** Where a run stopped in the middle of an epoch resumes: steps done and their loss sum. */
  private midEpoch: { step: number; lossSum: number } | null = null;
  /** How many skipped files were already reported. */
  private skippedReported = 0;

  constructor(
    readonly cfg: SearchConfig,
    readonly data: TaskData,
    readonly net: Searchable,
    readonly split: Split,
    readonly run: RunDir,
    readonly report: Reporter,
    /** Data parallelism over the ranks of a multi-process run (parallel.ts); one process: none. */
    readonly par: Parallel = SINGLE,
    /** A cost-aware search: the cost the architecture step also minimises (adapter.ts buildCostModel). */
    readonly cost: CostModel | null = null,
  ) {
    this.runId = run.runId();
    this.model = net.module;
    this.forward = this.withPrecision((x) => net.forward(x));
    this.weightOpt = this.makeWeightOpt(net.weightParameters());
    this.archOpt = new optim.Adam(
      net.namedArchParameters().map(([, a]) => a),
      {
        lr: cfg.archLr,
        betas: cfg.archBetas,
        weightDecay: cfg.archWeightDecay,
      },
    );
    this.tau = makeSchedule(cfg.temperature ?? 1);
    net.setNormalization(cfg.mixNorm);
    net.setPathSampling(cfg.samplePaths);
    this.entropyWeight = makeSchedule(cfg.entropyWeight);
    this.loss = (logits, y) => F.crossEntropy(logits, y, { ignoreIndex: data.ignoreIndex });
    // The budget: as given, or the supernet's expected cost now (the seeded initial architecture,
    // also when a run is resumed, since the checkpoint is restored after this).
    const start = cost ? noGrad(() => tidy(() => cost.expected().item())) : null;
    if (cost && !(start! > 0))
      throw new Error(
        `cost '${cfg.cost}': this space's expected cost is ${start} ${cost.unit}; its choices cost nothing to choose between, so there is nothing to trade (use --cost none)`,
      );
    this.costTarget = cost ? (cfg.costTarget ?? start) : null;
  }

  /** The cost budget of a cost-aware search (null: not one). */
  private readonly costTarget: number | null;
  /** The cost of the network after the freeze (its structure no longer changes). */
  private frozenCost: number | null = null;

  /** costWeight * max(0, log(E[cost] / target)): nothing under the budget, log-proportional above. */
  private costPenalty(): Tensor {
    return this.cost!.expected().clampMin(1e-12).div(this.costTarget!).log().relu().mul(this.cfg.costWeight);
  }

  /** Cost figures of an epoch's record: expected under the relaxation (searching) and of the network the run would end with. */
  private costRecord(genotype: Genotype | null): Record<string, unknown> {
    const cost = this.cost;
    if (!cost) return {};
    let network: number;
    if (genotype) network = cost.of(this.net.derive(genotype, { release: false }));
    else network = this.frozenCost ??= cost.of(this.model);
    return {
      costNetwork: network,
      costUnit: cost.unit,
      costTarget: this.costTarget,
      ...(genotype ? { costExpected: noGrad(() => tidy(() => cost.expected().item())) } : {}),
    };
  }

  /** A freshly built network on the run's device, in its memory format (a derived one shares the supernet's tensors, already there). */
  private onDevice<M extends nn.Module>(m: M): M {
    return m.to(placement(this.cfg));
  }

  private makeWeightOpt(params: Tensor[]): optim.SGD {
    return new optim.SGD(params, { lr: this.cfg.lr, momentum: this.cfg.momentum, weightDecay: this.cfg.weightDecay });
  }

  /** Weight learning rate at fractional epoch `e` of the current schedule. */
  private lrAt(e: number): number {
    const c = this.cfg;
    const start = this.phase === 'retrain' ? this.retrainStart : 0;
    const p = Math.min(1, Math.max(0, (e - start) / (c.epochs - start)));
    if (c.lrSchedule === 'poly') return c.lr * Math.pow(1 - p, 0.9);
    return c.minLr + ((c.lr - c.minLr) * (1 + Math.cos(Math.PI * p))) / 2;
  }

  /**
   * Asks the run to stop after the step in progress: train() then writes last.pt (mid-epoch
   * position included, so resume() continues exactly there) and resolves with `stopped` set.
   * Safe to call from a signal handler.
   */
  requestStop(): void {
    this.stopAsked = true;
  }

  /** Whether the run stops after this step: asked here, or (several ranks) agreed on by all. */
  private get stopRequested(): boolean {
    return this.par.world === 1 ? this.stopAsked : this.stopAgreed;
  }

  /**
   * Several ranks: every rank starts from rank 0's weights, BatchNorm statistics and architecture
   * (they are equal already when all ranks seeded alike or resumed from the same checkpoint).
   */
  syncState(): void {
    if (this.par.world === 1) return;
    this.par.broadcast([...Object.values(this.model.stateDict()), ...(this.searching ? this.net.namedArchParameters().map(([, a]) => a) : [])]);
  }

  /** The gradients of the weight optimizer's parameters (null where a parameter got none). */
  private weightGrads(): (Tensor | null)[] {
    return this.weightOpt.paramGroups.flatMap((g) => g.params.map((p) => p.grad));
  }

  private get searching(): boolean {
    return this.phase === 'search' || this.phase === 'warmup';
  }

  /**
   * Runs (or continues) to the last epoch, or only until `until` epochs are finished (as if the
   * run were stopped there; resume() then continues it).
   */
  async train(o: { until?: number } = {}): Promise<RunSummary> {
    const t0 = Date.now();
    const c = this.cfg;
    const end = Math.min(c.epochs, o.until ?? c.epochs);
    for (let e = this.epoch; e < end; e++) {
      if (this.searching) this.phase = e < c.warmupEpochs ? 'warmup' : 'search';
      const tau = this.tau(e, c.epochs);
      if (this.searching) this.net.setRelaxation(c.relaxation ?? 'softmax', tau);
      const cpu0 = process.cpuUsage();
      const trainLoss = await this.trainEpoch(e);
      if (trainLoss === null) return { ...this.summary((Date.now() - t0) / 1000), stopped: { epoch: e + 1, step: this.midEpoch!.step } };
      const trainCpu = process.cpuUsage(cpu0);
      this.epoch = e + 1;
      await this.endEpoch(e, trainLoss, tau, { since: cpu0, train: trainCpu });
      if (this.stopRequested) break; // last.pt of this epoch is written
    }
    this.par.barrier(); // several ranks: rank 0's last records are written before anyone reads them
    const summary = this.summary((Date.now() - t0) / 1000);
    if (this.stopRequested && this.epoch < c.epochs) return { ...summary, stopped: { epoch: this.epoch, step: 0 } };
    if (this.epoch === c.epochs) {
      // genotype.json holds the run's architecture at its end, also for a run that never froze.
      this.run.writeJson(this.run.genotypeFile, summary.genotype);
      this.run.writeJson(this.run.summaryFile, summary);
    }
    this.par.barrier(); // and every rank ends once they are
    return summary;
  }

  /**
   * One epoch of steps; resolves to the mean training loss, or null when a stop was requested
   * (then last.pt holds the position within the epoch).
   */
  private async trainEpoch(e: number): Promise<number | null> {
    const c = this.cfg;
    // A run resumed in the middle of this epoch continues at its next step.
    const start = this.midEpoch?.step ?? 0;
    let sum = this.midEpoch?.lossSum ?? 0;
    this.midEpoch = null;
    const { weight, arch } = this.split(e, !this.searching);
    const withArch = this.phase === 'search';
    const steps = Math.ceil(weight.length / c.batchSize);
    const archStep = ARCH_STEPS[c.algorithm];
    // Architecture batches cycle over their split, one per step; each pass has its own (seeded)
    // order. A resumed epoch starts where `start` steps left them.
    // (Several ranks leave out a last batch smaller than the number of ranks: the data says how many there are.)
    const archSteps = Math.max(1, this.data.trainSteps?.(arch) ?? Math.ceil(arch.length / c.batchSize));
    let pass = Math.floor(start / archSteps);
    let archFrom = start % archSteps;
    const archPass = () => {
      const from = archFrom;
      archFrom = 0;
      return this.data.trainBatches(arch, c.batchSize, 1_000_000 + e * 1000 + pass++, from)[Symbol.asyncIterator]();
    };
    let archIter = withArch ? archPass() : null;
    const nextArch = async (): Promise<Batch> => {
      let r = await archIter!.next();
      if (r.done) {
        archIter = archPass();
        r = await archIter.next();
      }
      return r.value as Batch;
    };
    let i = start;
    let used = 0;
    for await (const b of this.data.trainBatches(weight, c.batchSize, e, start)) {
      const count = b.x.size(0);
      used += count;
      const lr = this.lrAt(e + i / steps);
      this.weightOpt.setLr(lr);
      if (withArch && this.archOpt) {
        const ab = await nextArch();
        const ctx: ArchStepContext = {
          net: this.net,
          forward: this.forward,
          archOpt: this.archOpt,
          loss: this.loss,
          entropyWeight: this.entropyWeight(e, c.epochs),
          weightLr: lr,
          weightDecay: c.weightDecay,
          ...(this.cost && c.costWeight > 0 ? { costPenalty: () => this.costPenalty() } : {}),
          ...(this.par.world > 1 ? { combine: (grads, n, loss) => this.par.reduce(grads, n, loss).loss } : {}),
        };
        const la = archStep(ctx, ab, b);
        ab.x.dispose();
        ab.y.dispose();
        this.checkFinite(la, e, i, 'architecture');
      }
      const l = tidy(() => {
        this.weightOpt.zeroGrad();
        const loss = this.loss(this.forward(b.x), b.y);
        loss.backward();
        if (this.par.world === 1) return loss.item();
        // Several ranks: the global batch's gradient and loss, and whether any rank asked to stop.
        const r = this.par.reduce(this.weightGrads(), count, loss.item(), this.stopAsked);
        this.stopAgreed = r.stop;
        return r.loss;
      });
      this.checkFinite(l, e, i, 'weight');
      this.weightOpt.step({ maxGradNorm: c.gradClip > 0 ? c.gradClip : null }); // clip and update in one native call
      b.x.dispose();
      b.y.dispose();
      sum += l;
      i++;
      this.report({ event: 'step', epoch: e + 1, step: i, steps, images: count, loss: l, lr, phase: this.phase });
      await new Promise((r) => setImmediate(r));
      if (this.stopRequested && i < steps) {
        if (archIter?.return) await archIter.return();
        this.midEpoch = { step: i, lossSum: sum };
        this.par.averageBuffers(this.model); // several ranks: the checkpoint holds the averaged statistics
        this.checkpoint(this.run.lastCheckpoint);
        this.par.barrier(); // the others end once rank 0 has written it
        return null;
      }
    }
    if (archIter?.return) await archIter.return();
    // With --skip-bad, batches shrink or vanish; an epoch that trained on too little is an error.
    const wanted = Math.max(0, weight.length - start * c.batchSize);
    // (Several ranks: each read its slice, and --skip-bad is refused there.)
    if (this.par.world === 1 && wanted > 0 && used < wanted * (1 - MAX_SKIPPED_FRACTION)) this.dataShortage(e + 1, 'training', used, wanted);
    return i ? sum / i : NaN;
  }

  private skippedFiles(): { split: 'train' | 'val'; file: string; reason: string }[] {
    return this.data.skipped?.() ?? [];
  }

  /** Stops the run: too little of a split could be read (`epoch`: 1-based, the one in progress). */
  private dataShortage(epoch: number, name: string, used: number, wanted: number): never {
    const bad = this.skippedFiles();
    const at = this.run.started() ? ` The last good checkpoint (epoch ${this.epoch}) is ${this.run.lastCheckpoint}.` : '';
    throw new Error(`epoch ${epoch}: ${tooFewMessage(name, used, wanted, bad)}.${at}`);
  }

  private checkFinite(v: number, e: number, step: number, which: string): void {
    if (Number.isFinite(v)) return;
    const where = `the ${which} loss became ${v} at epoch ${e + 1}, step ${step + 1}; the run stopped. `;
    if (!this.run.started()) {
      throw new Error(
        `${where}No checkpoint was written yet. Try a lower --lr or check the data, then start the run again (the folder ${this.run.dir} is reused)`,
      );
    }
    throw new Error(
      `${where}The last good checkpoint (epoch ${this.epoch}) is ${this.run.lastCheckpoint}. Try a lower --lr or check the data, then resume with --resume ${this.run.dir}`,
    );
  }

  private async evalModel(forward: (x: Tensor) => Tensor, module: nn.Module): Promise<EvalResult> {
    this.par.averageBuffers(module); // several ranks: the same running statistics everywhere
    const r = await evaluate(module, forward, this.data.valBatches(this.cfg.batchSize), {
      numClasses: this.data.numClasses,
      ignoreIndex: this.data.ignoreIndex,
      classNames: this.data.classNames,
      loss: this.loss,
      ...(this.par.world > 1 ? { sum: (v: number[]) => this.par.sum(v) } : {}),
    });
    const wanted = this.data.valSize ?? 1;
    if (r.samples < wanted * (1 - MAX_SKIPPED_FRACTION) || r.samples === 0) this.dataShortage(this.epoch, 'validation', r.samples, wanted); // evaluations follow an epoch's steps
    return r;
  }

  /** The run's main metric: mIoU for segmentation, top-1 accuracy for classification. */
  get metric(): 'miou' | 'accuracy' {
    return this.data.kind === 'segmentation' ? 'miou' : 'accuracy';
  }

  private score(r: EvalResult): number {
    return this.metric === 'miou' ? r.miou : r.pixelAccuracy;
  }

  private scores(r: EvalResult): Record<string, unknown> {
    const common = { metric: this.metric, score: this.score(r), valLoss: r.loss };
    return this.metric === 'miou'
      ? { ...common, miou: r.miou, pixelAccuracy: r.pixelAccuracy, perClassIoU: r.perClassIoU }
      : { ...common, accuracy: r.pixelAccuracy };
  }

  /**
   * Scores, logs and checkpoints the epoch just trained. `cpu` measures its compute: the process's
   * CPU time (all threads, user and system) of the training steps, and of the whole epoch with the
   * evaluations; recorded as cpuSeconds / trainCpuSeconds (core-seconds; an epoch resumed in its
   * middle counts only the part this process ran).
   */
  private async endEpoch(e: number, trainLoss: number, tau: number, cpu: { since: NodeJS.CpuUsage; train: NodeJS.CpuUsage }): Promise<void> {
    const c = this.cfg;
    const record: Record<string, unknown> = { epoch: this.epoch, phase: this.phase, trainLoss, lr: this.weightOpt.getLr() };
    // A freeze below changes the phase; this epoch's score is still the supernet's.
    const searched = this.searching;
    if (searched) {
      const genotype = this.net.decode();
      const key = JSON.stringify(genotype);
      const weights = tidy(() => this.net.relaxationWeights().map(([k, w]) => [k, w.detach()] as [string, Tensor]));
      const entropy = tidy(() => meanEntropy(weights.map(([, w]) => w)).item());
      const exact = weights.map(([, w]) => rows(w));
      // arch.jsonl keeps 4 decimals; convergence reads the exact weights (a rounded 0 would look masked).
      const table = weights.map(([k], i) => [k, exact[i].map((r) => r.map((v) => Math.round(v * 1e4) / 1e4))] as [string, number[][]]);
      weights.forEach(([, w]) => w.dispose());
      const conv = convergence(exact);
      this.par.checkSame(
        'architecture',
        this.net.namedArchParameters().map(([, a]) => a),
        key,
      );
      const changed = this.lastDecoded === null ? null : genotypeChanges(JSON.parse(this.lastDecoded), genotype);
      this.lastDecoded = key;
      const arch = { archMaxWeight: conv.maxWeight, archUniform: conv.uniform, archMargin: conv.margin, archChanged: changed };
      this.run.append(this.run.archFile, {
        epoch: this.epoch,
        phase: this.phase,
        temperature: tau,
        entropy,
        ...arch,
        genotype,
        weights: Object.fromEntries(table),
      });
      if (this.phase === 'search') this.history.push(key);
      const decision =
        c.protocol !== 'none' && this.phase === 'search' && this.epoch < c.epochs
          ? freezeDecision(c, { epoch: this.epoch, history: this.history, margin: conv.margin, entropy })
          : { freeze: false, reason: null };
      const sup = await this.evalModel(this.forward, this.model);
      const der = await this.evalDerived(genotype, false, e);
      const controls: number[] = [];
      for (let k = 0; k < c.controlGenotypes; k++) controls.push(await this.evalDerived(this.net.randomGenotype(c.seed * 7919 + k), true, e));
      // A single-stage freeze re-estimates the derived network's statistics for good: scored once, there.
      const keepsRecal = decision.freeze && c.protocol === 'single-stage' && c.freezeBnRecal;
      let recal = keepsRecal ? NaN : await this.evalDerived(genotype, true, e);
      this.genotype = genotype;
      if (decision.freeze) recal = (await this.freeze(genotype, decision.reason as string, e, der)) ?? recal;
      const a = this.score(sup);
      const control = controls.length ? controls.reduce((x, y) => x + y, 0) / controls.length : null;
      Object.assign(record, this.scores(sup), {
        derivedScore: der,
        derivedRecalScore: recal,
        gap: a - der,
        gapRecal: a - recal,
        ...(control === null ? {} : { controlScore: control, controlScores: controls, gapControl: a - control }),
        entropy,
        temperature: tau,
        ...arch,
        ...this.costRecord(this.searching ? genotype : null),
      });
    } else {
      const r = await this.evalModel(this.forward, this.model);
      Object.assign(record, this.scores(r), this.costRecord(null));
    }
    const skipped = this.skippedFiles();
    if (skipped.length) record.skipped = skipped.length;
    const seconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;
    record.trainCpuSeconds = seconds(cpu.train);
    record.cpuSeconds = seconds(process.cpuUsage(cpu.since));
    this.run.append(this.run.metricsFile, record);
    this.report({ event: 'epoch', ...record });
    if (skipped.length > this.skippedReported) {
      this.report({ event: 'skipped', epoch: this.epoch, count: skipped.length, files: skipped.slice(this.skippedReported) });
      this.skippedReported = skipped.length;
    }
    const score = record.score as number;
    // "best" compares like with like: the network the run will end with. It is settled before
    // last.pt is written, so a resumed run knows it.
    const better = !searched && score > this.best;
    if (better) this.best = score;
    this.checkpoint(this.run.lastCheckpoint);
    if (better) this.checkpoint(this.run.bestCheckpoint);
  }

  /**
   * The score of `genotype`'s network made of the supernet's weights (the supernet stays intact),
   * with the BatchNorm statistics it inherits or, with `recal`, re-estimated on a few training
   * batches of the weight split (restored afterwards).
   */
  private async evalDerived(genotype: Genotype, recal: boolean, e: number): Promise<number> {
    const derived = this.net.derive(genotype, { release: false });
    const forward = this.withPrecision((x: Tensor) => derived.forward(x) as Tensor);
    const r = recal
      ? await withRecalibratedBatchNorm(derived, forward, this.recalBatches(e), this.cfg.bnRecalibBatches, () => this.evalModel(forward, derived))
      : await this.evalModel(forward, derived);
    return this.score(r);
  }

  /** Training batches (weight split, seeded by epoch) for BatchNorm re-estimation. */
  private recalBatches(e: number) {
    return this.data.trainBatches(this.split(e, true).weight, this.cfg.batchSize, 2_000_000 + e);
  }

  /** Trains a fresh network of `genotype` from epoch 0, without any search (`dnas train`). */
  startFromGenotype(genotype: Genotype, built?: nn.Module): void {
    this.genotype = genotype;
    this.frozenAt = 0;
    this.freezeReason = 'a given genotype, trained from scratch';
    this.retrainStart = 0;
    const fresh = this.onDevice(built ?? this.net.build(genotype));
    this.weightOpt = this.makeWeightOpt(fresh.parameters());
    this.archOpt = null;
    this.setModel(fresh, 'retrain');
    this.run.writeJson(this.run.genotypeFile, genotype);
  }

  /**
   * Single-stage: derive with inherited weights (BatchNorm statistics re-estimated unless
   * freezeBnRecal is off; then the derived network's score after the re-estimation is returned).
   * Two-stage: a fresh network and schedule. `before`: the derived network's score before.
   */
  private async freeze(genotype: Genotype, reason: string, e: number, before: number): Promise<number | null> {
    let after: number | null = null;
    this.frozenAt = this.epoch;
    this.freezeReason = reason;
    this.run.writeJson(this.run.genotypeFile, genotype);
    if (this.cfg.protocol === 'single-stage') {
      const derived = this.net.derive(genotype, { release: true });
      this.weightOpt = retainOptimizer(this.weightOpt, derived.parameters());
      this.setModel(derived, 'frozen');
      if (this.cfg.freezeBnRecal) {
        await recalibrateBatchNorm(derived, this.forward, this.recalBatches(e), this.cfg.bnRecalibBatches);
        after = this.score(await this.evalModel(this.forward, derived));
        this.report({ event: 'bn-recal', epoch: this.epoch, before, after });
      }
    } else {
      const fresh = this.onDevice(this.net.build(genotype));
      this.weightOpt = this.makeWeightOpt(fresh.parameters());
      this.retrainStart = this.epoch;
      this.setModel(fresh, 'retrain');
      this.syncState(); // several ranks: one initialisation everywhere
    }
    this.archOpt = null;
    this.report({ event: 'freeze', epoch: this.epoch, genotype, phase: this.phase, reason });
    return after;
  }

  /** `forward` in the run's precision (precision.ts). */
  private withPrecision(forward: (x: Tensor) => Tensor): (x: Tensor) => Tensor {
    return inPrecision(forward, this.cfg.precision, this.cfg.device);
  }

  private setModel(m: nn.Module, phase: Phase): void {
    this.model = m;
    this.forward = this.withPrecision((x) => m.forward(x) as Tensor);
    this.phase = phase;
    m.train();
  }

  private checkpoint(file: string): void {
    if (!this.run.writable) return; // several ranks: rank 0 writes the run folder
    const arch = this.searching ? Object.fromEntries(this.net.namedArchParameters()) : {};
    const rng = getRngState();
    writeRunCheckpoint(this.run, file, {
      runId: this.runId,
      epoch: this.epoch,
      phase: this.phase,
      frozenAt: this.frozenAt,
      freezeReason: this.freezeReason,
      retrainStart: this.retrainStart,
      genotype: this.genotype,
      history: this.history,
      lastDecoded: this.lastDecoded,
      best: Number.isFinite(this.best) ? this.best : null,
      model: this.model.stateDict(),
      arch,
      weightOpt: this.weightOpt.stateDict() as Record<string, unknown>,
      archOpt: this.archOpt ? (this.archOpt.stateDict() as Record<string, unknown>) : null,
      rng,
      ...(this.midEpoch ? { midEpoch: this.midEpoch } : {}),
    });
    rng.dispose();
  }

  /** Restores the state saved by a checkpoint, so that train() continues where it stopped. */
  resume(file: string): void {
    const ck = readRunCheckpoint(this.run, file);
    try {
      this.restore(ck, file);
    } finally {
      // the values were copied into the model, the optimizers and the generator
      dispose(ck);
    }
  }

  private restore(ck: RunCheckpoint, file: string): void {
    if (ck.runId !== null && this.runId !== null && ck.runId !== this.runId) {
      throw new Error(
        `resume: ${file} belongs to another run (run id ${ck.runId}; ${this.run.configFile} says ${this.runId}); it was copied in, or the folder mixes two runs`,
      );
    }
    this.epoch = ck.epoch;
    this.phase = ck.phase;
    this.frozenAt = ck.frozenAt;
    this.freezeReason = ck.freezeReason;
    this.lastDecoded = ck.lastDecoded;
    this.retrainStart = ck.retrainStart;
    this.genotype = ck.genotype;
    this.history = ck.history;
    this.best = ck.best ?? -Infinity;
    this.midEpoch = ck.midEpoch ?? null;
    if (this.phase === 'frozen' || this.phase === 'retrain') {
      if (!this.genotype) throw new Error(`resume: ${file} is in phase '${this.phase}' but holds no genotype`);
      const m = this.phase === 'frozen' ? this.net.derive(this.genotype, { release: true }) : this.onDevice(this.net.build(this.genotype));
      this.setModel(m, this.phase);
      this.weightOpt = this.makeWeightOpt(m.parameters());
      this.archOpt = null;
      // genotype.json is rewritten from the checkpoint: a copy damaged after the freeze is repaired.
      this.run.writeJson(this.run.genotypeFile, this.genotype);
    } else {
      for (const [n, a] of this.net.namedArchParameters()) {
        if (!ck.arch[n]) throw new Error(`resume: ${file} has no architecture parameter '${n}'`);
        a.copy_(ck.arch[n]);
      }
      this.archOpt?.loadStateDict(ck.archOpt as never);
    }
    this.model.loadStateDict(ck.model);
    this.weightOpt.loadStateDict(ck.weightOpt as never);
    if (ck.rng) setRngState(ck.rng);
    this.run.truncateJsonl(this.run.metricsFile, this.epoch);
    this.run.truncateJsonl(this.run.archFile, this.epoch);
  }

  private summary(wallSeconds: number): RunSummary {
    const metrics = this.run.readMetrics();
    const final = metrics[metrics.length - 1] ?? {};
    const skipped = this.skippedFiles();
    return {
      epochs: this.epoch,
      phase: this.phase,
      frozenAt: this.frozenAt,
      freezeReason: this.freezeReason,
      algorithm: this.cfg.algorithm,
      protocol: this.cfg.protocol,
      genotype: this.genotype ?? this.net.decode(),
      final,
      metric: this.metric,
      bestScore: Number.isFinite(this.best) ? this.best : (final.score as number),
      wallSeconds,
      ...(skipped.length ? { skipped } : {}),
    };
  }
}

/** The rows of a [rows, options] tensor as arrays. */
function rows(t: Tensor): number[][] {
  const [r, k] = t.shape.length === 2 ? t.shape : [1, t.numel];
  const d = t.toArray();
  return Array.from({ length: r }, (_, i) => d.slice(i * k, (i + 1) * k));
}
