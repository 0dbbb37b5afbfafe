#!/usr/bin/env bash
# A private PostgreSQL server for kscli's tests: a throwaway cluster on 127.0.0.1.
#
# Three ways to use it:
#
#   .ci/postgres.sh run CMD [ARGS...]   start a server, run CMD with KSCLI_TEST_PG_DSN set,
#                                       stop the server, exit with CMD's status (CI uses this)
#   eval "$(.ci/postgres.sh start)"     start one that outlives the script; prints the
#                                       `export KSCLI_TEST_PG_DSN=...` lines to eval
#   .ci/postgres.sh stop                stop the one started above (reads KSCLI_PG_DIR)
#   source .ci/postgres.sh              start one and export KSCLI_TEST_PG_DSN in this shell;
#                                       it is stopped when the shell exits (EXIT trap)
#
# It installs Debian's `postgresql` package with apt-get when no `initdb` is found, runs
# initdb into a temporary folder as an unprivileged user (root never runs the server:
# the `postgres` user, or a `kscli-pg` system user created for it), starts the server on
# a free port on 127.0.0.1 only (trust authentication, no other address listens), waits
# until it accepts connections, and names the bootstrap superuser `kscli`:
#
#   KSCLI_TEST_PG_DSN=postgresql://kscli@127.0.0.1:PORT/postgres
#
# If the server cannot be installed or started, it prints the server's log and exits 1,
# so that CI fails instead of skipping the PostgreSQL tests.
#
# Set KSCLI_PG_DURABLE=1 for the server's default durability (fsync on), as the
# benchmarks want; by default the test server runs with fsync off, which is safe for a
# cluster that is thrown away and much faster for a test suite that creates databases.

_kscli_pg_fail() {
    echo "postgres.sh: $*" >&2
    if [ -n "${KSCLI_PG_DIR:-}" ] && [ -f "$KSCLI_PG_DIR/server.log" ]; then
        echo "---- server log ----" >&2
        tail -n 40 "$KSCLI_PG_DIR/server.log" >&2
    fi
    kscli_pg_stop  # never leave a half-started server behind
    exit 1
}

_kscli_pg_bindir() {
    local found
    if found=$(command -v initdb 2>/dev/null); then
        # resolve links (/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb) so
        # that pg_ctl, pg_isready and postgres come from the same folder
        found=$(dirname "$(readlink -f "$found")")
        if [ -x "$found/pg_ctl" ] && [ -x "$found/pg_isready" ]; then
            echo "$found"
            return 0
        fi
    fi
    # Debian keeps the server binaries out of PATH, one folder per major version.
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$found" ] && [ -x "$found/initdb" ]; then
        echo "$found"
        return 0
    fi
    return 1
}

_kscli_pg_install() {
    echo "postgres.sh: no initdb found; installing Debian's postgresql package" >&2
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || _kscli_pg_fail "initdb is missing and installing it needs root (apt-get install postgresql)"
        sudo="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >&2 || _kscli_pg_fail "apt-get update failed"
    $sudo apt-get install -y -qq --no-install-recommends postgresql >&2 \
        || _kscli_pg_fail "apt-get install postgresql failed"
}

