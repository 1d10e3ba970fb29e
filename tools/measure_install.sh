#!/bin/sh
# What a Colab user downloads and installs: the wheel's size, the size of the repository archive that the
# installer cell fetches (the current tree, no history), and a fresh venv's install time from that archive
# (--no-deps: Colab already has torch, torchvision, numpy, matplotlib, ipywidgets and tqdm).
#   tools/measure_install.sh            # prints the three numbers
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
git -C "$root" archive --format=zip --prefix=diffusion-step-by-step-main/ HEAD > "$tmp/main.zip"
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" -q wheel --no-deps "$tmp/main.zip" -w "$tmp/wheel" 2>/dev/null
start=$(date +%s.%N)
"$tmp/venv/bin/pip" -q install --no-deps "$tmp/main.zip" 2>/dev/null
end=$(date +%s.%N)
echo "archive (what the installer downloads): $(du -k "$tmp/main.zip" | cut -f1) KB"
echo "wheel: $(du -k "$tmp"/wheel/*.whl | cut -f1) KB"
echo "fresh install from the archive, no deps: $(echo "$end - $start" | bc) s"
