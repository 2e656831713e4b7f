#!/usr/bin/env bash
# No module import cycles in any crate of the workspace.
#
# cargo-modules draws each crate's module graph ("uses" edges only: no structural "owns"
# edges, no items, nothing outside the crate); Graphviz's `acyclic -n` says whether it has a
# cycle, and `sccmap -d` names the modules of each cycle when it does. Installs both when
# missing (cargo-modules 0.27.0, the last release that builds with rustc 1.95).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-modules >/dev/null; then
    echo "check-cycles: installing cargo-modules 0.27.0 (a few minutes, once)" >&2
    cargo install --locked cargo-modules --version 0.27.0 >&2
fi
if ! command -v acyclic >/dev/null; then
    echo "check-cycles: installing graphviz" >&2
    if [[ $(id -u) -eq 0 ]]; then
        (apt-get update -qq && apt-get install -y -qq graphviz) >&2
    else
        echo "check-cycles: graphviz is missing; install it (apt-get install graphviz)" >&2
        exit 1
    fi
fi

dot=$(mktemp /tmp/labelflow-modules.XXXXXX)
trap 'rm -f "$dot"' EXIT
status=0
for target in "-p labelflow --lib" "-p labelflow-core --lib" "-p labelflow-sim --lib" \
    "-p labelflow-bench --bin labelflow-bench"; do
    # shellcheck disable=SC2086 # the target words are meant to split
    cargo modules dependencies $target --no-externs --no-sysroot --no-fns --no-traits \
        --no-types --no-owns >"$dot"
    if acyclic -n "$dot"; then
        echo "check-cycles: ${target#-p } has no module import cycle"
    else
        echo "check-cycles: ${target#-p } has module import cycles:" >&2
        sccmap -d "$dot" 2>/dev/null | grep -- '" -> "' | sed 's/\[.*//' >&2 || true
        status=1
    fi
done
exit "$status"
