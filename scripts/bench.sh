#!/usr/bin/env bash
# The benchmark, in one command: builds labelflow, the harness and the ceiling (release),
# installs the gidgetlab peer into a virtualenv from PyPI, runs labelflow-bench (labelflow, the
# peer and the ceiling against the same simulated GitLab and the same load, in one run) and
# writes the results, the machine description and the exact commands into BENCHMARKS.md.
#
# Run it on a quiet machine. Extra arguments go to labelflow-bench (see
# `target/release/labelflow-bench --help`), e.g. `scripts/bench.sh --rate-seconds 5`.
# BENCH_PROFILE=debug uses a debug build instead (to check the script quickly; its numbers
# mean nothing).
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${BENCH_PROFILE:-release}"
case "$profile" in
    release) build_flag=(--release) ;;
    debug) build_flag=() ;;
    *) echo "bench.sh: BENCH_PROFILE must be release or debug, not $profile" >&2; exit 2 ;;
esac
bin="target/$profile"

out_dir=target/bench
venv="$out_dir/venv"
mkdir -p "$out_dir"

echo "bench.sh: building ($profile)" >&2
cargo build "${build_flag[@]}" -p labelflow -p labelflow-bench -p labelflow-ceiling

if [[ ! -x "$venv/bin/python" ]]; then
    echo "bench.sh: creating the peer's virtualenv in $venv" >&2
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r benches/peer/requirements.txt

bench_cmd=("$bin/labelflow-bench"
    --labelflow-bin "$bin/labelflow"
    --peer-python "$venv/bin/python"
    --peer-script benches/peer/bot.py
    --ceiling-bin "$bin/labelflow-ceiling"
    --json "$out_dir/results.json"
    --markdown "$out_dir/results.md"
    "$@")
echo "bench.sh: ${bench_cmd[*]}" >&2
"${bench_cmd[@]}" >/dev/null

# One durable 4 KiB write (write + fsync) on the disk the databases use, averaged.
fsync_ms=$(python3 - <<'PY'
import os, tempfile, time
fd, path = tempfile.mkstemp()
start = time.perf_counter()
for _ in range(200):
    os.write(fd, b"x" * 4096)
    os.fsync(fd)
print(f"{(time.perf_counter() - start) / 200 * 1000:.2f}")
os.close(fd)
os.unlink(path)
PY
)

section="$out_dir/section.md"
{
    echo "## Results"
    echo
    if [[ "$profile" != release ]]; then
        echo "**$profile build: these numbers are not representative.**"
        echo
    fi
    echo "Run on $(date -u '+%Y-%m-%d %H:%M UTC') at commit \`$(git rev-parse --short HEAD)\`$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ' (with uncommitted changes)')."
    echo
    echo "### Machine"
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| CPU | $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores available |"
    echo "| memory | $(free -h | awk '/^Mem:/ {print $2}') |"
    echo "| kernel | $(uname -sr) |"
    echo "| disk | $(df -T "$out_dir" | awk 'NR==2 {print $2}'), write + fsync of 4 KiB: ${fsync_ms} ms |"
    echo "| Rust | $(rustc --version) |"
    echo "| peer | $("$venv/bin/python" --version), gidgetlab $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("gidgetlab"))'), aiohttp $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("aiohttp"))') |"
    echo
    echo "Everything (the load generator and the simulated GitLab in the harness process, labelflow, the peer, the ceiling) shares these cores."
    echo
    echo "### Commands"
    echo
    echo '```'
    echo "scripts/bench.sh $*"
    echo "# which ran:"
    echo "cargo build ${build_flag[*]} -p labelflow -p labelflow-bench -p labelflow-ceiling"
    echo "python3 -m venv $venv && $venv/bin/pip install -r benches/peer/requirements.txt"
    echo "${bench_cmd[*]}"
    echo '```'
    echo
    cat "$out_dir/results.md"
} >"$section"

python3 - "$section" <<'PY'
import re, sys
section = open(sys.argv[1]).read()
begin, end = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
doc = open("BENCHMARKS.md").read()
if begin not in doc or end not in doc:
    sys.exit("BENCHMARKS.md has no results markers")
head, rest = doc.split(begin, 1)
_, tail = rest.split(end, 1)
open("BENCHMARKS.md", "w").write(f"{head}{begin}\n{section}\n{end}{tail}")
PY
echo "bench.sh: results in BENCHMARKS.md (raw: $out_dir/results.json)" >&2
