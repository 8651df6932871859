#!/usr/bin/env python3
"""PyTorch CPU baseline for `sprout bench cnn`: one training step (batch 128, Adam) of the SWE CIFAR-10 backbone
with a 2048-40-10 head on random 3x32x32 data, channels-last (its fastest layout here). With --lc CASES, instead the
locally connected layers of paper 003 written the way a PyTorch user writes one (F.unfold, then a batched matmul:
torch.bmm over positions, or torch.einsum), forward + backward. Prints JSON, one object per line."""
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


def lc_bmm(x, w, b, k, s, oh, ow):
    """x [N, C, H, W], w [P, K, F], b [P, F] -> [N, F, OH, OW]: patches [P, N, K] @ w, one matmul per position."""
    cols = F.unfold(x, k, stride=s)                      # [N, K, P]
    out = torch.bmm(cols.permute(2, 0, 1), w)            # [P, N, F]
    out = out + b.unsqueeze(1)
    return out.permute(1, 2, 0).reshape(x.shape[0], w.shape[2], oh, ow)


def lc_einsum(x, w, b, k, s, oh, ow):
    cols = F.unfold(x, k, stride=s)                      # [N, K, P]
    out = torch.einsum("nkp,pkf->nfp", cols, w) + b.t()  # [N, F, P]
    return out.reshape(x.shape[0], w.shape[2], oh, ow)


def best_of(body, target=0.5):
    """Like Sprout's BenchCommands.BestOf: warm up, then the best of 5 rounds of the mean over a round."""
    body()
    t0 = time.perf_counter()
    body()
    one = max(time.perf_counter() - t0, 1e-7)
    reps = int(min(max(target / 5 / one, 1), 100000))
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            body()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best


def run_lc(cases, threads):
    """Each case [name, n, c, h, f, k, s]: forward + backward (gradients of x, w and b), seconds, per variant."""
    torch.manual_seed(0)
    for name, n, c, h, f, k, s in cases:
        oh = (h - k) // s + 1
        p, kk = oh * oh, c * k * k
        x = torch.rand(n, c, h, h, requires_grad=True)
        w = (torch.rand(p, kk, f) * 0.2 - 0.1).requires_grad_()
        b = torch.zeros(p, f, requires_grad=True)
        g = torch.rand(n, f, oh, oh)
        res = {"lc": name, "threads": threads}
        for label, fn in (("bmm", lc_bmm), ("einsum", lc_einsum)):
            def step():
                x.grad = w.grad = b.grad = None
                fn(x, w, b, k, s, oh, oh).backward(g)
            res[label] = best_of(step)
        print(json.dumps(res), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--channels-last", type=int, default=1)
    ap.add_argument("--lc", type=str, default=None, help="JSON list of [name, n, c, h, f, k, s] locally connected cases")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.lc:
        run_lc(json.loads(args.lc), args.threads)
        return
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
