#!/usr/bin/env bash
# Runs Sprout's benchmarks (which run the PyTorch baseline in the same run and print the ratios).
# Usage: benchmarks/run.sh [gemm|mlp|cnn|convnets|all] [extra sprout bench options]
set -euo pipefail
cd "$(dirname "$0")/.."
unset OPENBLAS_CORETYPE   # halves OpenBLAS (and so PyTorch) speed on this machine when set
what="${1:-all}"; shift || true
dotnet build src/Sprout.Cli -c Release -nologo -v q >/dev/null
cli="dotnet src/Sprout.Cli/bin/Release/net10.0/Sprout.Cli.dll"
case "$what" in
  gemm) $cli bench gemm "$@" ;;
  mlp)  $cli bench mlp "$@" ;;
  cnn)  $cli bench cnn "$@" ;;
  convnets) $cli bench convnets "$@" ;;
  all)  $cli bench gemm "$@"; $cli bench mlp "$@"; $cli bench cnn "$@"; $cli bench convnets "$@" ;;
  *) echo "usage: benchmarks/run.sh [gemm|mlp|cnn|convnets|all] [options]" >&2; exit 2 ;;
esac
