# PostgreSQL from Debian's package, our own cluster under the state folder, with logical
# replication on. Sourced by deploy/local/stack; see lib.sh for the contract.

pg_bin_dir() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/pg_ctl" ]] && printf '%s' "$d" && return 0
    done
    return 1
}

# PostgreSQL refuses to run as root: as root, run its tools as the `postgres` user.
pg_as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

postgres_install() {
    if ! pg_bin_dir >/dev/null || ! command -v psql >/dev/null; then
        log "postgres: installing Debian's postgresql package"
        apt_install postgresql postgresql-contrib
    fi
    # The package may create and start its own cluster on 5432; ours replaces it here.
    if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | awk '$4=="online"{f=1} END{exit !f}'; then
        log "postgres: stopping the package's default cluster (it would hold the port)"
        pg_lsclusters -h | awk '$4=="online"{print $1, $2}' | while read -r ver name; do
            pg_ctlcluster "$ver" "$name" stop || true
        done
    fi
}

postgres_data_dir() { printf '%s/data' "$(state_dir postgres)"; }

postgres_start() {
    local bin dir sock
    bin="$(pg_bin_dir)"
    dir="$(state_dir postgres)"
    sock="$dir/socket"
    mkdir -p "$sock"
    [[ $(id -u) -eq 0 ]] && chown -R postgres: "$dir"
    if [[ ! -f "$(postgres_data_dir)/PG_VERSION" ]]; then
        log "postgres: initdb"
        pg_as_owner "$bin/initdb" -D "$(postgres_data_dir)" -U postgres --auth=trust \
            --encoding=UTF8 --locale=C.UTF-8 >>"$(log_file postgres)" 2>&1 ||
            { log_tail postgres; die "postgres: initdb failed"; }
        cat >>"$(postgres_data_dir)/postgresql.conf" <<CONF
# Sluice local stack
listen_addresses = '127.0.0.1'
port = $SLUICE_PG_PORT
unix_socket_directories = '$sock'
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
max_connections = 200
shared_buffers = 256MB
fsync = on
logical_decoding_work_mem = 64MB
max_prepared_transactions = 10
CONF
        # Password authentication on TCP, so clients exercise it; trust on the socket.
        cat >"$(postgres_data_dir)/pg_hba.conf" <<HBA
local   all   all                 trust
host    all   all   127.0.0.1/32  scram-sha-256
HBA
        chown -R postgres: "$dir" 2>/dev/null || true
    fi
    # pg_ctl's own pid lives in the data dir; the stack's pid file mirrors the postmaster's.
    pg_as_owner "$bin/pg_ctl" -D "$(postgres_data_dir)" -l "$(log_file postgres)" -w -t 60 start >/dev/null ||
        { log_tail postgres; die "postgres: pg_ctl start failed"; }
    head -1 "$(postgres_data_dir)/postmaster.pid" >"$(pid_file postgres)"
    postgres_bootstrap
}

# The database and role the stack's users and tests use: REPLICATION for the slot, and
# ownership of its database so it may create tables and publications.
postgres_bootstrap() {
    local sock
    sock="$(state_dir postgres)/socket"
    pg_as_owner psql -h "$sock" -p "$SLUICE_PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -q <<SQL >/dev/null
SET client_min_messages = warning;
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sluice') THEN
    CREATE ROLE sluice LOGIN REPLICATION CREATEDB PASSWORD 'sluice';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE sluice OWNER sluice'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'sluice') \gexec
GRANT pg_read_all_data TO sluice;
SQL
}

# Bounded: a port held by something that accepts but never answers must not hang `up`.
postgres_ready() {
    PGPASSWORD=sluice PGCONNECT_TIMEOUT=5 timeout 10 \
        psql "postgres://sluice@127.0.0.1:$SLUICE_PG_PORT/sluice" -tAc \
        "SELECT current_setting('wal_level') = 'logical'" 2>/dev/null | grep -qx t
}

# What the server says about itself, for `stack status`.
postgres_answer() {
    PGPASSWORD=sluice PGCONNECT_TIMEOUT=5 timeout 10 \
        psql "postgres://sluice@127.0.0.1:$SLUICE_PG_PORT/sluice" -tAc \
        "SELECT 'PostgreSQL ' || current_setting('server_version') || ', wal_level ' \
           || current_setting('wal_level') || ', ' \
           || current_setting('max_replication_slots') || ' replication slots'"
}

postgres_stop() {
    local bin
    bin="$(pg_bin_dir)"
    pg_as_owner "$bin/pg_ctl" -D "$(postgres_data_dir)" -m fast -w -t 60 stop >/dev/null 2>&1 ||
        stop_pid postgres 30
    rm -f "$(pid_file postgres)"
}
