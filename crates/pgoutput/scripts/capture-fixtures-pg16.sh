#!/usr/bin/env bash
# Captures the protocol 4 fixtures (tests/fixtures/stream_v4_*.hex) from a private PostgreSQL 16.
#
# Why a separate script: protocol 4 (PostgreSQL 16+) adds the abort LSN and time to Stream Abort,
# and the project's own server is PostgreSQL 15, which cannot send it. Rather than typing those
# bytes by hand, this script brings its own PostgreSQL 16.2 and captures what it really sends.
#
# Where PostgreSQL 16 comes from: the `pgserver` wheel on PyPI (version and SHA-256 pinned below)
# carries a relocatable PostgreSQL 16.2 build (initdb, postgres, pg_ctl, psql, pgoutput.so). It is
# downloaded with pip once into ${SLUICE_CACHE_DIR:-~/.cache/sluice}/pg16 and unpacked there.
#
# What it does:
#   1. initdb into a temporary directory (run as `nobody` when invoked as root, since PostgreSQL
#      refuses to run as root), SCRAM password auth with a random password, listening only on
#      127.0.0.1 on a free port, with wal_level = logical, max_prepared_transactions = 4 and
#      logical_decoding_work_mem = 64kB (the minimum), so a transaction of 1000 small rows is
#      streamed (about 500 fit in 64kB, so each one is sent in two or more blocks); the cluster
#      is stopped and deleted on exit, whatever happens;
#   2. creates slot `fx_v4` with two_phase = true and runs, in order:
#        a. a streamed transaction with a streamed subtransaction rolled back to its savepoint
#           (Stream Abort of the subtransaction), then an update and a delete, then COMMIT
#           (Stream Commit);
#        b. a streamed transaction that ROLLBACKs (Stream Abort of the whole transaction);
#        c. a streamed transaction that is PREPAREd (Stream Prepare), then COMMIT PREPARED;
#        d. a streamed transaction that is PREPAREd, then ROLLBACK PREPARED;
#   3. peeks the slot twice with proto_version 4 and two_phase on:
#        stream_v4_parallel.hex  streaming 'parallel': pgoutput writes the abort LSN and time
#                                (pgoutput_stream_abort: write_abort_info = streaming == parallel)
#        stream_v4_on.hex        streaming 'on': the same WAL, Stream Abort without them
#      and checks that every Stream Abort of the first is 25 bytes and of the second 9 bytes.
#
# Same mechanism and format as capture-fixtures.sh: pg_logical_slot_peek_binary_changes, one row
# per line `<lsn> TAB <xid> TAB <hex>`, streamed blocks trimmed to their first
# $KEEP_STREAM_INSERTS Insert messages (scripts/trim-streamed-inserts.awk).
#
# Usage:
#   scripts/capture-fixtures-pg16.sh
# Environment:
#   SLUICE_CACHE_DIR  cache root (default ~/.cache/sluice); the wheel goes to its pg16/
#   PG16_RUN_AS       OS user running the server when invoked as root (default nobody)
#   FIXTURE_DIR       output directory (default: tests/fixtures next to this script)
set -euo pipefail

PGSERVER_VERSION=0.1.4
WHEEL=pgserver-$PGSERVER_VERSION-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
WHEEL_SHA256=d595789b47624a3d963aa9aa6359da9be31beb7e61f1a45541953242068b8813
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${FIXTURE_DIR:-$HERE/../tests/fixtures}"
CACHE="${SLUICE_CACHE_DIR:-$HOME/.cache/sluice}/pg16"
KEEP_STREAM_INSERTS=3
PUB=fx_pub
SLOT=fx_v4
mkdir -p "$OUT"

