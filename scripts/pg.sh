#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests and CI.
#
#   scripts/pg.sh start DIR   # prints postgres://postgres@127.0.0.1:PORT/postgres on stdout
#   scripts/pg.sh stop DIR
#   scripts/pg.sh url DIR     # the URL of a cluster started earlier
#
# Installs Debian's `postgresql` package when initdb/pg_ctl are missing. PostgreSQL refuses to
# run as root, so as root the cluster runs as the `postgres` user (created by the package);
# otherwise as the calling user. The cluster listens on 127.0.0.1 only, on a free port, with
# trust authentication and fsync=off: it is for tests, never for data that matters.
# Running `start` again on a running cluster just prints its URL again.
set -euo pipefail

log() { echo "pg.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    echo "usage: $0 start|stop|url DIR" >&2
    exit 2
}

[[ $# -eq 2 ]] || usage
command_name=$1
case "$command_name" in
    start) mkdir -p "$2" ;;
    stop | url) [[ -d "$2" ]] || { log "no cluster in $2"; [[ $command_name == stop ]] && exit 0; exit 1; } ;;
    *) usage ;;
esac
dir=$(cd "$2" && pwd)
data="$dir/data"

find_bindir() {
    local candidate
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    # Debian keeps the server binaries out of PATH; take the newest major version.
    for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$candidate/pg_ctl" && -x "$candidate/initdb" ]]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

install_postgres() {
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        # An unprivileged user can still install when password-less sudo is set up (CI images).
        sudo -n true 2>/dev/null \
            || die "initdb/pg_ctl not found; install Debian's postgresql package (needs root)"
        sudo=(sudo -n)
    fi
    log "installing PostgreSQL from Debian packages"
    local attempt
    for attempt in 1 2 3; do
        # Waits for a dpkg lock held by another apt instead of failing at once.
        if "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 update >&2 &&
            "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 \
                install -y --no-install-recommends postgresql >&2; then
            return 0
        fi
        log "installing PostgreSQL failed (attempt $attempt of 3)"
        sleep $((attempt * 5))
    done
    die "could not install Debian's postgresql package"
}

# Runs a command as the cluster's owner.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
        return 0
    fi
    local port
    for port in $(seq 54320 54420); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    die "no free port found in 54320-54420"
}

url() { echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/postgres"; }

is_running() { [[ -f "$dir/port" ]] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; }

start() {
    bindir=$(find_bindir) || { install_postgres; bindir=$(find_bindir) || die "PostgreSQL binaries not found after installing"; }
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres:postgres "$dir"
        runuser -u postgres -- test -w "$dir" \
            || die "user postgres cannot write to $dir (a parent directory is not accessible to it?)"
    fi
    if is_running; then
        log "already running"
        url
        return 0
    fi
    if [[ ! -f "$data/PG_VERSION" ]]; then
        rm -rf "$data"
        log "creating cluster in $data"
        as_owner "$bindir/initdb" -D "$data" --username=postgres --auth=trust \
            --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    fi
    local port
    port=$(free_port)
    echo "$port" >"$dir/port"
    log "starting on 127.0.0.1:$port (log: $dir/pg.log)"
    as_owner "$bindir/pg_ctl" -D "$data" -l "$dir/pg.log" -w -t 30 \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >&2 || { tail -n 20 "$dir/pg.log" >&2 || true; die "pg_ctl start failed"; }
    url
}

stop() {
    if [[ ! -f "$data/PG_VERSION" ]]; then
        log "no cluster in $dir; nothing to stop"
        return 0
    fi
    bindir=$(find_bindir) || die "PostgreSQL binaries not found"
    if as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        as_owner "$bindir/pg_ctl" -D "$data" -m fast -w stop >&2
    else
        log "not running"
    fi
}

case "$command_name" in
    start) start ;;
    stop) stop ;;
    url)
        [[ -f "$dir/port" ]] || die "no cluster started in $dir"
        url
        ;;
    *) usage ;;
esac
