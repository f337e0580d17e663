// Autograd entry points and the multi-tensor optimizer steps.
//
// The optimizers take the whole parameter list in one call: a per-parameter step from JS would
// cross the boundary once per tensor, which dominates for supernets with thousands of small
// weights. The state (momentum buffers, Adam moments) is made of ordinary tensors owned by the
// TypeScript optimizer, so saving and restoring it is just saving tensors.
#include "common.h"

#include <torch/csrc/autograd/autograd.h>
#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <cmath>

namespace dnas {
namespace {

using T = at::Tensor;

Napi::Value WrapOrNull(Napi::Env env, const T& t) {
  return t.defined() ? Wrap(env, t) : env.Null();
}

Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  TensorArg(info, 0, "requiresGrad_").set_requires_grad(BoolArg(info, 1, "requiresGrad_ value"));
  return info.Env().Undefined();
}

Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), TensorArg(info, 0, "requiresGrad").requires_grad());
}

Napi::Value Grad(const Napi::CallbackInfo& info) {
  return WrapOrNull(info.Env(), TensorArg(info, 0, "grad").grad());
}

Napi::Value HasGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), TensorArg(info, 0, "hasGrad").grad().defined());
}

// setGrad(t, g | null)
Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  T& t = TensorArg(info, 0, "setGrad");
  auto g = OptTensorArg(info, 1, "setGrad value");
  t.mutable_grad() = g ? *g : T();
  return info.Env().Undefined();
}

// zeroGrad(params[], setToNone)
Napi::Value ZeroGrad(const Napi::CallbackInfo& info) {
  bool toNone = BoolArg(info, 1, "zeroGrad setToNone");
  for (T& p : TensorListArg(info, 0, "zeroGrad")) {
    T& g = p.mutable_grad();
    if (!g.defined()) continue;
    if (toNone) {
      g = T();
    } else {
      g = g.detach();
      g.zero_();
    }
  }
  return info.Env().Undefined();
}

// backward(t, gradient | null, retainGraph, createGraph)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  T& t = TensorArg(info, 0, "backward");
  auto g = OptTensorArg(info, 1, "backward gradient");
  if (!g && t.numel() != 1) {
    throw Napi::Error::New(info.Env(), "backward: a gradient is needed for a tensor of " + std::to_string(t.numel()) +
                                           " elements (only a one-element loss can backward without one)");
  }
  t.backward(g ? *g : T(), BoolArg(info, 2, "backward retainGraph"), BoolArg(info, 3, "backward createGraph"));
  return info.Env().Undefined();
}

// grad(outputs[], inputs[], gradOutputs[] | null, retainGraph, createGraph, allowUnused) -> (Tensor|null)[]
Napi::Value AutogradGrad(const Napi::CallbackInfo& info) {
  std::vector<T> outputs = TensorListArg(info, 0, "autograd.grad outputs");
  std::vector<T> inputs = TensorListArg(info, 1, "autograd.grad inputs");
  std::vector<T> gradOutputs;
  if (!info[2].IsNull() && !info[2].IsUndefined()) gradOutputs = TensorListArg(info, 2, "autograd.grad gradOutputs");
  bool retain = BoolArg(info, 3, "autograd.grad retainGraph");
  auto grads = torch::autograd::grad(outputs, inputs, gradOutputs, retain, BoolArg(info, 4, "autograd.grad createGraph"),
                                     BoolArg(info, 5, "autograd.grad allowUnused"));
  Napi::Array a = Napi::Array::New(info.Env(), grads.size());
  for (size_t k = 0; k < grads.size(); ++k) a.Set(static_cast<uint32_t>(k), WrapOrNull(info.Env(), grads[k]));
  return a;
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  at::GradMode::set_enabled(BoolArg(info, 0, "setGradEnabled"));
  return info.Env().Undefined();
}

