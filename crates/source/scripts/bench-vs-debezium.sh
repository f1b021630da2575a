#!/usr/bin/env bash
# The source against PostgreSQL's own decoding and against Debezium, on the same slot
# workload, in one run.
#
#   crates/source/scripts/bench-vs-debezium.sh inserts|updates|mixed COUNT
#     (workloads: see bench-lib.sh; COUNT rows for inserts, transactions otherwise)
#
# Four pgoutput slots made before the workload see the same changes; after it committed,
# one after the other:
#   pg_recvlogical, protocol 1, to /dev/null               the ceiling
#   pg_recvlogical, protocol 2 with streaming=on           the ceiling with streaming
#   `sluice source` into Kafka (protobuf, 3 partitions)    until its slot confirmed the
#                                                          workload's last commit, which it
#                                                          does once Kafka acknowledged it all
#   Debezium 3.6.1.Final in Kafka Connect standalone into Kafka (JSON converter with schemas,
#   3 partitions; debezium/debezium.sh), timed from its replication connection (the slot
#   turning active; the JVM's start-up is reported apart) until the topic's end offsets hold
#   every record it writes (a change each, plus a tombstone per delete). With
#   snapshot.mode=no_data, the slot made beforehand and no stored offsets, Debezium streams
#   from the slot's confirmed position ("Starting replication stream from LSN ..." in
#   Connect's log, kept in $TMPDIR/bench-vs-debezium-connect.log). Debezium confirms
#   an LSN to the slot only on Connect's offset commit (offset.flush.interval.ms, 1 s here)
#   and, after a transaction's last record, only with a heartbeat (heartbeat.interval.ms,
#   1 s), so the time until its slot confirmed the last commit is printed as well.
# Peak memory is VmHWM of the process (for Debezium, the Connect JVM with -Xmx1g).
#
# With SLUICE_BENCH_RESULTS=FILE, also appends one tab-separated line of the figures to FILE
# (bench-all.sh builds its table from them). DEBEZIUM_SCHEMAS=false runs Debezium's JSON
# converter without schemas.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workload="${1:?usage: bench-vs-debezium.sh inserts|updates|mixed COUNT}"
count="${2:?usage: bench-vs-debezium.sh inserts|updates|mixed COUNT}"
name="bench_vsdbz_$$"
# shellcheck source=bench-lib.sh
source "$here/bench-lib.sh"
# shellcheck source=debezium/debezium.sh
source "$here/debezium/debezium.sh"
on_exit() {
    debezium_stop
    # Connect's log outlives the run, for when Debezium did not finish.
    [[ -f "$work/debezium.log" ]] && cp "$work/debezium.log" "${TMPDIR:-/tmp}/bench-vs-debezium-connect.log"
    [[ -n "${counter_pid:-}" ]] && kill "$counter_pid" 2>/dev/null
    bench_cleanup
}
trap on_exit EXIT
trap "exit 143" TERM INT

bench_build_sluice
debezium_install

bench_create_table "$workload"
sql "CREATE PUBLICATION ${name}_pub FOR TABLE ${name}"
bench_slots proto1 proto2 sluice debezium

echo "workload: $workload $count ($(uptime | sed 's/.*load average/load average/'))"
bench_run_workload "$workload" "$count"
printf 'workload committed in %.2f s: %d changes\n' "$workload_seconds" "$changes"

bench_recvlogical proto1 1
proto1_seconds=$recv_seconds
bench_recvlogical proto2 2
proto2_seconds=$recv_seconds
bench_sluice sluice

