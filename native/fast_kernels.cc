// Faster kernels for the shapes where libtorch's own are slow on common CPU builds. Each agrees with
// libtorch to float rounding (src/torch/kernels.test.ts: 1e-5 relative, gradients of gradients
// too); `DNAS_FAST_KERNELS=0` turns them off from the start, `setFastKernels(false)` at run time.
// Measured: docs/benchmarks.md, "Fast kernels and channels-last".
//
// Pointwise (1x1) convolutions
// ----------------------------
// A 1x1 convolution is one matrix product. libtorch sends it to its "slow" im2col + BLAS path
// whenever it runs one thread on a batch under 16 (its heuristic assumes MKL), and a distribution
// build of libtorch may bring the reference BLAS: Debian's libtorch 1.13 multiplies at 6 GFLOP/s
// there, while oneDNN's sgemm, loaded beside it as libtorch's convolution library, runs the same
// product at about 100 GFLOP/s on the same core. So a 1x1 convolution here is computed with
// `dnnl_sgemm`, found at run time in the oneDNN library libtorch has loaded; when there is none (a
// libtorch with oneDNN linked in statically), it stays libtorch's. The product runs in the input's
// own memory layout: channels-last is one [N*H*W, C] x [C, Co] product (and the output is
// channels-last, as libtorch's would be); contiguous is one [Co, C] x [C, H*W] product per
// sample; the layout is channels-last when the input or the weight is, as libtorch chooses. Backward
// is two products per layout, as autograd's formula for a convolution.
//
// Depthwise convolutions
// ----------------------
// See "depthwise convolutions" below: an own weight gradient on channels-last tensors, and the
// input gradient of a dilated stride-1 convolution as a forward convolution.
//
// Only CPU float32 tensors, no bias, autocast off; everything else goes to at::conv2d. When a
// graph is built through a backward (create_graph), that backward is made of differentiable ops.
#include "common.h"

#include <dlfcn.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

