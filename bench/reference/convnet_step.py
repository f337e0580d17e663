"""PyTorch side of bench/convnet-step: the same conv-net training step as bench/convnet-step.ts.

Usage: /usr/bin/python3 bench/reference/convnet_step.py THREADS ITERS
Prints one JSON line: {"step_ms": median, "op_us": trivial op cost}.
"""
import json
import statistics
import sys
import time

import torch

threads, iters = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
net = torch.nn.Sequential(
    torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.ReLU(),
    torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU(),
    torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU(),
    torch.nn.Conv2d(32, 19, 1),
)
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
x = torch.randn(4, 3, 64, 128)
y = torch.randint(0, 19, (4, 64, 128))


def step():
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(net(x), y)
    loss.backward()
    opt.step()


for _ in range(3):
    step()
times = []
for _ in range(iters):
    t0 = time.perf_counter()
    step()
    times.append((time.perf_counter() - t0) * 1e3)

a = torch.ones(1)
n = 200000
for _ in range(1000):
    a.add(a)
t0 = time.perf_counter()
for _ in range(n):
    a.add(a)
op_us = (time.perf_counter() - t0) / n * 1e6
print(json.dumps({"step_ms": statistics.median(times), "op_us": op_us}))