# Run a command as the unprivileged server user (directly when not root).
_kscli_pg_as() {
    if [ "$(id -u)" = 0 ]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u "$KSCLI_PG_USER" -- "$@"
        else
            su -s /bin/sh "$KSCLI_PG_USER" -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

_kscli_pg_free_port() {
    python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

kscli_pg_start() {
    local bindir port tries
    bindir=$(_kscli_pg_bindir) || { _kscli_pg_install; bindir=$(_kscli_pg_bindir) || _kscli_pg_fail "initdb still missing after installing postgresql"; }

    if [ "$(id -u)" = 0 ]; then
        if id postgres >/dev/null 2>&1; then
            KSCLI_PG_USER=postgres
        else
            KSCLI_PG_USER=kscli-pg
            id "$KSCLI_PG_USER" >/dev/null 2>&1 || useradd --system --no-create-home \
                --shell /usr/sbin/nologin "$KSCLI_PG_USER" || _kscli_pg_fail "could not create the user $KSCLI_PG_USER"
        fi
    else
        KSCLI_PG_USER=$(id -un)
    fi

    local parent=${TMPDIR:-/tmp}
    [ "$(id -u)" = 0 ] && parent=/tmp  # a folder the server user can reach
    KSCLI_PG_DIR=$(mktemp -d "$parent/kscli-pg.XXXXXX") || _kscli_pg_fail "mktemp failed"
    chmod 700 "$KSCLI_PG_DIR"
    [ "$(id -u)" = 0 ] && chown "$KSCLI_PG_USER" "$KSCLI_PG_DIR"
    export KSCLI_PG_DIR KSCLI_PG_USER
    KSCLI_PG_BIN=$bindir
    export KSCLI_PG_BIN

    _kscli_pg_as "$bindir/initdb" -D "$KSCLI_PG_DIR/data" -U kscli --auth=trust \
        --encoding=UTF8 --no-locale >"$KSCLI_PG_DIR/initdb.log" 2>&1 \
        || { cat "$KSCLI_PG_DIR/initdb.log" >&2; _kscli_pg_fail "initdb failed"; }

    local fast="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    [ "${KSCLI_PG_DURABLE:-}" = 1 ] && fast=""
    for tries in 1 2 3; do
        port=$(_kscli_pg_free_port) || _kscli_pg_fail "no free port"
        if _kscli_pg_as "$bindir/pg_ctl" -D "$KSCLI_PG_DIR/data" -l "$KSCLI_PG_DIR/server.log" \
            -w -t 60 -o "-c listen_addresses=127.0.0.1 -p $port -k $KSCLI_PG_DIR -c max_connections=200 $fast" \
            start >/dev/null 2>&1; then
            break
        fi
        port=""  # the port was taken meanwhile: try another one
    done
    [ -n "$port" ] || _kscli_pg_fail "the server did not start"

    for tries in $(seq 1 100); do
        "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U kscli -d postgres && break
        sleep 0.1
    done
    "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U kscli -d postgres \
        || _kscli_pg_fail "the server does not accept connections on 127.0.0.1:$port"

    KSCLI_PG_PORT=$port
    KSCLI_TEST_PG_DSN="postgresql://kscli@127.0.0.1:$port/postgres"
    export KSCLI_PG_PORT KSCLI_TEST_PG_DSN
    echo "postgres.sh: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $KSCLI_PG_DIR)" >&2
}

kscli_pg_stop() {
    [ -n "${KSCLI_PG_DIR:-}" ] && [ -d "$KSCLI_PG_DIR" ] || return 0
    local bindir=${KSCLI_PG_BIN:-$(_kscli_pg_bindir)}
    if [ -f "$KSCLI_PG_DIR/data/postmaster.pid" ]; then
        _kscli_pg_as "$bindir/pg_ctl" -D "$KSCLI_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$KSCLI_PG_DIR"
    unset KSCLI_PG_DIR KSCLI_PG_PORT KSCLI_TEST_PG_DSN
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    # sourced: start now, stop when the shell exits (after any EXIT trap already set)
    kscli_pg_start
    _kscli_pg_prev_trap=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//" -e "s/'\\\\''/'/g")
    trap "kscli_pg_stop; ${_kscli_pg_prev_trap}" EXIT
else
    set -u
    case "${1:-}" in
        start)
            kscli_pg_start
            printf 'export KSCLI_TEST_PG_DSN=%q\nexport KSCLI_PG_DIR=%q\nexport KSCLI_PG_USER=%q\nexport KSCLI_PG_BIN=%q\n' \
                "$KSCLI_TEST_PG_DSN" "$KSCLI_PG_DIR" "$KSCLI_PG_USER" "$KSCLI_PG_BIN"
            ;;
        stop)
            [ -n "${KSCLI_PG_DIR:-}" ] || _kscli_pg_fail "KSCLI_PG_DIR is not set (eval the output of 'start' first)"
            KSCLI_PG_USER=${KSCLI_PG_USER:-postgres}
            kscli_pg_stop
            ;;
        run)
            shift
            [ $# -gt 0 ] || _kscli_pg_fail "usage: .ci/postgres.sh run CMD [ARGS...]"
            kscli_pg_start
            trap kscli_pg_stop EXIT
            trap 'exit 130' INT TERM
            status=0
            "$@" || status=$?
            exit "$status"
            ;;
        *)
            echo "usage: .ci/postgres.sh start|stop|run CMD... (or: source .ci/postgres.sh)" >&2
            exit 2
            ;;
    esac
fi