namespace dnas {
namespace {

using T = at::Tensor;

// oneDNN's C API (dnnl.h, stable since 1.0): row-major C = alpha * op(A) * op(B) + beta * C.
using SgemmFn = int (*)(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                        const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

SgemmFn FindSgemm() {
  // The library is already loaded (libtorch_cpu needs it); RTLD_NOLOAD only finds that copy.
  for (const char* name : {"libdnnl.so.2", "libdnnl.so.3", "libdnnl.so"}) {
    if (void* lib = dlopen(name, RTLD_LAZY | RTLD_NOLOAD)) {
      if (void* f = dlsym(lib, "dnnl_sgemm")) return reinterpret_cast<SgemmFn>(f);
    }
  }
  return nullptr;
}

const SgemmFn kSgemm = FindSgemm();

bool InitiallyOn() {
  const char* env = std::getenv("DNAS_FAST_KERNELS");
  return !(env && std::strcmp(env, "0") == 0);
}

std::atomic<bool> g_enabled{InitiallyOn()};
// Calls served by each kernel (fastKernels() reports them; tests check which path ran).
std::atomic<int64_t> g_pointwiseCalls{0}, g_depthwiseCalls{0};

void Gemm(char ta, char tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
          float* C, int64_t ldc) {
  int status = kSgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
  TORCH_CHECK(status == 0, "dnnl_sgemm failed with status ", status, " (set DNAS_FAST_KERNELS=0 to use libtorch's convolution)");
}

bool ChannelsLast(const T& x) { return x.suggest_memory_format() == at::MemoryFormat::ChannelsLast; }
// libtorch's rule for a convolution's layout: channels-last when the input or the weight is.
bool ChannelsLast(const T& x, const T& w) { return ChannelsLast(x) || ChannelsLast(w); }
bool Ones(const std::vector<int64_t>& v) { return v.size() == 2 && v[0] == 1 && v[1] == 1; }
bool Zeros(const std::vector<int64_t>& v) { return v.size() == 2 && v[0] == 0 && v[1] == 0; }
// Odd kernel, padding = dilation * (kernel - 1) / 2: a stride-1 output the input's size.
bool SamePadding(const T& w, const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation) {
  return w.size(2) % 2 == 1 && w.size(3) % 2 == 1 && padding[0] == dilation[0] * (w.size(2) - 1) / 2 &&
         padding[1] == dilation[1] * (w.size(3) - 1) / 2;
}

// The input as the products read it: dense in the layout of the convolution.
T PointwiseInput(const T& x, const T& w) {
  return ChannelsLast(x, w) ? x.contiguous(at::MemoryFormat::ChannelsLast) : x.contiguous();
}

// y = conv2d(x, w) for a [Co, C, 1, 1] weight, stride 1, no padding, one group; x as PointwiseInput
// gives it (its layout is the convolution's).
T PointwiseForward(const T& xc, const T& w) {
  const int64_t N = xc.size(0), C = xc.size(1), H = xc.size(2), W = xc.size(3), Co = w.size(0);
  const T wm = w.reshape({Co, C}).contiguous();
  if (ChannelsLast(xc, w)) {
    T y = at::empty({N, Co, H, W}, xc.options().memory_format(at::MemoryFormat::ChannelsLast));
    Gemm('N', 'T', N * H * W, Co, C, xc.data_ptr<float>(), C, wm.data_ptr<float>(), C, 0.0f, y.data_ptr<float>(), Co);
    return y;
  }
  T y = at::empty({N, Co, H, W}, xc.options());
  const int64_t P = H * W;
  for (int64_t n = 0; n < N; ++n) {
    Gemm('N', 'N', Co, P, C, wm.data_ptr<float>(), C, xc.data_ptr<float>() + n * C * P, P, 0.0f, y.data_ptr<float>() + n * Co * P, P);
  }
  return y;
}

// Gradients of PointwiseForward (xc as it was given) for gradient g of y: {dx (if wanted), dw (if wanted)}.
std::pair<T, T> PointwiseBackward(const T& xc, const T& w, const T& g, bool wantX, bool wantW) {
  const int64_t N = xc.size(0), C = xc.size(1), H = xc.size(2), W = xc.size(3), Co = w.size(0);
  const T wm = w.reshape({Co, C}).contiguous();
  T dx, dw;
  if (wantW) dw = at::empty({Co, C, 1, 1}, w.options().memory_format(at::MemoryFormat::Contiguous));
  if (ChannelsLast(xc, w)) {
    const auto cl = at::MemoryFormat::ChannelsLast;
    const T gc = g.contiguous(cl);
    const int64_t P = N * H * W;
    if (wantX) {
      dx = at::empty({N, C, H, W}, xc.options().memory_format(cl));
      Gemm('N', 'N', P, C, Co, gc.data_ptr<float>(), Co, wm.data_ptr<float>(), C, 0.0f, dx.data_ptr<float>(), C);
    }
    if (wantW) Gemm('T', 'N', Co, C, P, gc.data_ptr<float>(), Co, xc.data_ptr<float>(), C, 0.0f, dw.data_ptr<float>(), C);
  } else {
    const T gc = g.contiguous();
    const int64_t P = H * W;
    if (wantX) dx = at::empty({N, C, H, W}, xc.options());
    for (int64_t n = 0; n < N; ++n) {
      const float* gn = gc.data_ptr<float>() + n * Co * P;
      if (wantX) Gemm('T', 'N', C, P, Co, wm.data_ptr<float>(), C, gn, P, 0.0f, dx.data_ptr<float>() + n * C * P, P);
      if (wantW) Gemm('N', 'T', Co, C, P, gn, P, xc.data_ptr<float>() + n * C * P, P, n == 0 ? 0.0f : 1.0f, dw.data_ptr<float>(), C);
    }
  }
  if (wantW && w.suggest_memory_format() == at::MemoryFormat::ChannelsLast) dw = dw.contiguous(at::MemoryFormat::ChannelsLast);
  return {dx, dw};
}

struct Pointwise : public torch::autograd::Function<Pointwise> {
  static T forward(torch::autograd::AutogradContext* ctx, const T& x, const T& w) {
    // The input as the products read it is saved too (backward does not convert it again); the input
    // itself for a graph through the backward.
    const T xc = PointwiseInput(x, w);
    ctx->save_for_backward({x, w, xc});
    return PointwiseForward(xc, w);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const T &x = saved[0], &w = saved[1], &g = grads[0];
    const bool wantX = ctx->needs_input_grad(0), wantW = ctx->needs_input_grad(1);
    if (at::GradMode::is_enabled()) {
      // A graph through the backward (create_graph): the same gradients from differentiable ops.
      T dx = wantX ? at::conv2d(g, w.transpose(0, 1)) : T();
      T dw = wantW ? at::einsum("nohw,nchw->oc", {g, x}).view_as(w) : T();
      return {dx, dw};
    }
    auto [dx, dw] = PointwiseBackward(saved[2], w, g, wantX, wantW);
    return {dx, dw};
  }
};

// ---- depthwise convolutions -------------------------------------------------------------------
// Two parts of libtorch's (oneDNN's) depthwise backward are slow on this machine: the weight
// gradient of kernels larger than 3x3 (10x the time of a 3x3 one for 2.8x the work) and the input
// gradient of dilated kernels (4-6x the forward). So:
// * the input gradient of a stride-1 "same" convolution is a forward convolution: the output
//   gradient convolved with the flipped kernel, same padding and dilation (used when dilated;
//   libtorch's own is as fast otherwise);
// * the weight gradient on channels-last tensors is the loop below: per kernel tap, the sum over
//   pixels of input times output gradient, channels innermost (contiguous in NHWC), so the
//   compiler turns it into vector multiply-adds. On x86 it is compiled twice, for AVX2+FMA and for
//   the baseline, and the first is chosen when the CPU has it.
// Whether the weight gradient is the loop below rather than libtorch's: it needs channels-last
// tensors, and oneDNN's own is as fast for an undilated kernel up to 3x3 (measured:
// docs/benchmarks.md, "Fast kernels and channels-last").
bool OwnWeightGrad(const T& x, const T& w, const std::vector<int64_t>& dilation) {
  return ChannelsLast(x) && (w.size(2) > 3 || w.size(3) > 3 || dilation[0] > 1 || dilation[1] > 1);
}

// Whether the input gradient is the flipped-kernel forward convolution: a dilated stride-1 "same"
// convolution (undilated ones, libtorch's own is as fast).
bool FlippedInputGrad(const T& w, const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                      const std::vector<int64_t>& dilation) {
  return (dilation[0] > 1 || dilation[1] > 1) && Ones(stride) && SamePadding(w, padding, dilation);
}

struct DepthwiseGeometry {
  int64_t N, C, H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW;
};

// Eight floats as one value: GCC turns its arithmetic into one AVX instruction (or two SSE ones);
// aligned(4) lets it load from any float address.
typedef float F8 __attribute__((vector_size(32), aligned(4)));

// dw[c, i, j] (as [KH * KW][C], tap-major) += sum over n, oh, ow of x[n, ih, iw, c] * g[n, oh, ow, c]
// for channels [c0, c1), where ih = oh * SH - PH + i * DH and iw = ow * SW - PW + j * DW.
__attribute__((always_inline)) inline void DepthwiseWeightGradBody(const DepthwiseGeometry& q, const float* __restrict x,
                                                                   const float* __restrict g, float* __restrict acc, int64_t c0, int64_t c1) {
  const int64_t C = q.C;
  for (int64_t n = 0; n < q.N; ++n) {
    for (int64_t oh = 0; oh < q.OH; ++oh) {
      const float* grow = g + (n * q.OH + oh) * q.OW * C;
      for (int64_t i = 0; i < q.KH; ++i) {
        const int64_t ih = oh * q.SH - q.PH + i * q.DH;
        if (ih < 0 || ih >= q.H) continue;
        const float* xrow = x + (n * q.H + ih) * q.W * C;
        for (int64_t j = 0; j < q.KW; ++j) {
          // Output columns whose input column iw = ow * SW - PW + j * DW lies inside [0, W).
          const int64_t off = j * q.DW - q.PW;
          const int64_t ow0 = off >= 0 ? 0 : (-off + q.SW - 1) / q.SW;
          const int64_t ow1 = q.W - 1 - off < 0 ? 0 : std::min(q.OW, (q.W - 1 - off) / q.SW + 1);
          if (ow0 >= ow1) continue;
          float* a = acc + (i * q.KW + j) * C;
          const int64_t xstep = q.SW * C;
          int64_t c = c0;
          for (; c + 8 <= c1; c += 8) {  // eight channels in one register through the row
            // The row's sum first, then added to the total: rounding errors grow with the row
            // length plus the number of rows, not with their product.
            F8 sum = {0, 0, 0, 0, 0, 0, 0, 0};
            const float* xp = xrow + (ow0 * q.SW + off) * C + c;
            const float* gp = grow + ow0 * C + c;
            for (int64_t ow = ow0; ow < ow1; ++ow, xp += xstep, gp += C) {
              sum += *reinterpret_cast<const F8*>(xp) * *reinterpret_cast<const F8*>(gp);
            }
            *reinterpret_cast<F8*>(a + c) += sum;
          }
          for (; c < c1; ++c) {  // the channels after the last multiple of eight
            float sum = 0;
            for (int64_t ow = ow0; ow < ow1; ++ow) sum += xrow[(ow * q.SW + off) * C + c] * grow[ow * C + c];
            a[c] += sum;
          }
        }
      }
    }
  }
}

void DepthwiseWeightGradBase(const DepthwiseGeometry& q, const float* x, const float* g, float* acc, int64_t c0, int64_t c1) {
  DepthwiseWeightGradBody(q, x, g, acc, c0, c1);
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) void DepthwiseWeightGradAvx2(const DepthwiseGeometry& q, const float* x, const float* g, float* acc,
                                                                   int64_t c0, int64_t c1) {
  DepthwiseWeightGradBody(q, x, g, acc, c0, c1);
}
// Static initialisers may run before libgcc's CPU detection: __builtin_cpu_init first.
// DNAS_FAST_KERNELS_ISA=baseline takes the baseline build on any CPU (the tests check it so).
const bool kAvx2 = [] {
  __builtin_cpu_init();
  const char* isa = std::getenv("DNAS_FAST_KERNELS_ISA");
  if (isa && std::strcmp(isa, "baseline") == 0) return false;
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}();
void DepthwiseWeightGrad8(const DepthwiseGeometry& q, const float* x, const float* g, float* acc, int64_t c0, int64_t c1) {
  if (kAvx2) DepthwiseWeightGradAvx2(q, x, g, acc, c0, c1);
  else DepthwiseWeightGradBase(q, x, g, acc, c0, c1);
}
#else
void DepthwiseWeightGrad8(const DepthwiseGeometry& q, const float* x, const float* g, float* acc, int64_t c0, int64_t c1) {
  DepthwiseWeightGradBase(q, x, g, acc, c0, c1);
}
#endif

// Weight gradient [C, 1, KH, KW] of a depthwise convolution of channels-last x with output
// gradient g (both made NHWC-dense here). Channels are split between libtorch's threads.
T DepthwiseWeightGrad(const T& x, const T& g, const T& w, const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                      const std::vector<int64_t>& dilation) {
  const auto cl = at::MemoryFormat::ChannelsLast;
  const T xc = x.contiguous(cl), gc = g.contiguous(cl);
  DepthwiseGeometry q{x.size(0), x.size(1), x.size(2),  x.size(3),  g.size(2),  g.size(3),   w.size(2),
                      w.size(3), stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1]};
  T acc = at::zeros({q.KH * q.KW, q.C}, w.options().memory_format(at::MemoryFormat::Contiguous));
  const float* xp = xc.data_ptr<float>();
  const float* gp = gc.data_ptr<float>();
  float* ap = acc.data_ptr<float>();
  // Blocks of 16 channels (two AVX2 vectors) per task: threads never write the same channel. With
  // fewer blocks than threads (16 channels or fewer), the samples are split instead, each part
  // summed into an accumulator of its own, and the parts added at the end.
  const int64_t blocks = (q.C + 15) / 16;
  const int64_t threads = at::get_num_threads();
  if (blocks >= threads || q.N < 2) {
    at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
      const int64_t c0 = b0 * 16, c1 = std::min(q.C, b1 * 16);
      DepthwiseWeightGrad8(q, xp, gp, ap, c0, c1);
    });
  } else {
    const int64_t parts = std::min(threads, q.N);
    T partial = at::zeros({parts, q.KH * q.KW, q.C}, acc.options());
    float* pp = partial.data_ptr<float>();
    at::parallel_for(0, parts, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t n0 = q.N * p / parts, n1 = q.N * (p + 1) / parts;
        DepthwiseGeometry part = q;
        part.N = n1 - n0;
        DepthwiseWeightGrad8(part, xp + n0 * q.H * q.W * q.C, gp + n0 * q.OH * q.OW * q.C, pp + p * q.KH * q.KW * q.C, 0, q.C);
      }
    });
    acc = partial.sum(0);
  }
  T dw = acc.t().reshape({q.C, 1, q.KH, q.KW});
  return dw.contiguous(w.suggest_memory_format());
}

