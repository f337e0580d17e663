// The handle registry, scopes, memory accounting, argument helpers and the addon's entry point.
// See common.h for the model.
#include "common.h"

#include <ATen/Parallel.h>
#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <torch/version.h>

#include <unordered_map>
#include <unordered_set>

namespace dnas {
namespace {

struct Entry {
  at::Tensor tensor;
  const void* storage = nullptr;  // storage the bytes are counted against (nullptr: none)
  bool kept = false;              // survives endScope
};

struct StorageCount {
  int64_t handles = 0;
  int64_t bytes = 0;
};

struct Registry {
  std::unordered_map<Handle, Entry> live;
  std::unordered_map<const void*, StorageCount> storages;
  std::vector<std::vector<Handle>> scopes;
  Handle next = 1;
  int64_t bytes = 0;
};

Registry& R() {
  static Registry* r = new Registry();  // never destroyed: tensors may outlive static teardown
  return *r;
}

void CountStorage(Napi::Env env, Entry& e) {
  const at::Tensor& t = e.tensor;
  if (!t.defined() || !t.has_storage()) return;
  const void* key = t.storage().unsafeGetStorageImpl();
  StorageCount& c = R().storages[key];
  if (c.handles++ == 0) {
    c.bytes = static_cast<int64_t>(t.storage().nbytes());
    R().bytes += c.bytes;
    if (c.bytes > 0) Napi::MemoryManagement::AdjustExternalMemory(env, c.bytes);
  }
  e.storage = key;
}

void UncountStorage(Napi::Env env, const Entry& e) {
  if (e.storage == nullptr) return;
  auto it = R().storages.find(e.storage);
  if (it == R().storages.end()) return;
  if (--it->second.handles == 0) {
    R().bytes -= it->second.bytes;
    if (it->second.bytes > 0) Napi::MemoryManagement::AdjustExternalMemory(env, -it->second.bytes);
    R().storages.erase(it);
  }
}

bool Release(Napi::Env env, Handle h) {
  auto it = R().live.find(h);
  if (it == R().live.end()) return false;
  UncountStorage(env, it->second);
  R().live.erase(it);
  return true;
}

}  // namespace

Handle Track(Napi::Env env, at::Tensor t) {
  Handle h = R().next++;
  Entry& e = R().live[h];
  e.tensor = std::move(t);
  CountStorage(env, e);
  if (!R().scopes.empty()) R().scopes.back().push_back(h);
  return h;
}

at::Tensor& Get(Napi::Env env, Handle h, const char* what) {
  auto it = R().live.find(h);
  if (it == R().live.end()) {
    throw Napi::Error::New(
        env, std::string(what) + ": tensor #" + std::to_string(h) +
                 " was already released (by dispose() or at the end of a tidy() scope); "
                 "return it from the tidy() callback or keep() it to use it afterwards");
  }
  return it->second.tensor;
}

// setData(h, src): the tensor of handle h takes src's data (storage, strides, device) and keeps its
// identity: every handle and JavaScript object of that tensor, its requires_grad and its place in
// optimizers see the new data, as `param.data = src` in PyTorch (what Module.to does). Same shape
// and dtype only. The handle's bytes are counted against the new storage.
Napi::Value SetData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Handle h = static_cast<Handle>(IntArg(info, 0, "setData handle"));
  const at::Tensor src = TensorArg(info, 1, "setData source");
  auto it = R().live.find(h);
  if (it == R().live.end()) Get(env, h, "setData");  // throws the usual message
  at::Tensor& t = it->second.tensor;
  if (t.sizes() != src.sizes() || t.scalar_type() != src.scalar_type()) {
    throw Napi::Error::New(env, "setData: the source must have the tensor's shape and dtype");
  }
  {
    at::NoGradGuard g;
    t.set_data(src);
  }
  UncountStorage(env, it->second);
  it->second.storage = nullptr;
  CountStorage(env, it->second);
  return env.Undefined();
}

// ---- argument helpers ------------------------------------------------------------------------

namespace {
[[noreturn]] void BadArg(const Napi::CallbackInfo& info, size_t i, const char* what, const char* expected) {
  throw Napi::TypeError::New(info.Env(), std::string(what) + " (argument " + std::to_string(i) +
                                             ") must be " + expected);
}

// `v` as an integer: a number that is finite, whole and exactly representable (|v| <= 2^53).
// 1.5, NaN and Infinity are errors, not truncated to 1, 0 or INT64_MIN.
bool WholeNumber(const Napi::Value& v, int64_t& out) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::trunc(d) || std::fabs(d) > 9007199254740992.0) return false;
  out = static_cast<int64_t>(d);
  return true;
}
}  // namespace

