// Elementwise math, reductions, matmul and shape manipulation.
//
// Elementwise ops that look alike are declared once in the tables below; the addon exports the
// table's names (`unaryOps`, `binaryOps`, `scalarOps`, `reduceOps`) and src/native/binding.ts
// resolves them by name at load time, so the two sides cannot drift apart silently: a name the
// TypeScript side needs and the addon lacks is reported when the addon loads.
#include "common.h"

#include <algorithm>
#include <functional>

namespace dnas {
namespace {

using T = at::Tensor;

struct UnaryOp { const char* name; T (*fn)(const T&); };
const UnaryOp kUnary[] = {
    {"neg", [](const T& a) { return a.neg(); }},
    {"exp", [](const T& a) { return a.exp(); }},
    {"log", [](const T& a) { return a.log(); }},
    {"log1p", [](const T& a) { return a.log1p(); }},
    {"sqrt", [](const T& a) { return a.sqrt(); }},
    {"rsqrt", [](const T& a) { return a.rsqrt(); }},
    {"abs", [](const T& a) { return a.abs(); }},
    {"sign", [](const T& a) { return a.sign(); }},
    {"sigmoid", [](const T& a) { return a.sigmoid(); }},
    {"tanh", [](const T& a) { return a.tanh(); }},
    {"relu", [](const T& a) { return a.relu(); }},
    {"sin", [](const T& a) { return a.sin(); }},
    {"cos", [](const T& a) { return a.cos(); }},
    {"floor", [](const T& a) { return a.floor(); }},
    {"ceil", [](const T& a) { return a.ceil(); }},
    {"round", [](const T& a) { return a.round(); }},
    {"reciprocal", [](const T& a) { return a.reciprocal(); }},
    {"square", [](const T& a) { return a.square(); }},
    {"logicalNot", [](const T& a) { return a.logical_not(); }},
    {"isnan", [](const T& a) { return a.isnan(); }},
    {"isfinite", [](const T& a) { return a.isfinite(); }},
    {"clone", [](const T& a) { return a.clone(); }},
    {"detach", [](const T& a) { return a.detach(); }},
    {"contiguous", [](const T& a) { return a.contiguous(); }},
};

struct BinaryOp { const char* name; T (*fn)(const T&, const T&); };
const BinaryOp kBinary[] = {
    {"add", [](const T& a, const T& b) { return a.add(b); }},
    {"sub", [](const T& a, const T& b) { return a.sub(b); }},
    {"mul", [](const T& a, const T& b) { return a.mul(b); }},
    {"div", [](const T& a, const T& b) { return a.div(b); }},
    {"pow", [](const T& a, const T& b) { return a.pow(b); }},
    {"maximum", [](const T& a, const T& b) { return at::maximum(a, b); }},
    {"minimum", [](const T& a, const T& b) { return at::minimum(a, b); }},
    {"eq", [](const T& a, const T& b) { return a.eq(b); }},
    {"ne", [](const T& a, const T& b) { return a.ne(b); }},
    {"lt", [](const T& a, const T& b) { return a.lt(b); }},
    {"le", [](const T& a, const T& b) { return a.le(b); }},
    {"gt", [](const T& a, const T& b) { return a.gt(b); }},
    {"ge", [](const T& a, const T& b) { return a.ge(b); }},
    {"logicalAnd", [](const T& a, const T& b) { return a.logical_and(b); }},
    {"logicalOr", [](const T& a, const T& b) { return a.logical_or(b); }},
    {"remainder", [](const T& a, const T& b) { return a.remainder(b); }},
    {"matmul", [](const T& a, const T& b) { return a.matmul(b); }},
};

struct ScalarOp { const char* name; T (*fn)(const T&, double); };
const ScalarOp kScalar[] = {
    {"add", [](const T& a, double s) { return a.add(s); }},
    {"sub", [](const T& a, double s) { return a.sub(s); }},
    {"rsub", [](const T& a, double s) { return at::rsub(a, s); }},
    {"mul", [](const T& a, double s) { return a.mul(s); }},
    {"div", [](const T& a, double s) { return a.div(s); }},
    {"rdiv", [](const T& a, double s) { return a.reciprocal().mul(s); }},
    {"pow", [](const T& a, double s) { return a.pow(s); }},
    {"rpow", [](const T& a, double s) { return at::pow(s, a); }},
    {"eq", [](const T& a, double s) { return a.eq(s); }},
    {"ne", [](const T& a, double s) { return a.ne(s); }},
    {"lt", [](const T& a, double s) { return a.lt(s); }},
    {"le", [](const T& a, double s) { return a.le(s); }},
    {"gt", [](const T& a, double s) { return a.gt(s); }},
    {"ge", [](const T& a, double s) { return a.ge(s); }},
    {"remainder", [](const T& a, double s) { return a.remainder(s); }},
    {"clampMin", [](const T& a, double s) { return a.clamp_min(s); }},
    {"clampMax", [](const T& a, double s) { return a.clamp_max(s); }},
    {"leakyRelu", [](const T& a, double s) { return at::leaky_relu(a, s); }},
};

// `dims` wrapped into [0, a.dim()), de-duplicated and sorted from last to first, so that reducing
// them one at a time (all/any have no multi-dim overload) never shifts a dim still to be reduced.
std::vector<int64_t> DescendingDims(const T& a, at::IntArrayRef dims) {
  std::vector<int64_t> out;
  for (int64_t d : dims) out.push_back(c10::maybe_wrap_dim(d, a.dim()));
  std::sort(out.begin(), out.end(), std::greater<int64_t>());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Reductions over a list of dims; dims == null reduces over everything.
struct ReduceOp { const char* name; T (*all)(const T&); T (*dims)(const T&, at::IntArrayRef, bool); };
const ReduceOp kReduce[] = {
    {"sum", [](const T& a) { return a.sum(); }, [](const T& a, at::IntArrayRef d, bool k) { return a.sum(d, k); }},
    {"mean", [](const T& a) { return a.mean(); }, [](const T& a, at::IntArrayRef d, bool k) { return a.mean(d, k); }},
    {"amax", [](const T& a) { return a.amax(); }, [](const T& a, at::IntArrayRef d, bool k) { return a.amax(d, k); }},
    {"amin", [](const T& a) { return a.amin(); }, [](const T& a, at::IntArrayRef d, bool k) { return a.amin(d, k); }},
    {"logsumexp", [](const T& a) { return a.flatten().logsumexp(0); },
     [](const T& a, at::IntArrayRef d, bool k) { return a.logsumexp(d, k); }},
    {"all", [](const T& a) { return a.all(); },
     [](const T& a, at::IntArrayRef d, bool k) { T r = a; for (int64_t x : DescendingDims(a, d)) r = r.all(x, k); return r; }},
    {"any", [](const T& a) { return a.any(); },
     [](const T& a, at::IntArrayRef d, bool k) { T r = a; for (int64_t x : DescendingDims(a, d)) r = r.any(x, k); return r; }},
};

template <typename Table, size_t N>
int64_t CodeArg(const Napi::CallbackInfo& info, const Table (&table)[N], const char* what) {
  int64_t code = IntArg(info, 0, what);
  if (code < 0 || code >= static_cast<int64_t>(N)) throw Napi::RangeError::New(info.Env(), std::string(what) + ": unknown op code");
  return code;
}

Napi::Value Unary(const Napi::CallbackInfo& info) {
  const UnaryOp& op = kUnary[CodeArg(info, kUnary, "unary")];
  return Wrap(info.Env(), op.fn(TensorArg(info, 1, op.name)));
}

Napi::Value Binary(const Napi::CallbackInfo& info) {
  const BinaryOp& op = kBinary[CodeArg(info, kBinary, "binary")];
  return Wrap(info.Env(), op.fn(TensorArg(info, 1, op.name), TensorArg(info, 2, op.name)));
}

Napi::Value Scalar(const Napi::CallbackInfo& info) {
  const ScalarOp& op = kScalar[CodeArg(info, kScalar, "scalar")];
  return Wrap(info.Env(), op.fn(TensorArg(info, 1, op.name), DoubleArg(info, 2, op.name)));
}

// reduce(code, t, dims | null, keepdim)
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  const ReduceOp& op = kReduce[CodeArg(info, kReduce, "reduce")];
  const T& a = TensorArg(info, 1, op.name);
  auto dims = OptIntListArg(info, 2, op.name);
  bool keepdim = BoolArg(info, 3, op.name);
  if (!dims) {
    T r = op.all(a);
    if (keepdim) r = r.reshape(std::vector<int64_t>(a.dim(), 1));
    return Wrap(info.Env(), r);
  }
  return Wrap(info.Env(), op.dims(a, *dims, keepdim));
}

// varStd(isStd, t, dims | null, correction, keepdim)
Napi::Value VarStd(const Napi::CallbackInfo& info) {
  bool isStd = BoolArg(info, 0, "var/std");
  const T& a = TensorArg(info, 1, "var/std");
  auto dims = OptIntListArg(info, 2, "var/std dims");
  int64_t correction = IntArg(info, 3, "var/std correction");
  bool keepdim = BoolArg(info, 4, "var/std keepdim");
  at::OptionalIntArrayRef d = dims ? at::OptionalIntArrayRef(*dims) : at::OptionalIntArrayRef();
  return Wrap(info.Env(), isStd ? at::std(a, d, correction, keepdim) : at::var(a, d, correction, keepdim));
}

// maxDim / minDim (t, dim, keepdim) -> [values, indices]
Napi::Value MaxDim(const Napi::CallbackInfo& info) {
  auto r = at::max(TensorArg(info, 0, "max"), IntArg(info, 1, "max dim"), BoolArg(info, 2, "max keepdim"));
  return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
}

Napi::Value MinDim(const Napi::CallbackInfo& info) {
  auto r = at::min(TensorArg(info, 0, "min"), IntArg(info, 1, "min dim"), BoolArg(info, 2, "min keepdim"));
  return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
}

// argmax(t, dim | null, keepdim)
Napi::Value Argmax(const Napi::CallbackInfo& info) {
  const T& a = TensorArg(info, 0, "argmax");
  c10::optional<int64_t> dim;
  if (!info[1].IsNull() && !info[1].IsUndefined()) dim = IntArg(info, 1, "argmax dim");
  return Wrap(info.Env(), at::argmax(a, dim, BoolArg(info, 2, "argmax keepdim")));
}

// topk(t, k, dim, largest, sorted) -> [values, indices]
Napi::Value Topk(const Napi::CallbackInfo& info) {
  auto r = at::topk(TensorArg(info, 0, "topk"), IntArg(info, 1, "topk k"), IntArg(info, 2, "topk dim"),
                    BoolArg(info, 3, "topk largest"), BoolArg(info, 4, "topk sorted"));
  return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
}

// sort(t, dim, descending) -> [values, indices]
Napi::Value Sort(const Napi::CallbackInfo& info) {
  auto r = at::sort(TensorArg(info, 0, "sort"), IntArg(info, 1, "sort dim"), BoolArg(info, 2, "sort descending"));
  return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
}

// clamp(t, min | null, max | null)
Napi::Value Clamp(const Napi::CallbackInfo& info) {
  auto lo = OptDoubleArg(info, 1, "clamp min");
  auto hi = OptDoubleArg(info, 2, "clamp max");
  c10::optional<at::Scalar> l, h;
  if (lo) l = *lo;
  if (hi) h = *hi;
  return Wrap(info.Env(), at::clamp(TensorArg(info, 0, "clamp"), l, h));
}

Napi::Value Where(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::where(TensorArg(info, 0, "where condition"), TensorArg(info, 1, "where input"),
                                    TensorArg(info, 2, "where other")));
}

// addScaled(a, b, alpha): a + alpha * b
Napi::Value AddScaled(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::add(TensorArg(info, 0, "add"), TensorArg(info, 1, "add"), DoubleArg(info, 2, "add alpha")));
}