// A depthwise convolution (groups == channels in == channels out) with the faster backward parts
// above; the forward is libtorch's.
struct Depthwise : public torch::autograd::Function<Depthwise> {
  static T forward(torch::autograd::AutogradContext* ctx, const T& x, const T& w, std::vector<int64_t> stride, std::vector<int64_t> padding,
                   std::vector<int64_t> dilation) {
    ctx->save_for_backward({x, w});
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["dilation"] = dilation;
    return at::conv2d(x, w, {}, stride, padding, dilation, x.size(1));
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const T &x = saved[0], &w = saved[1], &g = grads[0];
    const std::vector<int64_t> stride = ctx->saved_data["stride"].toIntVector();
    const std::vector<int64_t> padding = ctx->saved_data["padding"].toIntVector();
    const std::vector<int64_t> dilation = ctx->saved_data["dilation"].toIntVector();
    const bool wantX = ctx->needs_input_grad(0), wantW = ctx->needs_input_grad(1);
    const int64_t groups = x.size(1);
    const T none;
    if (at::GradMode::is_enabled()) {  // create_graph: libtorch's own (differentiable) backward
      auto r = at::convolution_backward(g, x, w, c10::nullopt, stride, padding, dilation, false, {0, 0}, groups, {wantX, wantW, false});
      return {std::get<0>(r), std::get<1>(r), none, none, none};
    }
    const bool flip = FlippedInputGrad(w, stride, padding, dilation);
    const bool ownWeightGrad = OwnWeightGrad(x, w, dilation);
    T dx, dw;
    if (wantX && flip) dx = at::conv2d(g, w.flip({2, 3}), {}, {1, 1}, padding, dilation, groups);
    if (wantW && ownWeightGrad) dw = DepthwiseWeightGrad(x, g, w, stride, padding, dilation);
    const bool libX = wantX && !flip, libW = wantW && !ownWeightGrad;
    if (libX || libW) {
      auto r = at::convolution_backward(g, x, w, c10::nullopt, stride, padding, dilation, false, {0, 0}, groups, {libX, libW, false});
      if (libX) dx = std::get<0>(r);
      if (libW) dw = std::get<1>(r);
    }
    return {dx, dw, none, none, none};
  }
};

