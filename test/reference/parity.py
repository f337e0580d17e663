"""PyTorch side of test/pytorch-parity.test.ts.

Usage: python3 parity.py COMMAND IN OUT
  net       IN holds {state, x, y, weight}: one forward/backward of the reference network in
            training mode; OUT gets {loss, logits, grads, buffers}.
  autocast  as net, with the forward under torch.autocast('cpu', dtype=torch.bfloat16) and its
            logits cast to float32 before the loss (dnas's --precision bf16 recipe).
  optim     IN holds {state, x, y, weight, config}: config.steps training steps with
            torch.optim.SGD or Adam; OUT gets {losses, params, opt_state, buffers}; the model and
            optimizer state after config.checkpoint_at steps go to IN + '.ckpt' (plain dicts).
  inspect   IN is any file written by dnas; OUT gets a JSON description of what Python sees.
  write     writes to OUT a plain dict saved by Python (tensors of several dtypes, nested
            containers, numbers, strings); IN is ignored.
  ordered   writes model.state_dict() itself (an OrderedDict) to OUT; IN is ignored.

Files are torch.save files; the network is defined identically in the TypeScript test.
"""
import json
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)


def make_net():
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.Conv2d(6, 6, 3, padding=2, dilation=2, groups=2, bias=False),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 4, 1),
    )


def loss_of(net, x, y, weight):
    out = net(x)
    logits = F.interpolate(out, size=list(x.shape[2:]), mode="bilinear", align_corners=False)
    return F.cross_entropy(logits, y, weight=weight, ignore_index=255), logits


def load_net(d):
    net = make_net()
    net.load_state_dict(d["state"])
    net.train()
    return net


def cmd_net(src, dst):
    d = torch.load(src)
    net = load_net(d)
    loss, logits = loss_of(net, d["x"], d["y"], d["weight"])
    loss.backward()
    torch.save({
        "loss": loss.item(),
        "logits": logits.detach(),
        "grads": {n: p.grad for n, p in net.named_parameters()},
        "buffers": {n: b for n, b in net.named_buffers()},
    }, dst)


def cmd_autocast(src, dst):
    d = torch.load(src)
    net = load_net(d)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(d["x"])
        inner = out.dtype
    logits = F.interpolate(out.float(), size=list(d["x"].shape[2:]), mode="bilinear", align_corners=False)
    loss = F.cross_entropy(logits, d["y"], weight=d["weight"], ignore_index=255)
    loss.backward()
    torch.save({
        "loss": loss.item(),
        "logits": logits.detach(),
        "bf16": inner == torch.bfloat16,
        "grads": {n: p.grad for n, p in net.named_parameters()},
    }, dst)


def make_opt(params, c):
    if c["kind"] == "sgd":
        return torch.optim.SGD(params, lr=c["lr"], momentum=c["momentum"], nesterov=c["nesterov"], weight_decay=c["weight_decay"])
    return torch.optim.Adam(params, lr=c["lr"], betas=tuple(c["betas"]), eps=c["eps"], weight_decay=c["weight_decay"])


def cmd_optim(src, dst):
    d = torch.load(src)
    c = d["config"]
    net = load_net(d)
    opt = make_opt(net.parameters(), c)
    losses, norms = [], []
    for step in range(c["steps"]):
        if step == c["checkpoint_at"]:
            torch.save({"model": dict(net.state_dict()), "optimizer": opt.state_dict()}, src + ".ckpt")
        opt.zero_grad()
        loss, _ = loss_of(net, d["x"], d["y"], d["weight"])
        loss.backward()
        if c.get("max_grad_norm"):
            norms.append(torch.nn.utils.clip_grad_norm_(net.parameters(), c["max_grad_norm"]).item())
        opt.step()
        losses.append(loss.item())
    torch.save({
        "losses": losses,
        "norms": norms,
        "params": {n: p.detach() for n, p in net.named_parameters()},
        "buffers": {n: b for n, b in net.named_buffers()},
    }, dst)


def describe(v):
    if isinstance(v, torch.Tensor):
        return {"tensor": str(v.dtype).replace("torch.", ""), "shape": list(v.shape), "values": v.flatten().tolist()}
    if isinstance(v, dict):
        return {"dict": {str(k): describe(x) for k, x in v.items()}, "keys": [type(k).__name__ for k in v]}
    if isinstance(v, (list, tuple)):
        return {type(v).__name__: [describe(x) for x in v]}
    return {type(v).__name__: v}


def cmd_inspect(src, dst):
    with open(dst, "w") as f:
        json.dump(describe(torch.load(src)), f)


def cmd_write(_src, dst):
    shared = {"x": [1]}
    t = torch.tensor([9.0])
    torch.save({
        "f32": torch.tensor([[1.5, -2.0], [3.25, 4.0]]),
        "f64": torch.tensor([0.1, 0.2], dtype=torch.float64),
        "i64": torch.tensor([1, -2, 3]),
        "bool": torch.tensor([True, False]),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "noncontig": torch.arange(6.0).reshape(2, 3).t(),
        "scalar": torch.tensor(7.0),
        "int": 3,
        "float": 0.5,
        "str": "hello",
        "none": None,
        "flag": True,
        "list": [1, 2.5, "x"],
        "tuple": (4, 5),
        "nested": {"a": {"b": torch.ones(2)}},
        # Single-item containers (pickled with SETITEM/APPEND) in every position, and memo references.
        "one": [{"k": [[5]]}],
        "shared": [shared, shared, {"again": shared}],
        "same_tensor": [t, {"t": t}],
    }, dst)


def cmd_ordered(_src, dst):
    torch.save(make_net().state_dict(), dst)


if __name__ == "__main__":
    cmd, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
    {"net": cmd_net, "autocast": cmd_autocast, "optim": cmd_optim, "inspect": cmd_inspect, "write": cmd_write, "ordered": cmd_ordered}[cmd](src, dst)