Napi::Value MaskedFill(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), TensorArg(info, 0, "maskedFill").masked_fill(TensorArg(info, 1, "maskedFill mask"),
                                                                       DoubleArg(info, 2, "maskedFill value")));
}

// ---- shapes ---------------------------------------------------------------------------------

Napi::Value Reshape(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), TensorArg(info, 0, "reshape").reshape(IntListArg(info, 1, "reshape shape")));
}

Napi::Value View(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), TensorArg(info, 0, "view").view(IntListArg(info, 1, "view shape")));
}

Napi::Value Permute(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), TensorArg(info, 0, "permute").permute(IntListArg(info, 1, "permute dims")));
}

Napi::Value Transpose(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), TensorArg(info, 0, "transpose").transpose(IntArg(info, 1, "transpose dim0"), IntArg(info, 2, "transpose dim1")));
}

Napi::Value Flatten(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), TensorArg(info, 0, "flatten").flatten(IntArg(info, 1, "flatten startDim"), IntArg(info, 2, "flatten endDim")));
}

// squeeze(t, dim | null)
Napi::Value Squeeze(const Napi::CallbackInfo& info) {
  const T& a = TensorArg(info, 0, "squeeze");
  if (info[1].IsNull() || info[1].IsUndefined()) return Wrap(info.Env(), a.squeeze());
  return Wrap(info.Env(), a.squeeze(IntArg(info, 1, "squeeze dim")));
}

