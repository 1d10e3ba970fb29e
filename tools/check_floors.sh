#!/usr/bin/env bash
# Re-check the dependency floors declared in pyproject.toml: build a venv with the oldest versions
# we claim to support (Colab-era ipywidgets 7, torch 2.1, NumPy 1) and run the unit tests and the
# quick notebooks with it. Nothing is installed into the repo: helpers is found through PYTHONPATH.
#
#   tools/check_floors.sh [VENV_DIR]        (default /tmp/floors; reused if it exists)
#   PYTHON=python3.11 tools/check_floors.sh  picks the interpreter (default python3)
#
# torch 2.1 from PyPI pulls ~2.5 GB of CUDA wheels (5 GB venv); the tests need no GPU.
# Last checked with Python 3.11.7 (Nov 2026): unit tests and quick notebooks pass.
# Python 3.9 (the requires-python floor) was not checked: pip's resolver backtracked for over 10
# minutes on the Jupyter stack there.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-/tmp/floors}
PYTHON=${PYTHON:-python3}

PINS=$(mktemp)
trap 'rm -f "$PINS"' EXIT
cat > "$PINS" <<'EOF'
torch==2.1.2            # floor torch>=2.1 (latest 2.1 patch)
torchvision==0.16.2     # floor torchvision>=0.16, the release paired with torch 2.1
numpy==1.23.5           # floor numpy>=1.23; torch 2.1 needs numpy<2 anyway
matplotlib==3.7.0       # floor matplotlib>=3.7 (3.6 breaks %matplotlib inline with matplotlib-inline>=0.2)
ipywidgets==7.6.5       # floor ipywidgets>=7.6 (Colab ships 7.7, which passed too)
tqdm==4.60.0            # floor tqdm>=4.60
diffusers==0.27.2       # tests compare with diffusers; a release of the torch 2.1 era
huggingface_hub<0.26    # diffusers < 0.28 imports cached_download, removed in huggingface_hub 0.26
EOF

test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q -c "$PINS" \
    torch torchvision numpy matplotlib ipywidgets tqdm \
    diffusers pytest nbval mlxtend scipy nbconvert ipykernel
"$VENV/bin/python" -c 'import sys, torch, torchvision, numpy, matplotlib, ipywidgets, tqdm, diffusers
print("python", sys.version.split()[0], "torch", torch.__version__, "torchvision", torchvision.__version__,
      "numpy", numpy.__version__, "matplotlib", matplotlib.__version__, "ipywidgets", ipywidgets.__version__,
      "tqdm", tqdm.__version__, "diffusers", diffusers.__version__)'

# PYTHONPATH reaches the notebook kernels too (nbval --nbval-current-env runs this venv's python).
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" OMP_WAIT_POLICY=PASSIVE
rc=0
"$VENV/bin/python" -m pytest tests/ -q -p no:cacheprovider || rc=1
DIFFUSION_QUICK=1 MPLBACKEND=agg "$VENV/bin/python" -m pytest notebooks/ -q -p no:cacheprovider \
    --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg || rc=1
exit $rc