// ---- autocast (mixed precision) -----------------------------------------------------------
// libtorch 2.4 replaced the per-device functions (set_cpu_enabled, set_enabled, ...) by ones that
// take the device type; both forms are wrapped here (AutocastEnabled, shared, is at the end).
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
void SetAutocastEnabled(at::DeviceType d, bool on) { at::autocast::set_autocast_enabled(d, on); }
at::ScalarType AutocastDtype(at::DeviceType d) { return at::autocast::get_autocast_dtype(d); }
void SetAutocastDtype(at::DeviceType d, at::ScalarType t) { at::autocast::set_autocast_dtype(d, t); }
#else
void SetAutocastEnabled(at::DeviceType d, bool on) {
  if (d == at::kCPU) at::autocast::set_cpu_enabled(on);
  else at::autocast::set_enabled(on);
}
at::ScalarType AutocastDtype(at::DeviceType d) {
  return d == at::kCPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
}
void SetAutocastDtype(at::DeviceType d, at::ScalarType t) {
  if (d == at::kCPU) at::autocast::set_autocast_cpu_dtype(t);
  else at::autocast::set_autocast_gpu_dtype(t);
}
#endif

at::DeviceType AutocastDevice(const Napi::CallbackInfo& info, size_t i) {
  std::string d = StringArg(info, i, "autocast device type");
  if (d == "cpu") return at::kCPU;
  if (d == "cuda") return at::kCUDA;
  throw Napi::TypeError::New(info.Env(), "autocast: device type must be 'cpu' or 'cuda', got '" + d + "'");
}

// autocastState(device): [enabled, dtype code] of autocast on that device type.
Napi::Value AutocastState(const Napi::CallbackInfo& info) {
  at::DeviceType d = AutocastDevice(info, 0);
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Boolean::New(info.Env(), AutocastEnabled(d)));
  out.Set(1u, Napi::Number::New(info.Env(), DtypeCode(AutocastDtype(d))));
  return out;
}

// autocastEnter(device, enabled, dtype): as torch.autocast.__enter__ (sets both, counts the nesting).
Napi::Value AutocastEnter(const Napi::CallbackInfo& info) {
  at::DeviceType d = AutocastDevice(info, 0);
  bool on = BoolArg(info, 1, "autocast enabled");
  at::ScalarType t = DtypeArg(info, 2);
  if (t != at::kBFloat16 && t != at::kHalf) throw Napi::TypeError::New(info.Env(), "autocast: dtype must be bfloat16 or float16");
  SetAutocastEnabled(d, on);
  SetAutocastDtype(d, t);
  at::autocast::increment_nesting();
  return info.Env().Undefined();
}

// autocastExit(device, enabled, dtype): restores the state autocastEnter found; the outermost exit
// clears the cache of casted weights, as torch.autocast.__exit__.
Napi::Value AutocastExit(const Napi::CallbackInfo& info) {
  // The nesting count first: an argument error below must not leave it counted up.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::DeviceType d = AutocastDevice(info, 0);
  bool on = BoolArg(info, 1, "autocast enabled");
  at::ScalarType t = DtypeArg(info, 2);
  SetAutocastEnabled(d, on);
  SetAutocastDtype(d, t);
  return info.Env().Undefined();
}

// addScaled_(dst, src, alpha): dst += alpha * src, in place, without autograd history.
Napi::Value AddScaledInplace(const Napi::CallbackInfo& info) {
  at::NoGradGuard g;
  TensorArg(info, 0, "addScaled_").add_(TensorArg(info, 1, "addScaled_ source"), DoubleArg(info, 2, "addScaled_ alpha"));
  return info.Env().Undefined();
}

Napi::Value MulScalarInplace(const Napi::CallbackInfo& info) {
  at::NoGradGuard g;
  TensorArg(info, 0, "mul_").mul_(DoubleArg(info, 1, "mul_ value"));
  return info.Env().Undefined();
}

