#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the replication tests that need what the shared server
# must not be changed for: an `md5` and a `password` pg_hba line, TLS with a self-signed CA,
# hostssl-only roles. Everything lives in one folder under /tmp and `down` removes it.
#
#   scripts/throwaway-cluster.sh up     # initdb, certificates, start; prints KEY=VALUE lines
#   scripts/throwaway-cluster.sh wal-level LEVEL   # ALTER SYSTEM SET wal_level, restart
#   scripts/throwaway-cluster.sh down   # stop and delete
#
# Listens on 127.0.0.1 and 127.0.0.2 (loopback only), port $SLUICE_THROWAWAY_PORT (55432).
# Exits 77, saying what is missing, when PostgreSQL's server binaries (initdb) or openssl
# are not installed; the Rust test then fails with what to install (it never skips).
#
# Roles (all LOGIN REPLICATION, database `sluice`):
#   sluice_md5    md5 pg_hba line, password stored as MD5      password md5pass
#   sluice_clear  `password` (clear text) pg_hba line          password clearpass
#   sluice_tls    scram-sha-256, hostssl only (hostnossl rejected)  password tlspass
#   sluice_norepl like sluice_md5 but without REPLICATION      password noreplpass
set -euo pipefail

port="${SLUICE_THROWAWAY_PORT:-55432}"
dir="${SLUICE_THROWAWAY_DIR:-/tmp/sluice-replication-throwaway-$port}"

find_bindir() {
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return
    fi
    local candidate
    candidate="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$candidate" ] && [ -x "$candidate/initdb" ]; then
        echo "$candidate"
        return
    fi
    local initdb
    initdb="$(command -v initdb || true)"
    [ -n "$initdb" ] && dirname "$(readlink -f "$initdb")"
}

# initdb and postgres refuse to run as root: use the postgres account when we are root.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

down() {
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

up() {
    down
    mkdir -p "$dir/certs"

    # A CA, and a server certificate it signs that names both localhost and 127.0.0.1.
    (
        cd "$dir/certs"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -sha256 -subj "/CN=Sluice test CA" \
            -keyout ca.key -out ca.crt \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
            -keyout server.key -out server.csr 2>/dev/null
        printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
            >server.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
            -sha256 -extfile server.ext -out server.crt 2>/dev/null
        chmod 600 server.key
    )
    if [ "$(id -u)" = 0 ]; then
        chown -R postgres:postgres "$dir"
    fi

    as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
        --no-instructions >"$dir/initdb.log" 2>&1
    cat >>"$dir/data/postgresql.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1,127.0.0.2'
unix_socket_directories = '$dir'
ssl = on
ssl_cert_file = '$dir/certs/server.crt'
ssl_key_file = '$dir/certs/server.key'
wal_level = logical
max_replication_slots = 8
max_wal_senders = 16
shared_buffers = 32MB
fsync = off
EOF
    cat >"$dir/data/pg_hba.conf" <<EOF
local     all  all           trust
hostssl   all  sluice_tls    127.0.0.0/8  scram-sha-256
hostnossl all  sluice_tls    127.0.0.0/8  reject
host      all  sluice_md5    127.0.0.0/8  md5
host      all  sluice_norepl 127.0.0.0/8  md5
host      all  sluice_clear  127.0.0.0/8  password
EOF
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null
    if grep -q "could not bind" "$dir/postgres.log"; then
        echo "port $port is taken on 127.0.0.1 or 127.0.0.2: set SLUICE_THROWAWAY_PORT" >&2
        false
    fi
    as_owner "$bindir/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q <<'EOF'
SET password_encryption = 'md5';
CREATE ROLE sluice_md5 LOGIN REPLICATION PASSWORD 'md5pass';
CREATE ROLE sluice_norepl LOGIN PASSWORD 'noreplpass';
SET password_encryption = 'scram-sha-256';
CREATE ROLE sluice_clear LOGIN REPLICATION PASSWORD 'clearpass';
CREATE ROLE sluice_tls LOGIN REPLICATION PASSWORD 'tlspass';
CREATE DATABASE sluice;
EOF
    echo "PORT=$port"
    echo "DIR=$dir"
    echo "CA_FILE=$dir/certs/ca.crt"
}

wal_level() {
    as_owner "$bindir/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
        -c "ALTER SYSTEM SET wal_level = '$1'"
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 -m fast restart >/dev/null
}

bindir="$(find_bindir || true)"
missing=""
if [ -z "$bindir" ]; then
    missing="PostgreSQL's server binaries (initdb, pg_ctl, psql; looked for with pg_config --bindir, in /usr/lib/postgresql/*/bin and on PATH)"
fi
if ! command -v openssl >/dev/null 2>&1; then
    missing="${missing:+$missing and }openssl"
fi
if [ -n "$missing" ]; then
    echo "not found: $missing." >&2
    exit 77
fi

case "${1:-}" in
    up)
        # A half-made cluster is removed, so a failed `up` leaves no server behind.
        set -E
        trap 'status=$?; trap - ERR; down; exit $status' ERR
        up
        ;;
    down) down ;;
    wal-level) wal_level "${2:?usage: $0 wal-level replica|logical}" ;;
    *)
        echo "usage: $0 up|down|wal-level LEVEL" >&2
        exit 2
        ;;
esac
