// dnas native shim: shared declarations.
//
// How JavaScript sees a tensor
// ----------------------------
// A tensor crosses into JavaScript as a plain number, its *handle*. The registry below maps each
// handle to the at::Tensor it stands for. Handles are never reused (they count up from 1), so a
// stale handle can only ever miss, never hit another tensor. Returning a number is much cheaper
// than building a wrapper object per result, which is what dominates the cost of a small op.
//
// Lifetimes
// ---------
// * `dispose(h)` drops one handle.
// * Scopes (`startScope` / `endScope`) record every handle made while they are open; `endScope`
//   drops all of them except the ones the caller returns (they move to the enclosing scope) and the
//   ones marked `keep`. This is what `tidy(fn)` in TypeScript is built on.
// * The JS side also registers a FinalizationRegistry callback per tensor as a safety net.
// Native bytes are counted per *storage*, not per handle (a view or a re-fetched `.grad` shares
// its storage), and reported to V8 so that the garbage collector knows how heavy a handle is.
//
// Errors
// ------
// Every exported function is wrapped by `Export` (registry.cc), which turns a c10::Error or any
// std::exception into a JavaScript Error carrying libtorch's message. Nothing may escape as a C++
// exception, or the process would abort.
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dnas {

using Handle = int64_t;

// ---- registry ------------------------------------------------------------------------------

/// Registers `t` and returns its new handle (also recorded in the innermost open scope).
Handle Track(Napi::Env env, at::Tensor t);
/// The tensor behind handle `h`; throws a JS error naming `what` when the handle is not live.
at::Tensor& Get(Napi::Env env, Handle h, const char* what);

// ---- argument helpers ------------------------------------------------------------------------
// Each takes the callback info, the argument position and a name used in error messages.

at::Tensor& TensorArg(const Napi::CallbackInfo& info, size_t i, const char* what);
std::optional<at::Tensor> OptTensorArg(const Napi::CallbackInfo& info, size_t i, const char* what);
std::vector<at::Tensor> TensorListArg(const Napi::CallbackInfo& info, size_t i, const char* what);
std::vector<int64_t> IntListArg(const Napi::CallbackInfo& info, size_t i, const char* what);
std::optional<std::vector<int64_t>> OptIntListArg(const Napi::CallbackInfo& info, size_t i, const char* what);
int64_t IntArg(const Napi::CallbackInfo& info, size_t i, const char* what);
double DoubleArg(const Napi::CallbackInfo& info, size_t i, const char* what);
std::optional<double> OptDoubleArg(const Napi::CallbackInfo& info, size_t i, const char* what);
bool BoolArg(const Napi::CallbackInfo& info, size_t i, const char* what);
std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* what);
at::ScalarType DtypeArg(const Napi::CallbackInfo& info, size_t i);
at::Device DeviceArg(const Napi::CallbackInfo& info, size_t i);
at::TensorOptions OptionsArg(const Napi::CallbackInfo& info, size_t dtypeAt, size_t deviceAt);

/// Dtype codes shared with src/native/binding.ts (DTYPE_CODES there must match).
int DtypeCode(at::ScalarType t);
at::ScalarType DtypeFromCode(int code);

// ---- results ---------------------------------------------------------------------------------

Napi::Value Wrap(Napi::Env env, at::Tensor t);
Napi::Value WrapList(Napi::Env env, const std::vector<at::Tensor>& ts);

// ---- export ----------------------------------------------------------------------------------

using Fn = Napi::Value (*)(const Napi::CallbackInfo&);
/// Adds `fn` to `exports` under `name`, wrapped so that libtorch errors become JS errors.
void Export(Napi::Env env, Napi::Object exports, const char* name, Fn fn);

// Each translation unit registers its functions through one of these.
void RegisterCreation(Napi::Env env, Napi::Object exports);
void RegisterMath(Napi::Env env, Napi::Object exports);
void RegisterNN(Napi::Env env, Napi::Object exports);
void RegisterAutogradOptim(Napi::Env env, Napi::Object exports);
void RegisterSerialize(Napi::Env env, Napi::Object exports);
void RegisterDistributed(Napi::Env env, Napi::Object exports);
void RegisterFastKernels(Napi::Env env, Napi::Object exports);

// ---- shared between files ------------------------------------------------------------------

/// Whether autocast is on for device type `d` (autograd_optim.cc; both libtorch API generations).
bool AutocastEnabled(at::DeviceType d);

/// conv2d by a faster kernel than libtorch's own for this call (fast_kernels.cc), or nothing when
/// there is none for these arguments; the caller then runs at::conv2d.
std::optional<at::Tensor> FastConv2d(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b,
                                     const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                                     const std::vector<int64_t>& dilation, int64_t groups);

}  // namespace dnas
