// Collective communication over libtorch's own c10d: a TCPStore for the rendezvous and a
// ProcessGroupGloo for the collectives (CPU tensors). One process group per process, as with
// torch.distributed's default group.
//
// Every collective is blocking and in place. A list of tensors travels as one flat buffer (one
// message per call instead of one per tensor: the "bucket" of DistributedDataParallel, here the
// whole list), then is copied back. A rank that does not answer within the group's timeout makes
// the call throw, which the TypeScript side turns into an error naming the rank and the fix.
//
// Built only when gloo's headers are present (scripts/setup.sh installs Debian's libgloo-dev);
// without them the entry points exist and say how to get them.
#include "common.h"

#ifdef DNAS_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

namespace dnas {
namespace {

#ifdef DNAS_WITH_GLOO

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  int rank = 0;
  int world = 1;
};
Group* group = nullptr;

Group& Need(Napi::Env env, const char* what) {
  if (!group) throw Napi::Error::New(env, std::string(what) + ": no process group (call distributed.initProcessGroup first)");
  return *group;
}

// The gloo device: the interface GLOO_SOCKET_IFNAME names, the loopback address when the master is
// on this machine, otherwise this machine's host name (gloo falls back to loopback).
std::shared_ptr<::gloo::transport::Device> MakeDevice(const std::string& addr) {
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifname && *ifname) return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (addr == "127.0.0.1" || addr == "localhost") return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

// distInit(addr, port, rank, world, timeoutMs)
Napi::Value DistInit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string addr = StringArg(info, 0, "addr");
  int64_t port = IntArg(info, 1, "port");
  int64_t rank = IntArg(info, 2, "rank");
  int64_t world = IntArg(info, 3, "world");
  int64_t timeoutMs = IntArg(info, 4, "timeoutMs");
  if (group) throw Napi::Error::New(env, "distInit: a process group exists already");
  if (port < 1 || port > 65535) throw Napi::RangeError::New(env, "distInit: port must be in [1, 65535], got " + std::to_string(port));
  if (world < 1 || rank < 0 || rank >= world)
    throw Napi::RangeError::New(env, "distInit: rank " + std::to_string(rank) + " is not in [0, world size " + std::to_string(world) + ")");
  if (timeoutMs < 1) throw Napi::RangeError::New(env, "distInit: timeoutMs must be positive");
  auto timeout = std::chrono::milliseconds(timeoutMs);
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(port);
  so.isServer = rank == 0;
  so.numWorkers = static_cast<std::size_t>(world);
  so.waitWorkers = true;
  so.timeout = timeout;
  auto g = std::make_unique<Group>();
  g->store = c10::make_intrusive<c10d::TCPStore>(addr, so);
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  opts->devices.push_back(MakeDevice(addr));
  opts->threads = 1;
  g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, static_cast<int>(rank), static_cast<int>(world), opts);
  g->rank = static_cast<int>(rank);
  g->world = static_cast<int>(world);
  group = g.release();
  return env.Undefined();
}

// The tensors of a collective as one flat contiguous buffer (the list's own tensor when it has one).
at::Tensor Flat(Napi::Env env, const std::vector<at::Tensor>& ts, const char* what) {
  if (ts.empty()) throw Napi::Error::New(env, std::string(what) + ": no tensors");
  for (const auto& t : ts) {
    if (!t.device().is_cpu()) throw Napi::Error::New(env, std::string(what) + ": the gloo group takes CPU tensors");
    if (t.scalar_type() != ts[0].scalar_type()) throw Napi::Error::New(env, std::string(what) + ": all tensors must have the same dtype");
  }
  if (ts.size() == 1 && ts[0].is_contiguous()) return ts[0];
  std::vector<at::Tensor> flat;
  flat.reserve(ts.size());
  for (const auto& t : ts) flat.push_back(t.reshape({-1}));
  return at::cat(flat);
}

void Unflat(const at::Tensor& buf, const std::vector<at::Tensor>& ts) {
  if (ts.size() == 1 && ts[0].is_same(buf)) return;
  int64_t off = 0;
  for (const auto& t : ts) {
    int64_t n = t.numel();
    const_cast<at::Tensor&>(t).copy_(buf.narrow(0, off, n).view(t.sizes()));
    off += n;
  }
}

void Wait(Napi::Env env, const c10::intrusive_ptr<c10d::Work>& w, const char* what) {
  try {
    w->wait();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string(what) + " failed on rank " + std::to_string(group ? group->rank : -1) + ": " + e.what());
  }
}

// Runs collective `run` in place over `ts`, as one flat buffer copied back afterwards.
template <typename Run>
void InPlace(Napi::Env env, const std::vector<at::Tensor>& ts, const char* what, Run run) {
  at::NoGradGuard ng;
  at::Tensor buf = Flat(env, ts, what);
  std::vector<at::Tensor> v{buf};
  Wait(env, run(v), what);
  Unflat(buf, ts);
}

// distAllReduce(handles, op): op 0 sum, 1 max, 2 min.
Napi::Value DistAllReduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Group& g = Need(env, "allReduce");
  auto ts = TensorListArg(info, 0, "tensors");
  int64_t op = IntArg(info, 1, "op");
  c10d::AllreduceOptions o;
  if (op == 0) o.reduceOp = c10d::ReduceOp::SUM;
  else if (op == 1) o.reduceOp = c10d::ReduceOp::MAX;
  else if (op == 2) o.reduceOp = c10d::ReduceOp::MIN;
  else throw Napi::RangeError::New(env, "allReduce: op must be 0 (sum), 1 (max) or 2 (min)");
  InPlace(env, ts, "allReduce", [&](std::vector<at::Tensor>& v) { return g.pg->allreduce(v, o); });
  return env.Undefined();
}

// distBroadcast(handles, root)
Napi::Value DistBroadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Group& g = Need(env, "broadcast");
  auto ts = TensorListArg(info, 0, "tensors");
  int64_t root = IntArg(info, 1, "root");
  if (root < 0 || root >= g.world) throw Napi::RangeError::New(env, "broadcast: root " + std::to_string(root) + " is not a rank");
  c10d::BroadcastOptions o;
  o.rootRank = root;
  InPlace(env, ts, "broadcast", [&](std::vector<at::Tensor>& v) { return g.pg->broadcast(v, o); });
  return env.Undefined();
}

Napi::Value DistBarrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Group& g = Need(env, "barrier");
  Wait(env, g.pg->barrier(), "barrier");
  return env.Undefined();
}

Napi::Value DistDestroy(const Napi::CallbackInfo& info) {
  delete group;
  group = nullptr;
  return info.Env().Undefined();
}

Napi::Value DistAvailable(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), ""); }

#else  // no gloo headers at build time

const char* kNoGloo =
    "this dnas addon was built without gloo, so it cannot run on several processes: install gloo's headers "
    "(apt install libgloo-dev) and run scripts/setup.sh again";

Napi::Value Unavailable(const Napi::CallbackInfo& info) { throw Napi::Error::New(info.Env(), kNoGloo); }
Napi::Value DistDestroy(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }
Napi::Value DistAvailable(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), kNoGloo); }
#define DistInit Unavailable
#define DistAllReduce Unavailable
#define DistBroadcast Unavailable
#define DistBarrier Unavailable

#endif

}  // namespace

void RegisterDistributed(Napi::Env env, Napi::Object exports) {
  #include "gen/distributed.exports.inc"  // the Export calls of native/boundary.def
}

}  // namespace dnas
