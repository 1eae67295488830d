#!/usr/bin/env bash
# Create the optional virtual environment that holds the peer libraries.
#
# The peers live in their own environment (benchmarks/.peer-venv, git-ignored) so
# they never mix with mtlrec's dependencies. torch is installed first and pinned
# to the CPU build this machine serves for 2.13.0; every later install is told to
# keep it, so a peer's loose `torch>=...` requirement cannot pull a CUDA build.
#
# Usage: bash benchmarks/peers/setup.sh [--force]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$(cd "$here/.." && pwd)/.peer-venv"
torch_version="2.13.0"

if [[ "${1:-}" == "--force" ]]; then
    rm -rf "$venv"
fi
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
fi
py="$venv/bin/python"

"$py" -m pip install --upgrade pip
"$py" -m pip install "torch==${torch_version}"

# deepctr-torch imports `requests` (for a version check) without declaring it,
# so it is listed below by hand.
#
# Keep the torch that is already there: a constraints file makes pip fail loudly
# instead of swapping it for another build.
constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
"$py" -c "import torch; print(f'torch=={torch.__version__}')" >"$constraints"

"$py" -m pip install -c "$constraints" \
    "torch-rechub==0.9.0" \
    "deepctr-torch==0.3.0" \
    "pandas==3.1.1" "pyarrow==26.0.1" "scikit-learn==1.9.1" "psutil==7.2.2" \
    "tqdm==4.70.1" "numpy==2.4.6" "requests==2.34.2"

"$py" - <<'PY'
import deepctr_torch
import torch
import torch_rechub

print(f"torch {torch.__version__}, torch-rechub {torch_rechub.__version__}, "
      f"deepctr-torch {deepctr_torch.__version__}")
PY
