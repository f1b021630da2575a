#!/usr/bin/env bash
# The source end to end (PostgreSQL to acknowledged Kafka records) against pg_recvlogical
# on the same slot workload, in one run.
#
#   crates/source/scripts/bench-vs-recvlogical.sh [inserts ROWS | updates TRANSACTIONS | mixed TRANSACTIONS | snapshot ROWS]
#     inserts 1000000   one transaction inserting ROWS rows into a 7-column table (default)
#     updates 200000    TRANSACTIONS single-row update transactions
#     mixed 50000       TRANSACTIONS OLTP transactions on a 20-column table with TOASTed text
#                       (inserts, updates, deletes; see bench-lib.sh)
#     snapshot 1000000  the initial snapshot of a ROWS-row table, against `COPY ... TO STDOUT`
#                       of the same table through psql (the ceiling of reading it at all)
#
# Needs the local stack's variables (eval "$(deploy/local/stack env)") and builds
# `sluice` in release mode. Two slots made before the workload see the same changes:
# pg_recvlogical reads one to /dev/null (the ceiling: the walsender's own decoding), and
# `sluice source` reads the other; its time runs until the slot's confirmed position
# passes the workload's last commit, which the source reports only once Kafka acknowledged
# every event. Peak memory is the source process's VmHWM. bench-vs-debezium.sh runs the
# same workloads with protocol 2 and Debezium as well.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workload="${1:-inserts}"
count="${2:-$([[ $workload == inserts || $workload == snapshot ]] && echo 1000000 || echo 200000)}"
name="bench_source_$$"
# shellcheck source=bench-lib.sh
source "$here/bench-lib.sh"
trap bench_cleanup EXIT
trap "exit 143" TERM INT

bench_build_sluice

if [[ $workload == snapshot ]]; then
    sql "CREATE TABLE ${name} (id int4 PRIMARY KEY, customer_id int8, customer_name text, email text,
                               amount numeric(12,2), created_at timestamptz, active bool)"
    sql "INSERT INTO ${name}
         SELECT i, i::int8 * 7919 % 100003, 'customer ' || i, 'user' || i || '@example.com',
                (i % 10000) + (i % 100) / 100.0, timestamptz '2024-05-17 12:00:00+00' + i * interval '1 second',
                i % 3 <> 0
         FROM generate_series(1, $count) AS i"
    sql "VACUUM ANALYZE ${name}"
    sql "CREATE PUBLICATION ${name}_pub FOR TABLE ${name}"
    echo "workload: snapshot of $count rows"
    started=$(date +%s.%N)
    psql "$url" -qAtXc "COPY (SELECT * FROM ${name} ORDER BY id) TO STDOUT" >/dev/null
    ceiling_seconds=$(calc "$(date +%s.%N) - $started")
    cat >"$work/source.toml" <<TOML
[postgres]
url = "$url"
[source]
slot = "${name}_sluice"
publication = "${name}_pub"
topic_prefix = "${name}"
tombstones = false
heartbeat_interval_seconds = 0
[snapshot]
mode = "initial_only"
chunk_rows = ${SNAPSHOT_CHUNK_ROWS:-10000}
[kafka]
bootstrap_servers = "$bootstrap"
partitions = 3
[metrics]
enabled = false
TOML
    started=$(date +%s.%N)
    "$sluice" source --config "$work/source.toml" >"$work/source.log" 2>&1 &
    source_pid=$!
    peak_kb=0
    while kill -0 "$source_pid" 2>/dev/null; do
        hwm=$(awk '/VmHWM/ {print $2}' "/proc/$source_pid/status" 2>/dev/null || echo 0)
        ((hwm > peak_kb)) && peak_kb=$hwm
        sleep 0.1
    done
    wait "$source_pid" || { tail -20 "$work/source.log" >&2; echo "sluice source failed" >&2; exit 1; }
    source_pid=
    sluice_seconds=$(calc "$(date +%s.%N) - $started")
    grep -q '"snapshot: done"\|snapshot: done' "$work/source.log" || { tail -20 "$work/source.log" >&2; exit 1; }
    printf '\nmachine: %s\n' "$(machine)"
    printf 'COPY TO STDOUT through psql:          %8d rows in %6.2f s = %8.0f rows/s\n' \
        "$count" "$ceiling_seconds" "$(calc "$count / $ceiling_seconds")"
    printf 'sluice snapshot into Kafka (acked):   %8d rows in %6.2f s = %8.0f rows/s = %.2f x COPY\n' \
        "$count" "$sluice_seconds" "$(calc "$count / $sluice_seconds")" "$(calc "$ceiling_seconds / $sluice_seconds")"
    printf 'sluice source peak memory (VmHWM):    %8.1f MB\n' "$(calc "$peak_kb / 1024")"
    exit 0
fi

bench_create_table "$workload"
sql "CREATE PUBLICATION ${name}_pub FOR TABLE ${name}"
bench_slots ceiling sluice

echo "workload: $workload $count"
bench_run_workload "$workload" "$count"
bench_recvlogical ceiling 1
ceiling_seconds=$recv_seconds
bench_sluice sluice

printf '\nmachine: %s\n' "$(machine)"
printf 'pg_recvlogical (protocol 1):          %8d changes in %6.2f s = %8.0f changes/s\n' \
    "$changes" "$ceiling_seconds" "$(calc "$changes / $ceiling_seconds")"
printf 'sluice source into Kafka (acked):     %8d changes in %6.2f s = %8.0f changes/s = %.2f x pg_recvlogical\n' \
    "$changes" "$sluice_seconds" "$(calc "$changes / $sluice_seconds")" "$(calc "$ceiling_seconds / $sluice_seconds")"
printf 'sluice source peak memory (VmHWM):    %8.1f MB\n' "$(calc "$sluice_peak_kb / 1024")"
