#!/usr/bin/env bash
# Fuzzing at depth, on stable Rust (docs/reliability.md, "Fuzzing"): `scripts/fuzz.sh N` runs
# N webhook deliveries through the real router, and N/10 each of mutated configurations
# through check-config, comment commands through the planner and user text through the
# renderer, in a release build. Full depth is `scripts/fuzz.sh 1000000`. Without N it runs
# the test command's smoke depth.
#
# Every run draws from a seed (printed; LABELFLOW_FUZZ_SEED=S to choose it, a new one by
# default). A failure prints its input and the LABELFLOW_FUZZ_SEED / LABELFLOW_FUZZ_CASE that
# replay it alone. Extra arguments go to the test binary (e.g. a target's name).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -gt 0 && "$1" =~ ^[0-9]+$ ]]; then
    export LABELFLOW_FUZZ_DEPTH="$1"
    shift
elif [[ $# -gt 0 && "$1" != -* ]]; then
    echo "fuzz.sh: the depth must be a whole number (webhook cases), not $1" >&2
    exit 2
fi
export LABELFLOW_FUZZ_SEED="${LABELFLOW_FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
echo "fuzz.sh: depth ${LABELFLOW_FUZZ_DEPTH:-smoke}, seed $LABELFLOW_FUZZ_SEED" >&2

start=$(date +%s)
cargo test --release --test fuzz -- --nocapture --test-threads 2 "$@"
echo "fuzz.sh: finished in $(( $(date +%s) - start )) s" >&2
