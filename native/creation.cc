// Making tensors, reading them back, metadata, random numbers and in-place initialisation.
#include "common.h"

#include <cstdlib>

#include <cstring>

namespace dnas {
namespace {

// fromArray(data: TypedArray, shape: number[], dtype: code, device: string)
// The JS buffer is copied (from_blob(...).clone()): V8 may move or free it after we return.
Napi::Value FromArray(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "fromArray: data must be a typed array");
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  at::ScalarType src;
  switch (ta.TypedArrayType()) {
    case napi_float32_array: src = at::kFloat; break;
    case napi_float64_array: src = at::kDouble; break;
    case napi_int32_array: src = at::kInt; break;
    case napi_bigint64_array: src = at::kLong; break;
    case napi_uint8_array: src = at::kByte; break;
    default: throw Napi::TypeError::New(info.Env(), "fromArray: unsupported typed array type");
  }
  std::vector<int64_t> shape = IntListArg(info, 1, "fromArray shape");
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  if (numel != static_cast<int64_t>(ta.ElementLength())) {
    throw Napi::RangeError::New(info.Env(), "fromArray: shape holds " + std::to_string(numel) +
                                                " elements but the data has " + std::to_string(ta.ElementLength()));
  }
  uint8_t* base = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  at::TensorOptions opts = OptionsArg(info, 2, 3);
  at::Tensor blob = at::from_blob(base, shape, at::TensorOptions().dtype(src));
  if (opts.device().is_cuda()) {
    // For a GPU, the copy goes through page-locked (pinned) host memory and on to the device
    // without blocking (PyTorch's pin_memory + non_blocking=True): the caching host allocator keeps
    // the staging buffer until the copy has run. DNAS_PIN_MEMORY=0 copies the plain way.
    static const bool pin = [] {
      const char* v = std::getenv("DNAS_PIN_MEMORY");
      return !(v && std::string(v) == "0");
    }();
    if (pin) {
      at::Tensor staged = at::empty(shape, at::TensorOptions().dtype(src).pinned_memory(true));
      staged.copy_(blob);
      return Wrap(info.Env(), staged.to(opts.device(), opts.dtype().toScalarType(), /*non_blocking=*/true));
    }
  }
  // One copy out of the JS buffer: a conversion (uint8 masks to int64, another device) is that
  // copy; otherwise a clone.
  bool same = src == opts.dtype().toScalarType() && opts.device() == blob.device();
  return Wrap(info.Env(), same ? blob.clone() : blob.to(opts.device(), opts.dtype().toScalarType()));
}

// data(t): a copy of the tensor's elements in a typed array of the matching element type
// (bfloat16 and float16 as float32: JavaScript has no typed array for them).
Napi::Value Data(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor t = TensorArg(info, 0, "data").detach().to(at::kCPU).contiguous();
  if (t.scalar_type() == at::kBFloat16 || t.scalar_type() == at::kHalf) t = t.to(at::kFloat);
  napi_typedarray_type type;
  switch (t.scalar_type()) {
    case at::kFloat: type = napi_float32_array; break;
    case at::kDouble: type = napi_float64_array; break;
    case at::kLong: type = napi_bigint64_array; break;
    case at::kInt: type = napi_int32_array; break;
    case at::kByte:
    case at::kBool: type = napi_uint8_array; break;
    default: throw Napi::TypeError::New(env, std::string("data: unsupported dtype ") + c10::toString(t.scalar_type()));
  }
  size_t bytes = t.numel() * t.element_size();
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, bytes);
  if (bytes > 0) std::memcpy(buf.Data(), t.data_ptr(), bytes);
  napi_value out;
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, type, static_cast<size_t>(t.numel()), buf, 0, &out), Napi::Value());
  return Napi::Value(env, out);
}

Napi::Value Item(const Napi::CallbackInfo& info) {
  at::Tensor& t = TensorArg(info, 0, "item");
  if (t.numel() != 1) {
    throw Napi::RangeError::New(info.Env(), "item: tensor has " + std::to_string(t.numel()) +
                                                " elements; only a one-element tensor converts to a number");
  }
  if (t.scalar_type() == at::kBool) return Napi::Boolean::New(info.Env(), t.item<bool>());
  return Napi::Number::New(info.Env(), t.item<double>());
}