# ---------------------------------------------------------------- PostgreSQL 16, once
if [[ ! -x $CACHE/wheel/pgserver/pginstall/bin/postgres ]]; then
    mkdir -p "$CACHE"
    if [[ ! -f $CACHE/$WHEEL ]]; then
        # Pinned to the exact wheel whatever the local Python is: it is only unpacked, not installed.
        python3 -m pip download --quiet --no-deps --only-binary=:all: \
            --implementation cp --python-version 3.11 --abi cp311 --platform manylinux2014_x86_64 \
            -d "$CACHE" "pgserver==$PGSERVER_VERSION"
    fi
    echo "$WHEEL_SHA256  $CACHE/$WHEEL" | sha256sum --check --quiet
    rm -rf "$CACHE/wheel.partial"
    python3 -m zipfile -e "$CACHE/$WHEEL" "$CACHE/wheel.partial"
    chmod +x "$CACHE"/wheel.partial/pgserver/pginstall/bin/*
    rm -rf "$CACHE/wheel"
    mv "$CACHE/wheel.partial" "$CACHE/wheel"
fi

# ---------------------------------------------------------------- private cluster
WORK="$(mktemp -d -t sluice-pg16.XXXXXX)"
if [[ $EUID -eq 0 ]]; then
    RUN_AS="${PG16_RUN_AS:-nobody}"
    as_server() { runuser -u "$RUN_AS" -- "$@"; }
else
    RUN_AS="$(id -un)"
    as_server() { "$@"; }
fi
stop_and_delete() {
    set +e
    if [[ -f $WORK/data/postmaster.pid ]]; then
        as_server "$PGROOT/pgserver/pginstall/bin/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1
    fi
    rm -rf "$WORK"
}
PGROOT="$CACHE/wheel"
trap stop_and_delete EXIT
chmod 711 "$WORK"
# The server user must be able to run the binaries (a root-owned ~/.cache usually is not
# reachable by `nobody`): if it cannot, it runs a copy inside the work directory.
if ! as_server test -x "$PGROOT/pgserver/pginstall/bin/postgres"; then
    cp -a "$CACHE/wheel" "$WORK/pg"
    chmod -R a+rX "$WORK/pg"
    PGROOT="$WORK/pg"
fi
BIN="$PGROOT/pgserver/pginstall/bin"

PASSWORD="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -m 700 "$WORK/data" "$WORK/socket"
(umask 077 && printf '%s\n' "$PASSWORD" >"$WORK/password")
chown "$RUN_AS" "$WORK/data" "$WORK/socket" "$WORK/password"
as_server "$BIN/initdb" --pgdata="$WORK/data" --username=sluice --pwfile="$WORK/password" \
    --auth=scram-sha-256 --encoding=UTF8 --locale=C --no-sync >"$WORK/initdb.log" 2>&1 ||
    { cat "$WORK/initdb.log" >&2; exit 1; }
cat >>"$WORK/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$WORK/socket'
wal_level = logical
max_wal_senders = 4
max_replication_slots = 4
max_prepared_transactions = 4
logical_decoding_work_mem = 64kB
fsync = off
CONF
as_server "$BIN/pg_ctl" -D "$WORK/data" -l "$WORK/data/server.log" -w start >/dev/null ||
    { cat "$WORK/data/server.log" >&2; exit 1; }

export PGPASSWORD="$PASSWORD"
URL="postgres://sluice@127.0.0.1:$PORT/postgres"
q() { "$BIN/psql" "$URL" -X -q -v ON_ERROR_STOP=1 "$@"; }
echo "private $(q -Atc 'SELECT version()' | cut -d' ' -f1-2) on 127.0.0.1:$PORT"

# ---------------------------------------------------------------- schema
q <<'SQL'
CREATE SCHEMA fx;
CREATE TABLE fx.stream_rows (id int PRIMARY KEY, v text);
-- Not published: a commit touching it forces a WAL flush (see flush_wal) and emits nothing.
CREATE TABLE fx.flush_marker (id int);
CREATE PUBLICATION fx_pub FOR TABLE fx.stream_rows;
SQL

# Same as capture-fixtures.sh: the peek decodes only up to the WAL flush position, and a
# ROLLBACK record is written without a flush.
flush_wal() { q -c "INSERT INTO fx.flush_marker VALUES (1)"; }

# peek FILE OPTIONS... : write every message of the slot, rendered with OPTIONS, to FILE.
peek() {
    local file=$1
    shift
    local opts="'publication_names', '$PUB', 'messages', 'true'"
    local o
    for o in "$@"; do opts+=", $o"; done
    q -At -F $'\t' \
        -c "SET logical_decoding_work_mem = '64kB'" \
        -c "SELECT lsn, xid, encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('$SLOT', NULL, NULL, $opts)" |
        awk -F '\t' -v keep="$KEEP_STREAM_INSERTS" -f "$HERE/trim-streamed-inserts.awk" >"$OUT/$file"
    printf '%-28s %5d messages %7d bytes\n' "$file" "$(wc -l <"$OUT/$file")" "$(wc -c <"$OUT/$file")"
}

# ---------------------------------------------------------------- protocol 4, streamed
q -Atc "SELECT pg_create_logical_replication_slot('$SLOT', 'pgoutput', false, true)" >/dev/null
q >/dev/null <<'SQL'
BEGIN;
INSERT INTO fx.stream_rows SELECT g, 'row ' || g FROM generate_series(1, 1000) g;
SAVEPOINT s1;
INSERT INTO fx.stream_rows SELECT g, 'sub ' || g FROM generate_series(100001, 101000) g;
ROLLBACK TO SAVEPOINT s1;
UPDATE fx.stream_rows SET v = 'changed' WHERE id <= 2;
DELETE FROM fx.stream_rows WHERE id = 3;
COMMIT;
BEGIN;
INSERT INTO fx.stream_rows SELECT g, 'aborted ' || g FROM generate_series(200001, 201000) g;
ROLLBACK;
BEGIN;
INSERT INTO fx.stream_rows SELECT g, 'prepared ' || g FROM generate_series(300001, 301000) g;
PREPARE TRANSACTION 'fx-v4-commit';
COMMIT PREPARED 'fx-v4-commit';
BEGIN;
INSERT INTO fx.stream_rows SELECT g, 'prepared ' || g FROM generate_series(400001, 401000) g;
PREPARE TRANSACTION 'fx-v4-rollback';
ROLLBACK PREPARED 'fx-v4-rollback';
SQL
flush_wal
echo "WAL of the capture ends at $(q -Atc 'SELECT pg_current_wal_flush_lsn()')"
peek stream_v4_parallel.hex "'proto_version', '4'" "'streaming', 'parallel'" "'two_phase', 'on'"
peek stream_v4_on.hex "'proto_version', '4'" "'streaming', 'on'" "'two_phase', 'on'"

# Each Stream Abort ('A' = 41): 1 + 4 + 4 bytes, + 8 + 8 with the abort info.
check_aborts() {
    local file=$1 hex_length=$2
    awk -F '\t' -v want="$hex_length" -v file="$file" '
        substr($3, 1, 2) == "41" { n++; if (length($3) != want) { bad++ } }
        END {
            if (n < 2 || bad) { printf "%s: %d Stream Aborts, %d of the wrong length\n", file, n, bad > "/dev/stderr"; exit 1 }
        }' "$OUT/$file"
}
check_aborts stream_v4_parallel.hex 50
check_aborts stream_v4_on.hex 18
echo "messages of stream_v4_parallel.hex by tag (after trimming):"
cut -f3 "$OUT/stream_v4_parallel.hex" | cut -c1-2 | sort | uniq -c |
    while read -r count tag; do printf "  %b %5d\n" "\\x$tag" "$count"; done
echo "fixtures written to $OUT"