Napi::Value Unsqueeze(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), TensorArg(info, 0, "unsqueeze").unsqueeze(IntArg(info, 1, "unsqueeze dim")));
}

Napi::Value Expand(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), TensorArg(info, 0, "expand").expand(IntListArg(info, 1, "expand shape")));
}

Napi::Value Repeat(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), TensorArg(info, 0, "repeat").repeat(IntListArg(info, 1, "repeat sizes")));
}

Napi::Value Flip(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), TensorArg(info, 0, "flip").flip(IntListArg(info, 1, "flip dims")));
}

Napi::Value Cat(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::cat(TensorListArg(info, 0, "cat"), IntArg(info, 1, "cat dim")));
}

Napi::Value Stack(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::stack(TensorListArg(info, 0, "stack"), IntArg(info, 1, "stack dim")));
}

// split(t, sizes: number | number[], dim): a number splits into equal chunks of that size.
Napi::Value Split(const Napi::CallbackInfo& info) {
  const T& a = TensorArg(info, 0, "split");
  int64_t dim = IntArg(info, 2, "split dim");
  if (info[1].IsNumber()) return WrapList(info.Env(), a.split(IntArg(info, 1, "split size"), dim));
  return WrapList(info.Env(), a.split_with_sizes(IntListArg(info, 1, "split sizes"), dim));
}

