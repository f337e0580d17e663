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

#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/csrc/jit/serialization/unpickler.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>

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

// A file's tensors are views into its data records; a crafted file can make a view reach past its
// record (storage offset, sizes or strides), and reading it would read other memory. Every tensor
// must lie inside its storage.
void CheckInsideStorage(Napi::Env env, const at::Tensor& t) {
  if (!t.has_storage()) return;
  const int64_t offset = t.storage_offset();
  if (offset < 0) throw Napi::Error::New(env, "load: a tensor of the file has a negative storage offset");
  unsigned __int128 last = static_cast<unsigned __int128>(offset);  // index of the last element
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t size = t.size(d), stride = t.stride(d);
    if (size < 0 || stride < 0) throw Napi::Error::New(env, "load: a tensor of the file has a negative size or stride");
    if (size == 0) return;  // no element is ever read
    last += static_cast<unsigned __int128>(size - 1) * static_cast<unsigned __int128>(stride);
  }
  const unsigned __int128 need = (last + 1) * static_cast<unsigned __int128>(t.element_size());
  if (need > static_cast<unsigned __int128>(t.storage().nbytes())) {
    throw Napi::Error::New(env, "load: a tensor of the file reaches past its data record (" + std::to_string(t.storage().nbytes()) +
                                    " bytes); the file is damaged or crafted");
  }
}

// Values nested deeper than this are refused (a crafted file would exhaust the stack).
constexpr int kMaxDepth = 1000;

