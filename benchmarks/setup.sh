#!/usr/bin/env bash
# Installs the PyTorch baseline the benchmarks compare against: Debian's python3-torch with OpenBLAS
# (without an optimized BLAS, Debian's torch falls back to the reference BLAS and runs 10-30x slower).
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then echo "run as root (apt-get)"; exit 1; fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch libopenblas0-pthread
/usr/bin/python3 -c "import torch; print('torch', torch.__version__)"
