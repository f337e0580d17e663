export { Optimizer } from './optimizer';
export type { ParamGroup, ParamsArg, StepOptions } from './optimizer';
export { SGD } from './sgd';
export type { SGDOptions } from './sgd';
export { Adam } from './adam';
export type { AdamOptions } from './adam';
export { LRScheduler, PolyLR, CosineAnnealingLR } from './lr';
