#!/usr/bin/env python3
"""Cost of one growth step per method, against one training epoch of the same model.

Runs `sprout grow` once per (method, model) on MNIST, one thread, and reads the run folder:
- events.jsonl: `distributeSeconds` and `extendSeconds` (the method's own time, whole model) and `seconds`
  (the whole growth step with the runner's measurements around it);
- metrics.csv: the wall time between the two epochs of the initial training (one epoch of the initial model) and
  between the two epochs of the second stage (one epoch of the grown model), each with its validation pass.
Two growth steps are run and the second is reported, so JIT compilation and first-touch memory are paid by then.

Usage: benchmarks/growth_costs.py [--samples N] [--methods ext:dist,...] [--models mlp,conv] [--out DIR]
Prints a markdown table. Build first (dotnet build -c Release); run alone (timings).
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "src", "Sprout.Cli", "bin", "Release", "net10.0", "Sprout.Cli")
CONV_EXAMPLE = os.path.join(ROOT, "docs", "examples", "grow-cnn-mnist.json")

DEFAULT_METHODS = [
    "random:ras", "kaiming:ras", "frobenius:ras", "net2net:ras", "gradmax:ras", "swe:ras", "swe-reference:ras",
    "swe-plus:ras", "random:svod", "random:svod-topn",
]


def run(method, model, samples, out, seed):
    ext, dist = method.split(":")
    folder = os.path.join(out, f"{model}-{ext}-{dist}")
    args = [CLI, "grow", "--threads", "1", "--no-progress", "--train-samples", str(samples), "--seed", str(seed),
            "--out", folder]
    if model == "mlp":
        args += ["--widths", "784-64-64-10", "--extender", ext, "--distributor", dist, "--stages", "2",
                 "--grow-percent", "50", "--epochs", "2"]
    else:
        with open(CONV_EXAMPLE) as f:
            cfg = json.load(f)
        cfg["extender"] = ext
        cfg["distributor"] = dist
        cfg["schedule"] = {"percent": 50, "stages": 2}
        cfg["initialTraining"] = {"epochs": 2}
        cfg["stageTraining"] = {"epochs": 2}
        cfg["seed"] = seed
        path = os.path.join(out, f"conv-{ext}-{dist}.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        args += ["--config", path]
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    p = subprocess.run(args, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        return None, (p.stderr.strip() or p.stdout.strip()).splitlines()[-1:]
    with open(os.path.join(folder, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    ini = [float(r["seconds"]) for r in rows if r["phase"] == "initial"]
    stg = [float(r["seconds"]) for r in rows if r["phase"] == "stage" and r["stage"] == "2"]
    with open(os.path.join(folder, "events.jsonl")) as f:
        ev = [json.loads(line) for line in f if line.strip()]
    ev = [e for e in ev if e["stage"] == 2][0]   # the second growth step: JIT and first-touch costs are paid by then
    return {
        "epoch_initial": ini[1] - ini[0],
        "epoch_grown": stg[1] - stg[0],
        "distribute": ev.get("distributeSeconds", float("nan")),
        "extend": ev.get("extendSeconds", float("nan")),
        "step": ev["seconds"],
        "widths": [rows[-1][k] for k in rows[-1] if k.startswith("width:")],
    }, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10000, help="training samples (stratified subset of MNIST)")
    ap.add_argument("--methods", default=",".join(DEFAULT_METHODS), help="extender:distributor pairs")
    ap.add_argument("--models", default="mlp,conv")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=None, help="folder for the run folders (default: a temporary one)")
    a = ap.parse_args()
    if not os.path.exists(CLI):
        sys.exit(f"build first: {CLI} is missing")
    out = a.out or tempfile.mkdtemp(prefix="sprout-growth-costs-")
    print(f"MNIST, {a.samples} training samples, one thread, the second of two growth steps of +50% (2 epochs before each); run folders in {out}\n")
    print("| model | extender | distributor | widths after | epoch (initial → grown) | distribute | extend | whole step | method ÷ grown epoch |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for model in a.models.split(","):
        for m in a.methods.split(","):
            r, err = run(m, model, a.samples, out, a.seed)
            ext, dist = m.split(":")
            if r is None:
                print(f"| {model} | {ext} | {dist} | failed: {' '.join(err)} | | | | | |")
                continue
            own = r["distribute"] + r["extend"]
            print(f"| {model} | {ext} | {dist} | {','.join(r['widths'])} | {r['epoch_initial']:.3f} → {r['epoch_grown']:.3f} s | "
                  f"{r['distribute']:.3f} s | {r['extend']:.3f} s | {r['step']:.3f} s | {own / r['epoch_grown']:.2f} |")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
