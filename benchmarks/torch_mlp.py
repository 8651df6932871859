#!/usr/bin/env python3
"""PyTorch CPU baseline for `sprout bench mlp` (run by it in the same process tree, same cases).

Best setting found on the reference machine: index_select batching from one in-memory tensor, glibc told to
keep freed memory (set by the caller through MALLOC_* variables), OPENBLAS_CORETYPE unset, N threads.
Prints one JSON object per case on stdout.
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def build(widths):
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def epoch(model, opt, x, y, batch, perm):
    n = x.shape[0]
    for i in range(0, n, batch):
        idx = perm[i:i + batch]
        xb = x.index_select(0, idx)
        yb = y.index_select(0, idx)
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", required=True, help="JSON list of [widths, batch]")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--reps", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.rand(args.samples, 784)
    y = torch.randint(0, 10, (args.samples,))
    for widths, batch in json.loads(args.cases):
        model = build(widths)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        warm = args.samples // 10
        epoch(model, opt, x[:warm], y[:warm], batch, torch.randperm(warm))
        best = float("inf")
        for _ in range(args.reps):
            perm = torch.randperm(args.samples)
            t0 = time.perf_counter()
            epoch(model, opt, x, y, batch, perm)
            best = min(best, time.perf_counter() - t0)
        print(json.dumps({"widths": widths, "batch": batch, "threads": args.threads, "seconds": best}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
