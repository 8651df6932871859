#!/usr/bin/env bash
# Scaling over MPI ranks on this machine (docs/performance.md, "MPI"): a sweep of single-threaded runs, serial against
# `mpiexec -n 2`, and data-parallel training (`--data-parallel`) of an MLP on MNIST and of the CIFAR conv backbone
# (Models.SweBackbone) against one process with 1 and 2 threads. Needs mpich (mpiexec) and MNIST in the data folder;
# the backbone runs on CIFAR-10 when it is there, else on random CIFAR-shaped images (the cost is the same).
# Run it alone on the machine: it measures wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v mpiexec >/dev/null || { echo "mpiexec is missing: apt-get install mpich"; exit 1; }
dotnet build src/Sprout.Cli -c Release -nologo -v q >/dev/null
cli="dotnet $PWD/src/Sprout.Cli/bin/Release/net10.0/Sprout.Cli.dll"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
secs() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }
# steady-state epoch time: wall seconds between the last two metrics rows of a run folder
epoch() { tail -2 "$1/metrics.csv" | awk -F, 'NR==1{a=$10} NR==2{printf "%.3f", $10-a}'; }

echo "== sweep: 8 runs (spirals, MLP 2-512-512-2, 30 epochs), one thread each"
$cli train --dataset spirals --widths 2-512-512-2 --epochs 30 --train-samples 4000 --threads 1 --out "$work/base" --no-progress >/dev/null
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
base = json.load(open(f"{w}/base/config.json"))
json.dump({"base": base, "axes": {"growth.seed": [0, 1, 2, 3], "growth.learningRate": [0.001, 0.01]}}, open(f"{w}/spec.json", "w"))
PY
s1=$(secs $cli sweep "$work/spec.json" --out "$work/sw1" --threads 1)
s2=$(secs mpiexec -n 2 $cli sweep "$work/spec.json" --out "$work/sw2")
cmp -s "$work/sw1/sweep.json" "$work/sw2/sweep.json" && same=identical || same=DIFFERENT
echo "serial ${s1} s, mpiexec -n 2 ${s2} s, ratio $(python3 -c "print(f'{$s2/$s1:.2f}')"), results $same"

dp() {  # name, then train options
  local name=$1; shift
  $cli train "$@" --threads 1 --out "$work/$name-1t" --no-progress >/dev/null
  $cli train "$@" --threads 2 --out "$work/$name-2t" --no-progress >/dev/null
  mpiexec -n 2 $cli train "$@" --threads 1 --out "$work/$name-2r" --no-progress --data-parallel >/dev/null
  local t1 t2 r2
  t1=$(epoch "$work/$name-1t"); t2=$(epoch "$work/$name-2t"); r2=$(epoch "$work/$name-2r")
  echo "$name: epoch 1 process 1 thread ${t1} s, 1 process 2 threads ${t2} s, 2 ranks x 1 thread ${r2} s;" \
       "speed-up $(python3 -c "print(f'{$t1/$r2:.2f}')")x, efficiency $(python3 -c "print(f'{$t1/(2*$r2):.0%}')")" \
       "(2 threads: $(python3 -c "print(f'{$t1/$t2:.2f}')")x)"
}
echo "== data-parallel training, 3 epochs, the last one timed (global batch 100: 50 per rank)"
dp mlp-784-16-16-10 --dataset mnist --widths 784-16-16-10 --epochs 3
dp mlp-784-256-256-10 --dataset mnist --widths 784-256-256-10 --epochs 3
data=""
if [ ! -s "${SPROUT_DATA:-$HOME/.cache/sprout/data}/cifar10/data_batch_1.bin" ]; then
  mkdir -p "$work/data/cifar10"
  python3 - "$work/data/cifar10" <<'PY'
import os, sys
for name in [f"data_batch_{b}.bin" for b in range(1, 6)] + ["test_batch.bin"]:
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        for i in range(2000):
            f.write(bytes([i % 10]) + os.urandom(3072))
PY
  data="--data-dir $work/data"
  echo "(random CIFAR-shaped images: CIFAR-10 is not in the data folder)"
fi
# the CIFAR backbone of paper 000's Table 3 (Models.SweBackbone), from the config swe-classification writes
$cli experiment swe-classification --dataset cifar10 $data --methods baseline --seeds 1 --max-epochs 1 --train-samples 200 \
  --threads 1 --out "$work/cifexp" >/dev/null
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
g = json.load(open(f"{w}/cifexp/cifar10/one-hidden/baseline/seed-0/config.json"))["growth"]
g["initialTraining"] = {"epochs": 3, "earlyStopping": False, "patience": 1, "maxEpochs": 3}
json.dump(g, open(f"{w}/backbone.json", "w"))
PY
dp backbone --dataset cifar10 $data --config "$work/backbone.json" --epochs 3 --train-samples 10000
