"""PyTorch side of bench/alloc-matrix: the same conv net and steps as bench/alloc-matrix.ts.

Usage: /usr/bin/python3 bench/reference/convnet_shape.py BATCH HEIGHT WIDTH CHANNELS THREADS ITERS
Prints one JSON line: {"trainMs": median, "evalMs": median, "maxRssMiB": peak RSS}.
DNAS_BENCH_TORCH_MEMORY_FORMAT=channels-last: the net and input in PyTorch's channels-last layout.
"""
import os
import json
import resource
import statistics
import sys
import time

import torch

n, h, w, c, threads, iters = (int(v) for v in sys.argv[1:7])
torch.set_num_threads(threads)
torch.manual_seed(0)
net = torch.nn.Sequential(
    torch.nn.Conv2d(3, c, 3, stride=2, padding=1), torch.nn.ReLU(),
    torch.nn.Conv2d(c, c, 3, padding=1), torch.nn.ReLU(),
    torch.nn.Conv2d(c, c, 3, padding=1), torch.nn.ReLU(),
    torch.nn.Conv2d(c, 19, 1),
)
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
x = torch.randn(n, 3, h, w)
if os.environ.get('DNAS_BENCH_TORCH_MEMORY_FORMAT') == 'channels-last':
    net = net.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
y = torch.randint(0, 19, (n, (h + 1) // 2, (w + 1) // 2))


def train():
    opt.zero_grad()
    torch.nn.functional.cross_entropy(net(x), y, ignore_index=255).backward()
    opt.step()


def evaluate():
    with torch.no_grad():
        net(x).sum().item()


def timed(fn):
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


for _ in range(3):
    train()
train_ms = timed(train)
net.eval()
for _ in range(2):
    evaluate()
eval_ms = timed(evaluate)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"trainMs": train_ms, "evalMs": eval_ms, "maxRssMiB": rss}))