Napi::Value Narrow(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), TensorArg(info, 0, "narrow").narrow(IntArg(info, 1, "narrow dim"), IntArg(info, 2, "narrow start"),
                                                               IntArg(info, 3, "narrow length")));
}

Napi::Value Select(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), TensorArg(info, 0, "select").select(IntArg(info, 1, "select dim"), IntArg(info, 2, "select index")));
}

Napi::Value IndexSelect(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), TensorArg(info, 0, "indexSelect").index_select(IntArg(info, 1, "indexSelect dim"),
                                                                         TensorArg(info, 2, "indexSelect index")));
}

Napi::Value Gather(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), TensorArg(info, 0, "gather").gather(IntArg(info, 1, "gather dim"), TensorArg(info, 2, "gather index")));
}

// pad(t, pad: [left, right, top, bottom, ...], value): constant padding, as F.pad.
Napi::Value Pad(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::constant_pad_nd(TensorArg(info, 0, "pad"), IntListArg(info, 1, "pad widths"),
                                              DoubleArg(info, 2, "pad value")));
}

Napi::Value OneHot(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::one_hot(TensorArg(info, 0, "oneHot"), IntArg(info, 1, "oneHot numClasses")));
}

// to(t, dtype | null, device | null)
Napi::Value To(const Napi::CallbackInfo& info) {
  const T& a = TensorArg(info, 0, "to");
  at::ScalarType dt = (info[1].IsNull() || info[1].IsUndefined()) ? a.scalar_type() : DtypeArg(info, 1);
  at::Device dev = (info[2].IsNull() || info[2].IsUndefined()) ? a.device() : DeviceArg(info, 2);
  return Wrap(info.Env(), a.to(dev, dt));
}

template <typename Table, size_t N>
Napi::Array Names(Napi::Env env, const Table (&table)[N]) {
  Napi::Array a = Napi::Array::New(env, N);
  for (size_t k = 0; k < N; ++k) a.Set(static_cast<uint32_t>(k), table[k].name);
  return a;
}

}  // namespace

void RegisterMath(Napi::Env env, Napi::Object exports) {
  exports.Set("unaryOps", Names(env, kUnary));
  exports.Set("binaryOps", Names(env, kBinary));
  exports.Set("scalarOps", Names(env, kScalar));
  exports.Set("reduceOps", Names(env, kReduce));
  #include "gen/math.exports.inc"  // the Export calls of native/boundary.def
}

}  // namespace dnas