// ---- metadata -------------------------------------------------------------------------------

Napi::Value Shape(const Napi::CallbackInfo& info) {
  at::Tensor& t = TensorArg(info, 0, "shape");
  Napi::Array a = Napi::Array::New(info.Env(), t.dim());
  for (int64_t k = 0; k < t.dim(); ++k) a.Set(static_cast<uint32_t>(k), static_cast<double>(t.size(k)));
  return a;
}

Napi::Value Dtype(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), DtypeCode(TensorArg(info, 0, "dtype").scalar_type()));
}

// Memory formats by name: 'contiguous' (NCHW) and 'channelsLast' (NHWC strides, 4-D only).
at::MemoryFormat MemoryFormatArg(const Napi::CallbackInfo& info, size_t i) {
  std::string f = StringArg(info, i, "memory format");
  if (f == "contiguous") return at::MemoryFormat::Contiguous;
  if (f == "channelsLast") return at::MemoryFormat::ChannelsLast;
  throw Napi::TypeError::New(info.Env(), "memory format must be 'contiguous' or 'channelsLast', got '" + f + "'");
}

// contiguousAs(h, format, exact): the tensor laid out densely in `format`, itself when it already
// is. With `exact`, a tensor whose strides fit both formats (one channel, or 1x1 pixels) is restrided
// to the format's own strides unless libtorch already reads it as that format, as
// `tensor.to(memory_format=...)` and `module.to(memory_format=...)` do; convolutions choose their
// output layout by what the strides suggest.
Napi::Value ContiguousAs(const Napi::CallbackInfo& info) {
  const at::Tensor& t = TensorArg(info, 0, "contiguous");
  at::MemoryFormat f = MemoryFormatArg(info, 1);
  bool exact = BoolArg(info, 2, "contiguous exact");
  if (f == at::MemoryFormat::ChannelsLast && t.dim() != 4) {
    throw Napi::RangeError::New(info.Env(), "contiguous('channelsLast'): needs a 4-D tensor, got " + std::to_string(t.dim()) + "-D");
  }
  if (exact && t.suggest_memory_format() != f) return Wrap(info.Env(), t.clone(f));
  return Wrap(info.Env(), t.contiguous(f));
}

// suggestedMemoryFormat(h): the layout libtorch's kernels read the tensor as ('channelsLast' when its
// strides are NHWC, else 'contiguous').
Napi::Value SuggestedMemoryFormat(const Napi::CallbackInfo& info) {
  const at::Tensor& t = TensorArg(info, 0, "suggestedMemoryFormat");
  bool cl = t.suggest_memory_format() == at::MemoryFormat::ChannelsLast;
  return Napi::String::New(info.Env(), cl ? "channelsLast" : "contiguous");
}

// isContiguousAs(h, format)
Napi::Value IsContiguousAs(const Napi::CallbackInfo& info) {
  const at::Tensor& t = TensorArg(info, 0, "isContiguous");
  at::MemoryFormat f = MemoryFormatArg(info, 1);
  return Napi::Boolean::New(info.Env(), (f != at::MemoryFormat::ChannelsLast || t.dim() == 4) && t.is_contiguous(f));
}

Napi::Value Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), TensorArg(info, 0, "device").device().str());
}

Napi::Value Numel(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(TensorArg(info, 0, "numel").numel()));
}

Napi::Value Dim(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(TensorArg(info, 0, "dim").dim()));
}

// sameStorage(a, b): whether two tensors share memory (used to check weight inheritance).
Napi::Value SameStorage(const Napi::CallbackInfo& info) {
  at::Tensor& a = TensorArg(info, 0, "sameStorage");
  at::Tensor& b = TensorArg(info, 1, "sameStorage");
  return Napi::Boolean::New(info.Env(), a.has_storage() && b.has_storage() && a.storage().is_alias_of(b.storage()));
}