at::Tensor& TensorArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) BadArg(info, i, what, "a tensor");
  return Get(info.Env(), info[i].As<Napi::Number>().Int64Value(), what);
}

std::optional<at::Tensor> OptTensorArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info[i].IsNull() || info[i].IsUndefined()) return std::nullopt;
  return TensorArg(info, i, what);
}

std::vector<at::Tensor> TensorListArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsArray()) BadArg(info, i, what, "an array of tensors");
  Napi::Array a = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(a.Length());
  for (uint32_t k = 0; k < a.Length(); ++k) {
    Napi::Value v = a.Get(k);
    if (!v.IsNumber()) BadArg(info, i, what, "an array of tensors");
    out.push_back(Get(info.Env(), v.As<Napi::Number>().Int64Value(), what));
  }
  return out;
}

std::vector<int64_t> IntListArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  int64_t one = 0;
  if (info[i].IsNumber()) {
    if (!WholeNumber(info[i], one)) BadArg(info, i, what, "an integer (or an array of integers)");
    return {one};
  }
  if (!info[i].IsArray()) BadArg(info, i, what, "an array of integers");
  Napi::Array a = info[i].As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t k = 0; k < a.Length(); ++k) {
    if (!WholeNumber(a.Get(k), out[k])) BadArg(info, i, what, "an array of integers");
  }
  return out;
}

std::optional<std::vector<int64_t>> OptIntListArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info[i].IsNull() || info[i].IsUndefined()) return std::nullopt;
  return IntListArg(info, i, what);
}

int64_t IntArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  int64_t v = 0;
  if (!WholeNumber(info[i], v)) BadArg(info, i, what, "an integer");
  return v;
}

double DoubleArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) BadArg(info, i, what, "a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

std::optional<double> OptDoubleArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info[i].IsNull() || info[i].IsUndefined()) return std::nullopt;
  return DoubleArg(info, i, what);
}

bool BoolArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsBoolean()) BadArg(info, i, what, "a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsString()) BadArg(info, i, what, "a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// Codes: 0 float32, 1 float64, 2 int64, 3 bool, 4 int32, 5 uint8, 6 bfloat16, 7 float16.
int DtypeCode(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return 0;
    case at::kDouble: return 1;
    case at::kLong: return 2;
    case at::kBool: return 3;
    case at::kInt: return 4;
    case at::kByte: return 5;
    case at::kBFloat16: return 6;
    case at::kHalf: return 7;
    default: return -1;
  }
}

at::ScalarType DtypeFromCode(int code) {
  switch (code) {
    case 0: return at::kFloat;
    case 1: return at::kDouble;
    case 2: return at::kLong;
    case 3: return at::kBool;
    case 4: return at::kInt;
    case 5: return at::kByte;
    case 6: return at::kBFloat16;
    case 7: return at::kHalf;
    default: throw std::invalid_argument("unknown dtype code " + std::to_string(code));
  }
}

at::ScalarType DtypeArg(const Napi::CallbackInfo& info, size_t i) {
  return DtypeFromCode(static_cast<int>(IntArg(info, i, "dtype")));
}

at::Device DeviceArg(const Napi::CallbackInfo& info, size_t i) {
  if (info[i].IsUndefined() || info[i].IsNull()) return at::Device(at::kCPU);
  return at::Device(StringArg(info, i, "device"));
}

at::TensorOptions OptionsArg(const Napi::CallbackInfo& info, size_t dtypeAt, size_t deviceAt) {
  return at::TensorOptions().dtype(DtypeArg(info, dtypeAt)).device(DeviceArg(info, deviceAt));
}

Napi::Value Wrap(Napi::Env env, at::Tensor t) {
  return Napi::Number::New(env, static_cast<double>(Track(env, std::move(t))));
}

Napi::Value WrapList(Napi::Env env, const std::vector<at::Tensor>& ts) {
  Napi::Array a = Napi::Array::New(env, ts.size());
  for (size_t k = 0; k < ts.size(); ++k) a.Set(static_cast<uint32_t>(k), Wrap(env, ts[k]));
  return a;
}

// ---- export with error translation -------------------------------------------------------

namespace {
Napi::Value Trampoline(const Napi::CallbackInfo& info) {
  Fn fn = reinterpret_cast<Fn>(info.Data());
  try {
    return fn(info);
  } catch (const Napi::Error&) {
    throw;  // already a JS error
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  } catch (...) {
    // Anything else thrown below (not a std::exception) would otherwise end the process.
    throw Napi::Error::New(info.Env(), "a native call failed with an exception that is not a std::exception");
  }
}
}  // namespace

void Export(Napi::Env env, Napi::Object exports, const char* name, Fn fn) {
  exports.Set(name, Napi::Function::New(env, Trampoline, name, reinterpret_cast<void*>(fn)));
}