// fastKernels(): whether the fast kernels are on, whether oneDNN's sgemm was found (without it, 1x1
// convolutions are libtorch's own), and how many convolutions each kernel has run.
Napi::Value FastKernels(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("sgemm", Napi::Boolean::New(info.Env(), kSgemm != nullptr));
  o.Set("enabled", Napi::Boolean::New(info.Env(), g_enabled.load()));
  Napi::Object calls = Napi::Object::New(info.Env());
  calls.Set("pointwise", Napi::Number::New(info.Env(), static_cast<double>(g_pointwiseCalls.load())));
  calls.Set("depthwise", Napi::Number::New(info.Env(), static_cast<double>(g_depthwiseCalls.load())));
  o.Set("calls", calls);
#if defined(__x86_64__) || defined(__i386__)
  o.Set("isa", Napi::String::New(info.Env(), kAvx2 ? "avx2" : "baseline"));
#else
  o.Set("isa", Napi::String::New(info.Env(), "baseline"));
#endif
  return o;
}

// setFastKernels(on): turns them on or off; returns the previous setting.
Napi::Value SetFastKernels(const Napi::CallbackInfo& info) {
  bool on = BoolArg(info, 0, "setFastKernels on");
  return Napi::Boolean::New(info.Env(), g_enabled.exchange(on));
}

}  // namespace