// ---- creation -------------------------------------------------------------------------------

Napi::Value Zeros(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::zeros(IntListArg(info, 0, "zeros shape"), OptionsArg(info, 1, 2)));
}

Napi::Value Ones(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::ones(IntListArg(info, 0, "ones shape"), OptionsArg(info, 1, 2)));
}

Napi::Value Full(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::full(IntListArg(info, 0, "full shape"), DoubleArg(info, 1, "full value"), OptionsArg(info, 2, 3)));
}

Napi::Value Arange(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::arange(DoubleArg(info, 0, "arange start"), DoubleArg(info, 1, "arange end"),
                                     DoubleArg(info, 2, "arange step"), OptionsArg(info, 3, 4)));
}

Napi::Value Linspace(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::linspace(DoubleArg(info, 0, "linspace start"), DoubleArg(info, 1, "linspace end"),
                                       IntArg(info, 2, "linspace steps"), OptionsArg(info, 3, 4)));
}

Napi::Value Randn(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::randn(IntListArg(info, 0, "randn shape"), OptionsArg(info, 1, 2)));
}

Napi::Value Rand(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::rand(IntListArg(info, 0, "rand shape"), OptionsArg(info, 1, 2)));
}

// randint(low, high, shape, device): int64 values in [low, high).
Napi::Value Randint(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::randint(IntArg(info, 0, "randint low"), IntArg(info, 1, "randint high"),
                                      IntListArg(info, 2, "randint shape"),
                                      at::TensorOptions().dtype(at::kLong).device(DeviceArg(info, 3))));
}

Napi::Value Randperm(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::randperm(IntArg(info, 0, "randperm n"),
                                       at::TensorOptions().dtype(at::kLong).device(DeviceArg(info, 1))));
}

// gumbelLike(t): standard Gumbel noise of t's shape, drawn from the seeded generator
// (-log(E) with E ~ Exponential(1), as torch.nn.functional.gumbel_softmax does).
Napi::Value GumbelLike(const Napi::CallbackInfo& info) {
  at::Tensor& t = TensorArg(info, 0, "gumbelLike");
  at::NoGradGuard g;
  return Wrap(info.Env(), -at::empty_like(t, at::MemoryFormat::Contiguous).exponential_().log());
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  at::manual_seed(static_cast<uint64_t>(IntArg(info, 0, "manualSeed")));
  return info.Env().Undefined();
}

Napi::Value GetRngState(const Napi::CallbackInfo& info) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return Wrap(info.Env(), gen.get_state());
}

Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  auto gen = at::detail::getDefaultCPUGenerator();
  at::Tensor state = TensorArg(info, 0, "setRngState");
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
  return info.Env().Undefined();
}

// ---- in-place initialisation (always without recording autograd history) --------------------

Napi::Value Uniform_(const Napi::CallbackInfo& info) {
  at::NoGradGuard g;
  TensorArg(info, 0, "uniform_").uniform_(DoubleArg(info, 1, "uniform_ low"), DoubleArg(info, 2, "uniform_ high"));
  return info.Env().Undefined();
}

Napi::Value Normal_(const Napi::CallbackInfo& info) {
  at::NoGradGuard g;
  TensorArg(info, 0, "normal_").normal_(DoubleArg(info, 1, "normal_ mean"), DoubleArg(info, 2, "normal_ std"));
  return info.Env().Undefined();
}

Napi::Value Fill_(const Napi::CallbackInfo& info) {
  at::NoGradGuard g;
  TensorArg(info, 0, "fill_").fill_(DoubleArg(info, 1, "fill_ value"));
  return info.Env().Undefined();
}

Napi::Value Copy_(const Napi::CallbackInfo& info) {
  at::NoGradGuard g;
  TensorArg(info, 0, "copy_ destination").copy_(TensorArg(info, 1, "copy_ source"));
  return info.Env().Undefined();
}

}  // namespace

void RegisterCreation(Napi::Env env, Napi::Object exports) {
  #include "gen/creation.exports.inc"  // the Export calls of native/boundary.def
}

}  // namespace dnas
