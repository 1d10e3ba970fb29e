#!/bin/bash
# Quality draws on a lent GPU, in one call of the device tool (docs/maintaining.md, "Draws on a lent GPU").
#
#   bash tools/device_draws.sh JOBS SECONDS [PARALLEL [DEVICE]]
#
# JOBS: a file of `python -m benchmarks.quality` options, one draw per line (# comments and blank lines
# skipped), each with its own `--out NAME.json`, a bare name. Each draw runs from the repository with
# `--device DEVICE` (default cuda) and `--out runs/draws/NAME.json`, the command its results file records.
# PARALLEL draws run at a time (default 8). A draw whose results file is already in runs/draws/ is skipped (a
# warm machine keeps an earlier call's). None starts after SECONDS, and those still running then are killed.
# The results files this call finished and a log are packed into $OUT/draws.tar.gz, since the device tool
# returns at most 8 files. The datasets are read from $DIFFUSION_DATA, by default .device/data, which the call
# carries.
set -u
jobs=$(realpath "$1") seconds=$2 parallel=${3:-8} device=${4:-cuda}
out=$(realpath -m "${OUT:-device-out}")
cd "$(dirname "$0")/.." || exit  # the repository: the draws' commands run from there, as the README names them
mkdir -p "$out/draws" runs/draws
export DIFFUSION_DATA="${DIFFUSION_DATA:-$PWD/.device/data}" DIFFUSION_OFFLINE=1 OMP_WAIT_POLICY=PASSIVE \
    PYTHONUNBUFFERED=1
python=$(command -v python3 || command -v python)
deadline=$(( $(date +%s) + seconds ))
grep -v '^ *\(#\|$\)' "$jobs" | { while IFS= read -r job; do
    while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do sleep 1; done
    [ "$(date +%s)" -ge "$deadline" ] && break
    name=$(printf '%s\n' "$job" | sed -n 's/.*--out \([^ ]*\).*/\1/p')
    opts=$(printf '%s\n' "$job" | sed 's/--out [^ ]*//')
    if [ -z "$name" ]; then echo "== no --out NAME.json, not drawn: $job" >> "$out/draws/draws.log"; continue; fi
    [ -f "runs/draws/$name" ] && continue  # drawn by an earlier call on this (warm) machine
    echo "== start $(date +%T) $name" >> "$out/draws/draws.log"
    # shellcheck disable=SC2086  # the options are words
    ( timeout $(( deadline - $(date +%s) + 1 )) "$python" -m benchmarks.quality $opts --device "$device" \
          --out "runs/draws/$name" > "$out/draws/$name.log" 2>&1
      rc=$?  # 124: stopped at SECONDS, no results file
      cp "runs/draws/$name" "$out/draws/" 2>/dev/null
      echo "== end $(date +%T) $name rc=$rc" >> "$out/draws/draws.log" ) &
done; wait; }  # the loop runs in the pipeline's subshell, so its draws are waited for there
for f in "$out"/draws/*.json.log; do [ -e "$f" ] && { echo "== $f"; tail -n 4 "$f"; } >> "$out/draws/draws.log"; done
rm -f "$out"/draws/*.json.log
tar -czf "$out/draws.tar.gz" -C "$out" draws && rm -r "$out/draws"
tar -tzf "$out/draws.tar.gz" | wc -l
