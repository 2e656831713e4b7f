#!/usr/bin/env bash
# The test command: runs the whole test suite, on SQLite and on a real PostgreSQL.
#
# Starts a throwaway PostgreSQL cluster (installing Debian's `postgresql` package first if
# needed, which needs root) so the PostgreSQL half of the store and replica tests runs too, then
# stops it. Installs Debian's `chromium` and `chromium-driver` for the operator page's browser
# test the same way. Extra arguments go to `cargo test` (e.g. `scripts/test.sh --test e2e`).
# Set LABELFLOW_TEST_POSTGRES_URL yourself to use a server you already have.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_dir=""
cleanup() {
    if [[ -n "$pg_dir" ]]; then
        bash scripts/pg.sh stop "$pg_dir" >/dev/null 2>&1 || true
        rm -rf "$pg_dir"
    fi
}
trap cleanup EXIT

# The operator page's browser test drives Debian's Chromium through chromedriver.
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "test.sh: installing chromium and chromium-driver for the browser test" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; }
    else
        echo "test.sh: chromium and chromedriver are needed (apt-get install chromium chromium-driver)" >&2
    fi
fi

if [[ -z "${LABELFLOW_TEST_POSTGRES_URL:-}" ]]; then
    pg_dir=$(mktemp -d /tmp/labelflow-pg.XXXXXX)
    # The cluster runs as the `postgres` user when we are root: let it use the directory.
    chmod 755 "$pg_dir"
    LABELFLOW_TEST_POSTGRES_URL=$(bash scripts/pg.sh start "$pg_dir")
    export LABELFLOW_TEST_POSTGRES_URL
    echo "test.sh: PostgreSQL for tests at $LABELFLOW_TEST_POSTGRES_URL" >&2
fi

log=$(mktemp /tmp/labelflow-test.XXXXXX)
status=0
cargo test --workspace "$@" 2>&1 | tee "$log" || status=$?
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