Napi::Value FromIValue(Napi::Env env, const c10::IValue& v, int depth = 0) {
  if (depth > kMaxDepth) throw Napi::Error::New(env, "load: the file nests values deeper than " + std::to_string(kMaxDepth) + " levels");
  if (v.isNone()) return env.Null();
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isTensor()) {
    CheckInsideStorage(env, v.toTensor());
    Napi::Object o = Napi::Object::New(env);
    o.Set("__tensor", Wrap(env, v.toTensor()));
    return o;
  }
  if (v.isList()) {
    auto list = v.toListRef();
    Napi::Array a = Napi::Array::New(env, list.size());
    for (size_t k = 0; k < list.size(); ++k) a.Set(static_cast<uint32_t>(k), FromIValue(env, list[k], depth + 1));
    return a;
  }
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    Napi::Array a = Napi::Array::New(env, elems.size());
    for (size_t k = 0; k < elems.size(); ++k) a.Set(static_cast<uint32_t>(k), FromIValue(env, elems[k], depth + 1));
    return a;
  }
  if (v.isGenericDict()) {
    Napi::Object o = Napi::Object::New(env);
    for (const auto& item : v.toGenericDict()) {
      const c10::IValue& key = item.key();
      std::string k = key.isString() ? key.toStringRef() : key.isInt() ? std::to_string(key.toInt()) : key.tagKind();
      o.Set(k, FromIValue(env, item.value(), depth + 1));
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

// ---- reading Python's pickles ---------------------------------------------------------------
//
// libtorch 1.13's unpickler knows SETITEMS and APPENDS but not SETITEM ('s') and APPEND ('a'),
// which Python's pickler writes for a dict or list holding exactly one item (an optimizer's
// {'momentum_buffer': t}, a single param group, {'a': {'b': t}}); such files failed with
// "Unknown opcode for unpickling". RewriteSingleItemOps turns each `key value SETITEM` into
// `MARK key value SETITEMS` (and `value APPEND` into `MARK value APPENDS`), which mean the same.
// To know where the key (or value) began, it tracks for every stack entry the offset of the
// first opcode that built it. Anything it does not understand leaves the bytes unchanged.

namespace op {
constexpr uint8_t MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', FLOAT = 'F', INT = 'I', BININT = 'J',
                  BININT1 = 'K', LONG = 'L', BININT2 = 'M', NONE = 'N', PERSID = 'P', BINPERSID = 'Q', REDUCE = 'R',
                  STRING = 'S', BINSTRING = 'T', SHORT_BINSTRING = 'U', UNICODE = 'V', BINUNICODE = 'X', APPEND = 'a',
                  BUILD = 'b', GLOBAL = 'c', DICT = 'd', EMPTY_DICT = '}', APPENDS = 'e', GET = 'g', BINGET = 'h',
                  INST = 'i', LONG_BINGET = 'j', LIST = 'l', EMPTY_LIST = ']', OBJ = 'o', PUT = 'p', BINPUT = 'q',
                  LONG_BINPUT = 'r', SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G',
                  PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84, TUPLE1 = 0x85, TUPLE2 = 0x86,
                  TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b, BINBYTES = 'B',
                  SHORT_BINBYTES = 'C', SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e,
                  EMPTY_SET = 0x8f, ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92, STACK_GLOBAL = 0x93,
                  MEMOIZE = 0x94;
}  // namespace op

std::vector<char> RewriteSingleItemOps(const std::vector<char>& in) {
  const size_t n = in.size();
  const auto* b = reinterpret_cast<const uint8_t*>(in.data());
  struct Slot { size_t start; bool mark; };
  std::vector<Slot> stack;
  std::vector<size_t> markAt;    // offsets where a MARK is to be inserted
  std::vector<size_t> rewrite;   // offsets of SETITEM/APPEND opcodes
  auto le = [&](size_t at, int bytes) -> uint64_t {
    uint64_t v = 0;
    for (int k = bytes - 1; k >= 0; --k) v = (v << 8) | b[at + k];
    return v;
  };
  auto popToMark = [&]() -> std::optional<size_t> {  // start of the mark, or nullopt when none
    while (!stack.empty() && !stack.back().mark) stack.pop_back();
    if (stack.empty()) return std::nullopt;
    size_t s = stack.back().start;
    stack.pop_back();
    return s;
  };
  auto pop = [&](size_t k) -> std::optional<size_t> {  // start of the deepest of k popped entries
    if (stack.size() < k || k == 0) return std::nullopt;
    size_t s = stack[stack.size() - k].start;
    for (size_t j = 0; j < k; ++j) if (stack[stack.size() - 1 - j].mark) return std::nullopt;
    stack.resize(stack.size() - k);
    return s;
  };
  size_t i = 0;
  bool stopped = false;
  while (i < n && !stopped) {
    const size_t at = i;
    const uint8_t code = b[i++];
    auto need = [&](size_t k) { return i + k <= n; };
    auto skipLine = [&]() { while (i < n && b[i] != '\n') ++i; if (i >= n) return false; ++i; return true; };
    auto push = [&](size_t start) { stack.push_back({start, false}); };
    std::optional<size_t> s;
    switch (code) {
      case op::PROTO: if (!need(1)) return in; i += 1; break;
      case op::STOP: stopped = true; break;
      case op::MARK: stack.push_back({at, true}); break;
      case op::POP: if (!pop(1)) return in; break;
      case op::POP_MARK: if (!popToMark()) return in; break;
      case op::DUP: if (stack.empty()) return in; push(at); break;
      case op::NONE: case op::NEWTRUE: case op::NEWFALSE: case op::EMPTY_DICT: case op::EMPTY_LIST:
      case op::EMPTY_TUPLE: case op::EMPTY_SET: push(at); break;
      case op::BININT1: case op::BINGET: if (!need(1)) return in; i += 1; push(at); break;
      case op::BININT2: if (!need(2)) return in; i += 2; push(at); break;
      case op::BININT: case op::LONG_BINGET: if (!need(4)) return in; i += 4; push(at); break;
      case op::BINFLOAT: if (!need(8)) return in; i += 8; push(at); break;
      case op::EXT1: if (!need(1)) return in; i += 1; push(at); break;
      case op::EXT2: if (!need(2)) return in; i += 2; push(at); break;
      case op::EXT4: if (!need(4)) return in; i += 4; push(at); break;
      case op::BINPUT: if (!need(1)) return in; i += 1; break;
      case op::LONG_BINPUT: if (!need(4)) return in; i += 4; break;
      case op::MEMOIZE: break;
      case op::PUT: if (!skipLine()) return in; break;
      case op::FLOAT: case op::INT: case op::LONG: case op::STRING: case op::UNICODE: case op::GET: case op::PERSID:
        if (!skipLine()) return in;
        push(at);
        break;
      case op::GLOBAL: if (!skipLine() || !skipLine()) return in; push(at); break;
      case op::LONG1: case op::SHORT_BINSTRING: case op::SHORT_BINBYTES: case op::SHORT_BINUNICODE: {
        if (!need(1)) return in;
        size_t len = b[i];
        i += 1;
        if (!need(len)) return in;
        i += len;
        push(at);
        break;
      }
      case op::LONG4: case op::BINSTRING: case op::BINBYTES: case op::BINUNICODE: {
        if (!need(4)) return in;
        size_t len = le(i, 4);
        i += 4;
        if (!need(len)) return in;
        i += len;
        push(at);
        break;
      }
      case op::BINUNICODE8: case op::BINBYTES8: {
        if (!need(8)) return in;
        uint64_t len = le(i, 8);
        i += 8;
        if (len > n || !need(len)) return in;
        i += len;
        push(at);
        break;
      }
      case op::TUPLE: case op::LIST: case op::DICT: case op::FROZENSET: case op::OBJ:
        if (!(s = popToMark())) return in;
        push(*s);
        break;
      case op::INST:
        if (!skipLine() || !skipLine() || !(s = popToMark())) return in;
        push(*s);
        break;
      case op::APPENDS: case op::SETITEMS: case op::ADDITEMS:
        if (!popToMark() || stack.empty()) return in;
        break;
      case op::TUPLE1: if (!(s = pop(1))) return in; push(*s); break;
      case op::TUPLE2: if (!(s = pop(2))) return in; push(*s); break;
      case op::TUPLE3: if (!(s = pop(3))) return in; push(*s); break;
      case op::BINPERSID: if (!(s = pop(1))) return in; push(*s); break;
      case op::REDUCE: case op::NEWOBJ: case op::STACK_GLOBAL: if (!(s = pop(2))) return in; push(*s); break;
      case op::NEWOBJ_EX: if (!(s = pop(3))) return in; push(*s); break;
      case op::BUILD: if (!pop(1) || stack.empty()) return in; break;
      case op::SETITEM:  // dict key value -> dict
        if (!(s = pop(2)) || stack.empty()) return in;
        markAt.push_back(*s);
        rewrite.push_back(at);
        break;
      case op::APPEND:  // list value -> list
        if (!(s = pop(1)) || stack.empty()) return in;
        markAt.push_back(*s);
        rewrite.push_back(at);
        break;
      default:
        return in;  // FRAME, protocol 5 buffers, ...: leave it to libtorch
    }
  }
  if (rewrite.empty()) return in;
  std::sort(markAt.begin(), markAt.end());
  std::vector<char> out;
  out.reserve(n + markAt.size());
  size_t m = 0, r = 0;
  for (size_t k = 0; k < n; ++k) {
    while (m < markAt.size() && markAt[m] == k) { out.push_back(static_cast<char>(op::MARK)); ++m; }
    char c = in[k];
    if (r < rewrite.size() && rewrite[r] == k) {
      c = static_cast<char>(b[k] == op::SETITEM ? op::SETITEMS : op::APPENDS);
      ++r;
    }
    out.push_back(c);
  }
  return out;
}

// ---- checking a pickle before libtorch reads it ----------------------------------------------
//
// libtorch 1.13's unpickler trusts its input: an opcode that pops more values than the stack
// holds reads past it (seen: SIGSEGV, and an abort while the unpickler is destroyed), a string
// length past the end is allocated and read, a memo index of 2^32 grows the memo table to match,
// and values nested 200,000 deep are built without recursion but destroyed recursively, which
// overflows the stack. CheckPickle replays the opcodes on a model stack first and refuses all of
// that, with the byte offset: every opcode known, every pop and mark balanced, every length
// inside the data, memo indices dense and defined, containers of the right kind, one value at
// STOP, and nesting within `limit` (depths follow shared values through the memo: a list appended
// to after it was memoised makes every container holding it deeper, so depths are propagated to
// parents). Returns "" for a pickle that passes, else the reason.

std::string CheckPickle(const std::vector<char>& in, int limit) {
  const size_t n = in.size();
  const auto* b = reinterpret_cast<const uint8_t*>(in.data());
  enum Kind : uint8_t { kScalar, kList, kDict, kTuple, kSet, kGlobal, kObject };
  struct Node { int depth; Kind kind; std::vector<size_t> parents; };
  std::vector<Node> nodes;
  struct Entry { size_t node; bool mark; };
  std::vector<Entry> stack;
  std::vector<size_t> memo;  // dense, as every pickler writes it
  bool tooDeep = false;
  // Raises `node` to at least depth `d`, then its parents (iteratively: chains may be long).
  auto raise = [&](size_t node, int d) {
    std::vector<std::pair<size_t, int>> work{{node, d}};
    while (!work.empty() && !tooDeep) {
      auto [k, dk] = work.back();
      work.pop_back();
      if (nodes[k].depth >= dk) continue;
      nodes[k].depth = dk;
      if (dk > limit) { tooDeep = true; break; }
      for (size_t p : nodes[k].parents) work.push_back({p, dk + 1});
    }
  };
  auto make = [&](Kind kind, int depth) { nodes.push_back({depth, kind, {}}); return nodes.size() - 1; };
  auto addChild = [&](size_t parent, size_t child) {
    nodes[child].parents.push_back(parent);
    raise(parent, nodes[child].depth + 1);
  };
  auto le = [&](size_t at, int bytes) -> uint64_t {
    uint64_t v = 0;
    for (int k = bytes - 1; k >= 0; --k) v = (v << 8) | b[at + k];
    return v;
  };
  size_t i = 0;
  while (i < n) {
    const size_t at = i;
    const uint8_t code = b[i++];
    const std::string where = " at byte " + std::to_string(at);
    auto need = [&](uint64_t k) { return k <= n && i + k <= n; };
    auto skipLine = [&]() { while (i < n && b[i] != '\n') ++i; if (i >= n) return false; ++i; return true; };
    auto push = [&](Kind kind) { stack.push_back({make(kind, kind == kScalar || kind == kGlobal ? 0 : 1), false}); };
    std::vector<size_t> items;
    // Pops the values above the top mark, and the mark.
    auto popMarked = [&]() {
      while (!stack.empty() && !stack.back().mark) { items.push_back(stack.back().node); stack.pop_back(); }
      if (stack.empty()) return false;
      stack.pop_back();
      return true;
    };
    auto popK = [&](size_t k) {
      for (size_t j = 0; j < k; ++j) {
        if (stack.empty() || stack.back().mark) return false;
        items.push_back(stack.back().node);
        stack.pop_back();
      }
      return true;
    };
    auto container = [&](Kind kind) {
      size_t c = make(kind, 1);
      for (size_t x : items) addChild(c, x);
      stack.push_back({c, false});
    };
    // Adds the popped values to the container on top of the stack, which must be of `kind` (or an
    // object); kind -1: any container or object.
    auto into = [&](int kind) {
      if (stack.empty() || stack.back().mark) return false;
      const Node& top = nodes[stack.back().node];
      // (an object made by REDUCE may be a list or dict subclass, such as an OrderedDict)
      if (kind >= 0 ? top.kind != kind && top.kind != kObject : (top.kind == kScalar || top.kind == kGlobal)) return false;
      size_t parent = stack.back().node;
      for (size_t x : items) addChild(parent, x);
      return true;
    };
    auto put = [&](uint64_t key) {
      if (stack.empty() || stack.back().mark || key > memo.size()) return false;
      if (key == memo.size()) memo.push_back(stack.back().node);
      else memo[key] = stack.back().node;
      return true;
    };
    auto get = [&](uint64_t key) {
      if (key >= memo.size()) return false;
      stack.push_back({memo[key], false});
      return true;
    };
    auto lineNumber = [&](size_t from, uint64_t& v) {
      std::string t(in.data() + from, i - 1 - from);
      if (t.empty() || t.size() > 18 || t.find_first_not_of("0123456789") != std::string::npos) return false;
      v = std::stoull(t);
      return true;
    };
    const std::string bad = "opcode 0x" + [&] { char h[3]; std::snprintf(h, sizeof h, "%02x", code); return std::string(h); }() + where;
    switch (code) {
      case op::PROTO: if (!need(1) || b[i] > 5) return "a bad protocol" + where; i += 1; break;
      case 0x95: if (!need(8)) return "a cut-off frame" + where; i += 8; break;  // FRAME
      case op::STOP:
        if (tooDeep) break;
        if (stack.size() != 1 || stack.back().mark) return "STOP" + where + " with " + std::to_string(stack.size()) + " values on the stack instead of one";
        return "";
      case op::MARK: stack.push_back({0, true}); break;
      case op::POP: if (!popK(1)) return "POP on an empty stack" + where; break;
      case op::POP_MARK: if (!popMarked()) return "POP_MARK without a mark" + where; break;
      case op::DUP: if (stack.empty() || stack.back().mark) return "DUP on an empty stack" + where; stack.push_back(stack.back()); break;
      case op::NONE: case op::NEWTRUE: case op::NEWFALSE: push(kScalar); break;
      case op::EMPTY_DICT: push(kDict); break;
      case op::EMPTY_LIST: push(kList); break;
      case op::EMPTY_TUPLE: push(kTuple); break;
      case op::EMPTY_SET: push(kSet); break;
      case op::BININT1: if (!need(1)) return "a cut-off value" + where; i += 1; push(kScalar); break;
      case op::BININT2: if (!need(2)) return "a cut-off value" + where; i += 2; push(kScalar); break;
      case op::BININT: if (!need(4)) return "a cut-off value" + where; i += 4; push(kScalar); break;
      case op::BINFLOAT: if (!need(8)) return "a cut-off value" + where; i += 8; push(kScalar); break;
      case op::BINGET: if (!need(1) || !get(b[i])) return "a memo entry that was never stored" + where; i += 1; break;
      case op::LONG_BINGET: if (!need(4) || !get(le(i, 4))) return "a memo entry that was never stored" + where; i += 4; break;
      case op::BINPUT: if (!need(1) || !put(b[i])) return "a memo index out of sequence (or nothing to store)" + where; i += 1; break;
      case op::LONG_BINPUT: if (!need(4) || !put(le(i, 4))) return "a memo index out of sequence (or nothing to store)" + where; i += 4; break;
      case op::MEMOIZE: if (!put(memo.size())) return "MEMOIZE on an empty stack" + where; break;
      case op::PUT: case op::GET: {
        size_t from = i;
        uint64_t key = 0;
        if (!skipLine() || !lineNumber(from, key)) return "a bad memo index" + where;
        if (!(code == op::PUT ? put(key) : get(key))) return "a memo index out of sequence or never stored" + where;
        break;
      }
      case op::FLOAT: case op::INT: case op::LONG: case op::STRING: case op::UNICODE: case op::PERSID:
        if (!skipLine()) return "a cut-off line" + where;
        push(kScalar);
        break;
      case op::GLOBAL: if (!skipLine() || !skipLine()) return "a cut-off GLOBAL" + where; push(kGlobal); break;
      case op::LONG1: case op::SHORT_BINSTRING: case op::SHORT_BINBYTES: case op::SHORT_BINUNICODE: {
        if (!need(1)) return "a cut-off length" + where;
        size_t len = b[i];
        i += 1;
        if (!need(len)) return "a value reaching past the end" + where;
        i += len;
        push(kScalar);
        break;
      }
      case op::LONG4: case op::BINSTRING: case op::BINBYTES: case op::BINUNICODE: {
        if (!need(4)) return "a cut-off length" + where;
        uint64_t len = le(i, 4);
        i += 4;
        if (!need(len)) return "a value of " + std::to_string(len) + " bytes reaching past the end" + where;
        i += len;
        push(kScalar);
        break;
      }
      case op::BINUNICODE8: case op::BINBYTES8: {
        if (!need(8)) return "a cut-off length" + where;
        uint64_t len = le(i, 8);
        i += 8;
        if (!need(len)) return "a value reaching past the end" + where;
        i += len;
        push(kScalar);
        break;
      }
      case op::TUPLE: if (!popMarked()) return "TUPLE without a mark" + where; container(kTuple); break;
      case op::LIST: if (!popMarked()) return "LIST without a mark" + where; container(kList); break;
      case op::DICT: if (!popMarked() || items.size() % 2) return "DICT without a mark or with an odd count" + where; container(kDict); break;
      case op::FROZENSET: if (!popMarked()) return "FROZENSET without a mark" + where; container(kSet); break;
      case op::OBJ: if (!popMarked() || items.empty()) return "OBJ without a mark or a class" + where; container(kObject); break;
      case op::INST: if (!skipLine() || !skipLine() || !popMarked()) return "a bad INST" + where; container(kObject); break;
      case op::APPENDS: if (!popMarked() || !into(kList)) return "APPENDS without a mark or a list" + where; break;
      case op::SETITEMS: if (!popMarked() || items.size() % 2 || !into(kDict)) return "SETITEMS without a mark, a dict or key-value pairs" + where; break;
      case op::ADDITEMS: if (!popMarked() || !into(kSet)) return "ADDITEMS without a mark or a set" + where; break;
      case op::APPEND: if (!popK(1) || !into(kList)) return "APPEND without a value or a list" + where; break;
      case op::SETITEM: if (!popK(2) || !into(kDict)) return "SETITEM without a key, value or dict" + where; break;
      case op::BUILD: if (!popK(1) || !into(-1)) return "BUILD without a state or an object" + where; break;
      case op::TUPLE1: if (!popK(1)) return "TUPLE1 on an empty stack" + where; container(kTuple); break;
      case op::TUPLE2: if (!popK(2)) return "TUPLE2 with fewer than 2 values" + where; container(kTuple); break;
      case op::TUPLE3: if (!popK(3)) return "TUPLE3 with fewer than 3 values" + where; container(kTuple); break;
      case op::BINPERSID: if (!popK(1)) return "BINPERSID on an empty stack" + where; container(kObject); break;
      case op::REDUCE: case op::NEWOBJ:
        // items[0] is the arguments (top of the stack), items[1] the callable
        if (!popK(2) || nodes[items[0]].kind != kTuple) return "REDUCE without a callable and a tuple of arguments" + where;
        container(kObject);
        break;
      case op::NEWOBJ_EX: if (!popK(3)) return "NEWOBJ_EX with fewer than 3 values" + where; container(kObject); break;
      case op::STACK_GLOBAL: if (!popK(2)) return "STACK_GLOBAL with fewer than 2 values" + where; push(kGlobal); break;
      default:
        return "an unknown " + bad;
    }
    if (tooDeep) return "values nested deeper than " + std::to_string(limit) + " levels" + where;
  }
  return "no STOP opcode (the pickle is cut off)";
}

// torch::jit::pickle_load (readArchiveAndTensors) with the pickle rewritten as above.
c10::IValue LoadArchive(const std::vector<char>& bytes) {
  caffe2::serialize::PyTorchStreamReader zip(
      std::make_unique<caffe2::serialize::MemoryReadAdapter>(bytes.data(), static_cast<off_t>(bytes.size())));
  at::DataPtr ptr;
  size_t size = 0;
  std::tie(ptr, size) = zip.getRecord("data.pkl");
  const char* raw = static_cast<const char*>(ptr.get());
  std::vector<char> pickle = RewriteSingleItemOps(std::vector<char>(raw, raw + size));
  std::string problem = CheckPickle(pickle, kMaxDepth);
  if (!problem.empty()) {
    if (problem.rfind("values nested deeper", 0) == 0) throw std::runtime_error("the file nests values deeper than " + std::to_string(kMaxDepth) + " levels");
    throw std::runtime_error("its pickle (data.pkl) is malformed: " + problem);
  }
  size_t pos = 0;
  auto reader = [&](char* buffer, size_t len) -> size_t {
    if (pos >= pickle.size()) return 0;
    len = std::min(pickle.size() - pos, len);
    std::memcpy(buffer, pickle.data() + pos, len);
    pos += len;
    return len;
  };
  auto readRecord = [&](const std::string& name) { return std::get<0>(zip.getRecord("data/" + name)); };
  torch::jit::Unpickler unpickler(reader, nullptr, nullptr, readRecord, c10::nullopt);
  unpickler.set_version(zip.version());
  return unpickler.parse_ivalue();
}

// pickleLoad(buffer) -> the value tree (tensors as {__tensor: handle}).
Napi::Value PickleLoad(const Napi::CallbackInfo& info) {
  if (!info[0].IsBuffer()) throw Napi::TypeError::New(info.Env(), "pickleLoad: expected a Buffer");
  Napi::Buffer<char> buf = info[0].As<Napi::Buffer<char>>();
  std::vector<char> bytes(buf.Data(), buf.Data() + buf.Length());
  return FromIValue(info.Env(), LoadArchive(bytes));
}

}  // namespace

void RegisterSerialize(Napi::Env env, Napi::Object exports) {
  #include "gen/serialize.exports.inc"  // the Export calls of native/boundary.def
}

}  // namespace dnas