// torch.nn.utils.clip_grad_norm_ of PyTorch 1.13 (L2): the norm of the gradients' norms, and every
// gradient multiplied in place by min(1, maxNorm / (norm + 1e-6)), computed as tensors in the
// gradients' dtype, as PyTorch does. Returns the norm before clipping (0 without gradients).
double ClipGradients(const std::vector<T>& params, double maxNorm) {
  std::vector<T> norms;
  for (const T& p : params) {
    if (p.grad().defined()) norms.push_back(at::linalg_vector_norm(p.grad(), 2));
  }
  if (norms.empty()) return 0;
  T total = at::linalg_vector_norm(at::stack(norms), 2);
  T coef = (maxNorm / (total + 1e-6)).clamp_max(1.0);
  for (const T& p : params) {
    if (p.grad().defined()) p.grad().mul_(coef);
  }
  return total.item<double>();
}

// clipGradNorm(params[], maxNorm) -> total L2 norm of the gradients before clipping.
Napi::Value ClipGradNorm(const Napi::CallbackInfo& info) {
  at::NoGradGuard g;
  std::vector<T> params = TensorListArg(info, 0, "clipGradNorm");
  double maxNorm = DoubleArg(info, 1, "clipGradNorm maxNorm");
  return Napi::Number::New(info.Env(), ClipGradients(params, maxNorm));
}

// The optional last argument of sgdStep/adamStep: clip the gradients to this L2 norm first (in the
// same call); absent, null or 0: no clipping. Returns the norm before clipping, or NaN.
double ClipArg(const Napi::CallbackInfo& info, size_t i, const std::vector<T>& params, const char* what) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return std::nan("");
  double maxNorm = DoubleArg(info, i, what);
  if (!(maxNorm >= 0)) throw Napi::RangeError::New(info.Env(), std::string(what) + " must be >= 0");
  return maxNorm > 0 ? ClipGradients(params, maxNorm) : std::nan("");
}

// Reads an array of buffer handles where 0 means "not created yet".
std::vector<T> BufferList(const Napi::CallbackInfo& info, size_t i, size_t n, const char* what) {
  std::vector<int64_t> ids = IntListArg(info, i, what);
  if (ids.size() != n) throw Napi::RangeError::New(info.Env(), std::string(what) + ": one buffer per parameter expected");
  std::vector<T> out(n);
  for (size_t k = 0; k < n; ++k) {
    if (ids[k] != 0) out[k] = Get(info.Env(), ids[k], what);
  }
  return out;
}

// sgdStep(params[], buffers[] (0 = none yet), lr, momentum, dampening, weightDecay, nesterov, maximize, maxNorm?)
// -> { buffers: handles (new ones where created), norm }. The same update as torch.optim.SGD (1.13),
// after clip_grad_norm_ when maxNorm is given (norm: the norm before clipping, else NaN).
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::NoGradGuard guard;
  std::vector<T> params = TensorListArg(info, 0, "SGD params");
  std::vector<int64_t> ids = IntListArg(info, 1, "SGD buffers");
  std::vector<T> bufs = BufferList(info, 1, params.size(), "SGD buffers");
  double lr = DoubleArg(info, 2, "SGD lr"), momentum = DoubleArg(info, 3, "SGD momentum");
  double dampening = DoubleArg(info, 4, "SGD dampening"), wd = DoubleArg(info, 5, "SGD weightDecay");
  bool nesterov = BoolArg(info, 6, "SGD nesterov"), maximize = BoolArg(info, 7, "SGD maximize");
  double norm = ClipArg(info, 8, params, "SGD maxGradNorm");
  Napi::Array out = Napi::Array::New(env, params.size());
  for (size_t k = 0; k < params.size(); ++k) {
    T& p = params[k];
    out.Set(static_cast<uint32_t>(k), static_cast<double>(ids[k]));
    if (!p.grad().defined()) continue;
    T d = maximize ? p.grad().neg() : p.grad();
    if (wd != 0) d = d.add(p, wd);
    if (momentum != 0) {
      if (!bufs[k].defined()) {
        bufs[k] = d.clone().detach();
        out.Set(static_cast<uint32_t>(k), static_cast<double>(Track(env, bufs[k])));
      } else {
        bufs[k].mul_(momentum).add_(d, 1 - dampening);
      }
      d = nesterov ? d.add(bufs[k], momentum) : bufs[k];
    }
    p.add_(d, -lr);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("buffers", out);
  result.Set("norm", Napi::Number::New(env, norm));
  return result;
}

