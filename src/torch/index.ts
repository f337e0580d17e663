/**
 * dnas/torch: a PyTorch-like engine over libtorch.
 *
 * @example
 * import * as torch from 'dnas/torch';
 * const { nn, optim } = torch;
 * torch.manualSeed(0);
 * const net = new nn.Sequential(new nn.Conv2d(3, 8, 3, { padding: 1 }), new nn.ReLU());
 * const opt = new optim.SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
 * const loss = torch.tidy(() => {
 *   const l = net.forward(torch.randn([2, 3, 8, 8])).square().mean();
 *   l.backward();
 *   return l;
 * });
 * opt.step();
 */
export { Tensor } from './tensor';
export type { Device, DType, MemoryFormat, Placement, TypedArray } from './tensor';
export * from './creation';
export * from './ops';
export { tidy, keep, dispose, memory, noGrad, enableGrad, isGradEnabled, autocast, isAutocastEnabled } from './memory';
export type { AutocastOptions } from './memory';
export { save, load, serialize, deserialize } from './io';
export type { Saveable } from './io';
export { fastKernels, setFastKernels } from './kernels';
import * as nn from './nn';
import * as optim from './optim';
import * as distributed from './distributed';
export { nn, optim, distributed };
