#!/usr/bin/env python3
"""PyTorch CPU baseline for `sprout bench convnets`: one training step (batch 128, SGD momentum 0.9, weight decay
5e-4, paper 002's optimiser) of VGG16 or MobileNetV1 for 32x32 inputs at a uniform width (Firefly's growing
variants, as Sprout's Models.Vgg16 / Models.MobileNetV1 with uniform=true), on random 3x32x32 data, channels-last
(its fastest layout here). Prints one JSON line per case."""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def cba(cin, cout, k, stride, pad, act, groups=1):
    return [nn.Conv2d(cin, cout, k, stride=stride, padding=pad, groups=groups, bias=False), nn.BatchNorm2d(cout), act()]


def vgg16(width, classes=10):
    layers, cin = [], 3
    for m in [1, 1, 0, 2, 2, 0, 4, 4, 4, 0, 8, 8, 8, 0, 8, 8, 8, 0]:
        if m == 0:
            layers.append(nn.MaxPool2d(2))
            continue
        layers += cba(cin, width, 3, 1, 1, nn.ReLU)
        cin = width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(cin, classes))


def mobilenetv1(width, classes=10):
    strides = [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]
    layers = cba(3, width, 3, 1, 1, nn.SiLU)
    for s in strides:
        layers += cba(width, width, 3, s, 1, nn.SiLU, groups=width)  # depthwise
        layers += cba(width, width, 1, 1, 0, nn.SiLU)  # pointwise
    return nn.Sequential(*layers, nn.AvgPool2d(2), nn.Flatten(), nn.Linear(width, classes))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--cases", required=True, help='JSON list of [model, width], e.g. [["vgg16",16]]')
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--channels-last", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for name, width in json.loads(args.cases):
        torch.manual_seed(0)
        model = {"vgg16": vgg16, "mobilenetv1": mobilenetv1}[name](width)
        x = torch.rand(args.batch, 3, 32, 32)
        if args.channels_last:
            model = model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (args.batch,))
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
        times = []
        for i in range(args.steps + 5):
            t0 = time.perf_counter()
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
            if i >= 5:
                times.append(time.perf_counter() - t0)
        times.sort()
        print(json.dumps({"model": name, "width": width, "threads": args.threads, "params": sum(p.numel() for p in model.parameters()),
                          "channels_last": bool(args.channels_last), "median": times[len(times) // 2], "best": times[0]}), flush=True)


if __name__ == "__main__":
    main()