// adamStep(params[], expAvg[], expAvgSq[], steps: Float64Array, lr, beta1, beta2, eps, weightDecay, decoupled, maxNorm?)
// -> [expAvg handles, expAvgSq handles, norm] (norm as for sgdStep). steps[k] is incremented in place for each parameter
// updated. decoupled=false is torch.optim.Adam (L2 added to the gradient), true is AdamW.
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::NoGradGuard guard;
  std::vector<T> params = TensorListArg(info, 0, "Adam params");
  size_t n = params.size();
  std::vector<int64_t> idA = IntListArg(info, 1, "Adam expAvg"), idB = IntListArg(info, 2, "Adam expAvgSq");
  std::vector<T> m = BufferList(info, 1, n, "Adam expAvg"), v = BufferList(info, 2, n, "Adam expAvgSq");
  if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[3].As<Napi::TypedArray>().ElementLength() != n) {
    throw Napi::TypeError::New(env, "Adam steps must be a Float64Array with one entry per parameter");
  }
  Napi::Float64Array steps = info[3].As<Napi::Float64Array>();
  double lr = DoubleArg(info, 4, "Adam lr"), b1 = DoubleArg(info, 5, "Adam beta1"), b2 = DoubleArg(info, 6, "Adam beta2");
  double eps = DoubleArg(info, 7, "Adam eps"), wd = DoubleArg(info, 8, "Adam weightDecay");
  bool decoupled = BoolArg(info, 9, "Adam decoupled");
  double norm = ClipArg(info, 10, params, "Adam maxGradNorm");
  Napi::Array outA = Napi::Array::New(env, n), outB = Napi::Array::New(env, n);
  for (size_t k = 0; k < n; ++k) {
    T& p = params[k];
    if (p.grad().defined()) {
      if (!m[k].defined()) {
        m[k] = at::zeros_like(p, at::MemoryFormat::Preserve);
        idA[k] = Track(env, m[k]);
      }
      if (!v[k].defined()) {
        v[k] = at::zeros_like(p, at::MemoryFormat::Preserve);
        idB[k] = Track(env, v[k]);
      }
      double step = steps[k] + 1;
      steps[k] = step;
      T g = p.grad();
      if (wd != 0) {
        if (decoupled) p.mul_(1 - lr * wd);
        else g = g.add(p, wd);
      }
      m[k].mul_(b1).add_(g, 1 - b1);
      v[k].mul_(b2).addcmul_(g, g, 1 - b2);
      double bc1 = 1 - std::pow(b1, step), bc2 = 1 - std::pow(b2, step);
      T denom = (v[k].sqrt() / std::sqrt(bc2)).add_(eps);
      p.addcdiv_(m[k], denom, -lr / bc1);
    }
    outA.Set(static_cast<uint32_t>(k), static_cast<double>(idA[k]));
    outB.Set(static_cast<uint32_t>(k), static_cast<double>(idB[k]));
  }
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, outA);
  out.Set(1u, outB);
  out.Set(2u, Napi::Number::New(env, norm));
  return out;
}

}  // namespace

void RegisterAutogradOptim(Napi::Env env, Napi::Object exports) {
  #include "gen/autograd_optim.exports.inc"  // the Export calls of native/boundary.def
}

bool AutocastEnabled(at::DeviceType d) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  return at::autocast::is_autocast_enabled(d);
#else
  return d == at::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

}  // namespace dnas
