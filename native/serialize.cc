// Serialization in PyTorch's own format.
//
// torch::pickle_save writes the zip-based format that Python's torch.load reads, and
// torch::pickle_load reads what Python's torch.save wrote. (torch::save would write a TorchScript
// archive instead, which Python cannot load as a dict.)
//
// JS values map to IValues as follows, both ways: null <-> None, boolean <-> bool, integer number
// <-> int, other number <-> float, string <-> str, array <-> list (tuples read as arrays),
// plain object <-> dict with string keys, and a tensor, written by the TypeScript side as
// {__tensor: handle}, <-> Tensor.
#include "common.h"

#include <torch/csrc/jit/serialization/pickle.h>

#include <cmath>

namespace dnas {
namespace {

c10::IValue ToIValue(Napi::Env env, const Napi::Value& v, const std::string& path) {
  if (v.IsNull() || v.IsUndefined()) return c10::IValue();
  if (v.IsBoolean()) return c10::IValue(v.As<Napi::Boolean>().Value());
  if (v.IsString()) return c10::IValue(v.As<Napi::String>().Utf8Value());
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9007199254740992.0) return c10::IValue(static_cast<int64_t>(d));
    return c10::IValue(d);
  }
  if (v.IsArray()) {
    Napi::Array a = v.As<Napi::Array>();
    c10::impl::GenericList list(c10::AnyType::get());
    for (uint32_t k = 0; k < a.Length(); ++k) list.push_back(ToIValue(env, a.Get(k), path + "." + std::to_string(k)));
    return list;
  }
  if (v.IsObject()) {
    Napi::Object o = v.As<Napi::Object>();
    if (o.Has("__tensor")) return c10::IValue(Get(env, o.Get("__tensor").As<Napi::Number>().Int64Value(), path.c_str()));
    c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
    Napi::Array keys = o.GetPropertyNames();
    for (uint32_t k = 0; k < keys.Length(); ++k) {
      std::string key = keys.Get(k).As<Napi::String>().Utf8Value();
      dict.insert(key, ToIValue(env, o.Get(key), path.empty() ? key : path + "." + key));
    }
    return dict;
  }
  throw Napi::TypeError::New(env, "save: cannot serialize the value at '" + path + "' (functions, symbols and bigints are not supported)");
}

Napi::Value FromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isNone()) return env.Null();
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isTensor()) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("__tensor", Wrap(env, v.toTensor()));
    return o;
  }
  if (v.isList()) {
    auto list = v.toListRef();
    Napi::Array a = Napi::Array::New(env, list.size());
    for (size_t k = 0; k < list.size(); ++k) a.Set(static_cast<uint32_t>(k), FromIValue(env, list[k]));
    return a;
  }
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    Napi::Array a = Napi::Array::New(env, elems.size());
    for (size_t k = 0; k < elems.size(); ++k) a.Set(static_cast<uint32_t>(k), FromIValue(env, elems[k]));
    return a;
  }
  if (v.isGenericDict()) {
    Napi::Object o = Napi::Object::New(env);
    for (const auto& item : v.toGenericDict()) {
      const c10::IValue& key = item.key();
      std::string k = key.isString() ? key.toStringRef() : key.isInt() ? std::to_string(key.toInt()) : key.tagKind();
      o.Set(k, FromIValue(env, item.value()));
    }
    return o;
  }
  throw Napi::TypeError::New(env, "load: the file holds a value of type " + v.tagKind() + ", which dnas cannot read");
}

// pickleSave(value) -> Buffer holding the bytes of a torch.save file.
Napi::Value PickleSave(const Napi::CallbackInfo& info) {
  std::vector<char> bytes = torch::jit::pickle_save(ToIValue(info.Env(), info[0], ""));
  return Napi::Buffer<char>::Copy(info.Env(), bytes.data(), bytes.size());
}

// pickleLoad(buffer) -> the value tree (tensors as {__tensor: handle}).
Napi::Value PickleLoad(const Napi::CallbackInfo& info) {
  if (!info[0].IsBuffer()) throw Napi::TypeError::New(info.Env(), "pickleLoad: expected a Buffer");
  Napi::Buffer<char> buf = info[0].As<Napi::Buffer<char>>();
  std::vector<char> bytes(buf.Data(), buf.Data() + buf.Length());
  return FromIValue(info.Env(), torch::jit::pickle_load(bytes));
}

}  // namespace

void RegisterSerialize(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "pickleSave", PickleSave);
  Export(env, exports, "pickleLoad", PickleLoad);
}

}  // namespace dnas