// ---- registry functions exposed to JS --------------------------------------------------------

namespace {

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Release(info.Env(), IntArg(info, 0, "dispose")));
}

Napi::Value IsLive(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), R().live.count(IntArg(info, 0, "isLive")) > 0);
}

Napi::Value StartScope(const Napi::CallbackInfo& info) {
  R().scopes.emplace_back();
  return Napi::Number::New(info.Env(), static_cast<double>(R().scopes.size()));
}

// endScope(keep: number[]): releases what the innermost scope made, except `keep` (moved to the
// enclosing scope) and handles marked kept.
Napi::Value EndScope(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (R().scopes.empty()) throw Napi::Error::New(env, "endScope: no open scope");
  std::vector<int64_t> returned = IntListArg(info, 0, "endScope");
  std::unordered_set<Handle> keep(returned.begin(), returned.end());
  std::vector<Handle> scope = std::move(R().scopes.back());
  R().scopes.pop_back();
  for (Handle h : scope) {
    auto it = R().live.find(h);
    if (it == R().live.end() || it->second.kept) continue;
    if (keep.count(h)) {
      if (!R().scopes.empty()) R().scopes.back().push_back(h);
      continue;
    }
    UncountStorage(env, it->second);
    R().live.erase(it);
  }
  return env.Undefined();
}

Napi::Value Keep(const Napi::CallbackInfo& info) {
  Handle h = IntArg(info, 0, "keep");
  auto it = R().live.find(h);
  if (it == R().live.end()) Get(info.Env(), h, "keep");  // throws the standard message
  it->second.kept = true;
  return info.Env().Undefined();
}

Napi::Value Memory(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("numTensors", static_cast<double>(R().live.size()));
  o.Set("numStorages", static_cast<double>(R().storages.size()));
  o.Set("numBytes", static_cast<double>(R().bytes));
  o.Set("numScopes", static_cast<double>(R().scopes.size()));
  return o;
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  at::set_num_threads(static_cast<int>(IntArg(info, 0, "setNumThreads")));
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value CudaAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::hasCUDA());
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0);
}

Napi::Value Versions(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("libtorch", std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) +
                        "." + std::to_string(TORCH_VERSION_PATCH));
  o.Set("cxx11Abi", static_cast<bool>(_GLIBCXX_USE_CXX11_ABI));
  o.Set("parallel", at::get_parallel_info());
  return o;
}

}  // namespace
}  // namespace dnas

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Tensor buffers above the threshold are mmap-ed and go back to the OS when freed, instead of
  // fragmenting glibc's heap (a long training loop then grows RSS by gigabytes, docs/memory.md).
  // Fixing the threshold also stops glibc from raising it dynamically. 32 MiB keeps activations of
  // ordinary batches on the heap (mmap-ing them costs page faults every step: 1.4x slower conv
  // steps at 128 KiB) while the RSS test stays flat. DNAS_MMAP_THRESHOLD=<bytes> overrides it;
  // 0 leaves glibc's own policy.
  long threshold = 32L * 1024 * 1024;
  if (const char* env = std::getenv("DNAS_MMAP_THRESHOLD"); env && *env) threshold = std::strtol(env, nullptr, 10);
  if (threshold > 0) {
    mallopt(M_MMAP_THRESHOLD, static_cast<int>(threshold));
    // Fixing the mmap threshold also freezes the trim threshold at its 128 KiB default, so the free
    // top of the heap went back to the kernel after every step and was faulted in again on the
    // next (1.5-1.7x slower conv steps than PyTorch on some shapes, docs/benchmarks.md). glibc's
    // own rule when it raises the mmap threshold is trim = 2 x mmap; dnas sets the same.
    // DNAS_TRIM_THRESHOLD=<bytes> overrides it; 0 leaves the 128 KiB default.
    long trim = 2 * threshold;
    if (const char* env = std::getenv("DNAS_TRIM_THRESHOLD"); env && *env) trim = std::strtol(env, nullptr, 10);
    if (trim > 0) mallopt(M_TRIM_THRESHOLD, static_cast<int>(std::min<long>(trim, INT32_MAX)));
  }
  // libtorch picks its own default; dnas always runs single-threaded until told otherwise.
  at::set_num_threads(1);

  using namespace dnas;
  #include "gen/registry.exports.inc"  // the Export calls of native/boundary.def
  RegisterCreation(env, exports);
  RegisterMath(env, exports);
  RegisterNN(env, exports);
  RegisterAutogradOptim(env, exports);
  RegisterSerialize(env, exports);
  RegisterDistributed(env, exports);
  RegisterFastKernels(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(dnas, Init)
