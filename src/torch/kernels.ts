/**
 * dnas's own kernels beside libtorch's (native/fast_kernels.cc), on the CPU in float32:
 *
 * - every bias-free 1x1 convolution by oneDNN's sgemm, one product per batch (channels-last) or per
 *   sample (contiguous); libtorch's one-thread, small-batch path multiplies with whatever BLAS it
 *   was built against, Debian's being the reference one;
 * - the weight gradient of a channels-last depthwise convolution larger than 3x3 or dilated, by a
 *   loop of dnas's own vectorised over channels (oneDNN's takes 10x its 3x3 time there);
 * - the input gradient of a dilated stride-1 depthwise convolution as a forward convolution with
 *   the flipped kernel (libtorch's backward is 4-6x slower than its forward there).
 *
 * Each agrees with libtorch's kernels to float rounding (tested within 1e-5 relative); they are on
 * by default, `DNAS_FAST_KERNELS=0` starts a process with them off, {@link setFastKernels}
 * switches them at run time, and `DNAS_FAST_KERNELS_ISA=baseline` makes the depthwise loop take its
 * build for CPUs without AVX2 (for tests).
 */
import { native } from '../native/binding';

/**
 * Whether dnas's kernels are on, whether oneDNN's sgemm was found (without it 1x1 convolutions stay
 * libtorch's), which build of the depthwise loop runs ('avx2' or 'baseline'), and how many
 * convolutions each kernel has run in this process.
 */
export function fastKernels(): { enabled: boolean; sgemm: boolean; isa: string; calls: { pointwise: number; depthwise: number } } {
  return native.fastKernels();
}

/**
 * Turns dnas's kernels on or off (off: every convolution is libtorch's own, bit for bit what
 * PyTorch computes); returns the previous setting.
 *
 * @example
 * const was = torch.setFastKernels(false);
 * try { check(); } finally { torch.setFastKernels(was); }
 */
export function setFastKernels(on: boolean): boolean {
  if (typeof on !== 'boolean') throw new TypeError(`setFastKernels: expected true or false, got ${String(on)}`);
  return native.setFastKernels(on);
}
