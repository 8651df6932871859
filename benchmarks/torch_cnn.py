#!/usr/bin/env python3
"""PyTorch CPU baseline for `sprout bench cnn`: one training step (batch 128, Adam) of the SWE CIFAR-10 backbone
with a 2048-40-10 head on random 3x32x32 data, channels-last (its fastest layout here). Prints JSON."""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def block(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


def backbone():
    return nn.Sequential(*block(3, 16), *block(16, 16), nn.MaxPool2d(2), *block(16, 32), *block(32, 32), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(2048, 40), nn.ReLU(), nn.Linear(40, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--channels-last", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = backbone()
    x = torch.rand(128, 3, 32, 32)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (128,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for i in range(args.steps + 5):
        t0 = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if i >= 5:
            times.append(time.perf_counter() - t0)
    times.sort()
    print(json.dumps({"threads": args.threads, "channels_last": bool(args.channels_last), "median": times[len(times) // 2],
                      "best": times[0]}))


if __name__ == "__main__":
    main()