# Debezium: the topic counter first, then Connect.
topic="${name}_dbz.public.${name}"
bench_kafka count "$bootstrap" "$topic" "$records" 3600 >"$work/count.out" 2>"$work/count.err" &
counter_pid=$!
launched=$(date +%s.%N)
debezium_start "${name}_debezium" "${name}_pub" "$name" "${name}_dbz"
debezium_peak_kb=0 debezium_streaming_kb=0 active_at="" reached_at="" confirmed_at=""
while [[ -z "$reached_at" || -z "$confirmed_at" ]]; do
    kill -0 "$debezium_pid" 2>/dev/null || { tail -40 "$work/debezium.log" >&2; echo "Kafka Connect exited" >&2; exit 1; }
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$debezium_pid/status" 2>/dev/null || echo 0)
    ((hwm > debezium_peak_kb)) && debezium_peak_kb=$hwm
    now=$(date +%s.%N)
    if [[ -n "$active_at" ]]; then
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$debezium_pid/status" 2>/dev/null || echo 0)
        ((rss > debezium_streaming_kb)) && debezium_streaming_kb=$rss
    fi
    if [[ -z "$active_at" && "$(sql "SELECT active FROM pg_replication_slots WHERE slot_name = '${name}_debezium'")" == t ]]; then
        active_at=$now
    fi
    if [[ -z "$reached_at" ]] && ! kill -0 "$counter_pid" 2>/dev/null; then
        wait "$counter_pid" || { cat "$work/count.out" "$work/count.err" >&2; echo "Debezium's records never all reached Kafka" >&2; exit 1; }
        counter_pid=
        reached_at=$(awk '/^reached/ {print $2}' "$work/count.out")
    fi
    if [[ -z "$confirmed_at" && "$(slot_past debezium "$last_lsn")" == t ]]; then
        confirmed_at=$now
    fi
    if [[ -n "$reached_at" && -z "$confirmed_at" ]] && (($(calc "($now - $reached_at > 60)"))); then
        confirmed_at=none # its slot did not confirm the last commit within a minute
    fi
    sleep 0.1
done
[[ -n "$active_at" ]] || active_at=$launched
debezium_seconds=$(calc "$reached_at - $active_at")
debezium_startup=$(calc "$active_at - $launched")
debezium_confirm=$([[ $confirmed_at == none ]] && echo none || calc "$confirmed_at - $active_at")
debezium_stop

rate() { calc "$changes / $1"; }
mb() { calc "$1 / 1024"; }
printf '\nmachine: %s, load average %s\n' "$(machine)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'workload: %s %d: %d row changes\n' "$workload" "$count" "$changes"
printf 'pg_recvlogical (protocol 1):                  %6.2f s = %8.0f changes/s\n' "$proto1_seconds" "$(rate "$proto1_seconds")"
printf 'pg_recvlogical (protocol 2, streaming):       %6.2f s = %8.0f changes/s\n' "$proto2_seconds" "$(rate "$proto2_seconds")"
printf 'sluice source into Kafka (slot confirmed):    %6.2f s = %8.0f changes/s = %.2f x pg_recvlogical (protocol 1), peak memory %.1f MB\n' \
    "$sluice_seconds" "$(rate "$sluice_seconds")" "$(calc "$proto1_seconds / $sluice_seconds")" "$(mb "$sluice_peak_kb")"
printf 'Debezium into Kafka (%d records on the topic): %6.2f s = %8.0f changes/s, peak memory %.1f MB (JVM, %s)\n' \
    "$records" "$debezium_seconds" "$(rate "$debezium_seconds")" "$(mb "$debezium_peak_kb")" "$DEBEZIUM_HEAP"
printf '  Debezium: Connect start-up %.1f s (not counted); slot confirmed the last commit after %s s; peak RSS while streaming %.1f MB\n' \
    "$debezium_startup" "$debezium_confirm" "$(mb "$debezium_streaming_kb")"
printf 'sluice / Debezium: %.2f x the rate, %.2f x the peak memory\n' \
    "$(calc "$debezium_seconds / $sluice_seconds")" "$(calc "$sluice_peak_kb / $debezium_peak_kb")"

if [[ -n "${SLUICE_BENCH_RESULTS:-}" ]]; then
    # workload count changes proto1/s proto2/s sluice/s sluice-MB debezium/s debezium-MB debezium-confirm-s load
    printf '%s\t%d\t%d\t%.0f\t%.0f\t%.0f\t%.1f\t%.0f\t%.1f\t%s\t%s\n' "$workload" "$count" "$changes" \
        "$(rate "$proto1_seconds")" "$(rate "$proto2_seconds")" "$(rate "$sluice_seconds")" "$(mb "$sluice_peak_kb")" \
        "$(rate "$debezium_seconds")" "$(mb "$debezium_peak_kb")" "$debezium_confirm" \
        "$(cut -d' ' -f1 /proc/loadavg)" >>"$SLUICE_BENCH_RESULTS"
fi
