/** The public search API: config, trainer, strategies, protocol, run directories. */
export * from './config';
export { Trainer } from './trainer';
export type { Phase, RunSummary, Split, Reporter } from './trainer';
export { ARCH_STEPS, firstOrder, secondOrder } from './strategies';
export { freezeDecision, retainOptimizer } from './protocol';
export type { FreezeRule, FreezeState } from './protocol';
export { meanEntropy, entropyPenalty } from './regularizers';
export { makeSchedule } from './schedules';
export { RunDir } from './rundir';
export { evaluate, recalibrateBatchNorm, withRecalibratedBatchNorm } from './evaluate';
export { buildSearchable } from './adapter';
export { buildTaskData, makeSplit } from './data';
export { runSearch } from './run';
export type { RunSearchOptions, SearchOutcome } from './run';
export { CHECKPOINT_FORMAT, readRunCheckpoint, writeRunCheckpoint } from './checkpoint';
export type { RunCheckpoint } from './checkpoint';
export type { Searchable, TaskData, Genotype } from './types';
