/** torch.nn: modules, layers and the functional API. */
export { Module } from './module';
export { Conv2d, Linear, BatchNorm2d, ReLU, Identity, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Dropout, Sequential, ModuleList } from './layers';
export type { Conv2dOptions, BatchNormOptions } from './layers';
import * as functional from './functional';
export { functional };
import * as utils from './utils';
export { utils };