std::optional<at::Tensor> FastConv2d(const T& x, const T& w, const c10::optional<T>& b, const std::vector<int64_t>& stride,
                                     const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation, int64_t groups) {
  if (!g_enabled.load(std::memory_order_relaxed)) return std::nullopt;
  if (AutocastEnabled(at::kCPU) || !x.device().is_cpu() || !w.device().is_cpu()) return std::nullopt;  // libtorch's error for mixed devices
  if (x.scalar_type() != at::kFloat || w.scalar_type() != at::kFloat) return std::nullopt;
  if (x.dim() != 4 || w.dim() != 4 || x.numel() == 0 || w.numel() == 0 || x.layout() != at::kStrided || w.layout() != at::kStrided) return std::nullopt;
  if (b && b->defined()) return std::nullopt;
  if (stride.size() != 2 || padding.size() != 2 || dilation.size() != 2) return std::nullopt;
  const bool pointwise = groups == 1 && Ones(stride) && Zeros(padding) && w.size(2) == 1 && w.size(3) == 1 && x.size(1) == w.size(1);
  if (pointwise && kSgemm != nullptr) {
    g_pointwiseCalls.fetch_add(1, std::memory_order_relaxed);
    return Pointwise::apply(x, w);
  }
  const int64_t C = x.size(1);
  const bool depthwise = groups == C && C > 1 && w.size(0) == C && w.size(1) == 1;
  // Only where a backward part is faster, and only in a pass that builds a graph (its parts are
  // backward parts: evaluation and no_grad passes stay libtorch's).
  const bool backward = at::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad());
  if (depthwise && backward && (OwnWeightGrad(x, w, dilation) || FlippedInputGrad(w, stride, padding, dilation))) {
    g_depthwiseCalls.fetch_add(1, std::memory_order_relaxed);
    return Depthwise::apply(x, w, stride, padding, dilation);
  }
  return std::nullopt;
}

void RegisterFastKernels(Napi::Env env, Napi::Object exports) {
  #include "gen/fast_kernels.exports.inc"  // the Export calls of native/boundary.def
}

}  // namespace dnas
