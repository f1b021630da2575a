#!/usr/bin/env bash
# Every benchmark in one run, then one table (`just bench`, `just bench-quick`).
#
#   crates/source/scripts/bench-all.sh [full|quick]
#
#   full:  decoder 1M rows; source vs pg_recvlogical (protocols 1 and 2) vs Debezium on
#          1M inserts in one transaction, 200k update transactions, 50k mixed OLTP
#          transactions; snapshot of 1M rows; each sink: 200k rows applied, 30 s at 5k changes/s
#   quick: 100k rows, 20k and 5k transactions; snapshot of 100k rows; sinks 50k rows, 10 s
#
# Each step's output goes to $SLUICE_BENCH_DIR (default target/bench)/<step>.log; a step that
# fails is named in the table and the rest still run. The table is printed at the end and
# written to $SLUICE_BENCH_DIR/results.md. SLUICE_BENCH_SINKS picks the sinks (default
# "elasticsearch redis neo4j"). Needs the local stack's variables.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
mode="${1:-full}"
dir="${SLUICE_BENCH_DIR:-$repo/target/bench}"
sinks="${SLUICE_BENCH_SINKS:-elasticsearch redis neo4j}"
case "$mode" in
full) decode=1000000 inserts=1000000 updates=200000 mixed=50000 snapshot=1000000 sink_rows=200000 sink_seconds=30 ;;
quick) decode=100000 inserts=100000 updates=20000 mixed=5000 snapshot=100000 sink_rows=50000 sink_seconds=10 ;;
*) echo "usage: bench-all.sh [full|quick]" >&2; exit 2 ;;
esac
mkdir -p "$dir"
rm -f "$dir"/*.log "$dir/source.tsv" "$dir/failed"
export SLUICE_BENCH_RESULTS="$dir/source.tsv"
started_at="$(date -u '+%Y-%m-%d %H:%M UTC')"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"

# step NAME COMMAND...: run it, its output to the terminal and to NAME.log.
step() {
    local step="$1"
    shift
    printf '\n=== %s: %s\n' "$step" "$*"
    "$@" 2>&1 | tee "$dir/$step.log"
    local status=${PIPESTATUS[0]}
    ((status == 0)) || echo "$step (exit $status, see $dir/$step.log)" >>"$dir/failed"
}

cd "$repo" || exit 1
step decoder crates/pgoutput/scripts/bench-vs-recvlogical.sh "$decode"
step source-inserts crates/source/scripts/bench-vs-debezium.sh inserts "$inserts"
step source-updates crates/source/scripts/bench-vs-debezium.sh updates "$updates"
step source-mixed crates/source/scripts/bench-vs-debezium.sh mixed "$mixed"
step snapshot crates/source/scripts/bench-vs-recvlogical.sh snapshot "$snapshot"
for kind in $sinks; do
    step "sink-$kind" crates/sluice/scripts/bench-sink.sh "$kind" "$sink_rows" "$sink_seconds"
done

# The table.
line() { grep -h -m1 "$1" "$dir/$2.log" 2>/dev/null | sed 's/  */ /g'; }
{
    echo "# Sluice benchmarks ($mode), $started_at"
    echo
    echo "Machine: $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(free -h | awk '/^Mem:/ {print $2}') RAM;" \
        "load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (a shared machine: one run, noisy)."
    echo "PostgreSQL $(psql "$SLUICE_POSTGRES_URL" -qAtXc 'SHOW server_version' 2>/dev/null | cut -d' ' -f1)," \
        "Kafka broker 4.4.0 (local stack). Debezium 3.6.1.Final PostgreSQL connector in Kafka Connect 4.3.0 standalone," \
        "JsonConverter with schemas${DEBEZIUM_SCHEMAS:+ enable=$DEBEZIUM_SCHEMAS}, -Xmx1g, offset.flush.interval.ms=${DEBEZIUM_OFFSET_FLUSH_MS:-1000}, heartbeat 1 s."
    echo
    echo "Changes per second, from the start of reading each consumer's own slot (all made before the workload) until:"
    echo "pg_recvlogical reached the end of the workload (to /dev/null: PostgreSQL's decoding, the ceiling);"
    echo "Sluice's slot confirmed the last commit (Sluice confirms only what Kafka acknowledged);"
    echo "Debezium's topic held all its records (a change each, plus a tombstone per delete), counted from its replication connection (JVM start-up not counted)."
    echo "Peak memory: VmHWM of the process (Debezium: the Connect JVM)."
    echo
    echo "| workload | changes | pg_recvlogical p1 | p2 streaming | Sluice | Sluice / p1 | Sluice peak | Debezium | Debezium peak | Sluice / Debezium |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    if [[ -f "$dir/source.tsv" ]]; then
        while IFS=$'\t' read -r workload count changes p1 p2 sluice sluice_mb debezium debezium_mb _confirm _load; do
            case "$workload" in
            inserts) what="inserts: $count rows, 1 transaction" ;;
            updates) what="updates: $count transactions" ;;
            mixed) what="mixed OLTP, TOASTed text: $count transactions" ;;
            esac
            printf '| %s | %d | %d/s | %d/s | %d/s | %.2f x | %.1f MB | %d/s | %.0f MB | %.1f x |\n' \
                "$what" "$changes" "$p1" "$p2" "$sluice" "$(awk "BEGIN { print $sluice / $p1 }")" "$sluice_mb" \
                "$debezium" "$debezium_mb" "$(awk "BEGIN { print $sluice / $debezium }")"
        done <"$dir/source.tsv"
    fi
    echo
    echo '```'
    line 'sluice decoder' decoder
    line '^COPY TO STDOUT' snapshot
    line '^sluice snapshot' snapshot
    for kind in $sinks; do
        line ' sink:' "sink-$kind"
        line '^freshness' "sink-$kind"
    done
    echo '```'
    if [[ -f "$dir/failed" ]]; then
        echo
        echo "Failed steps:"
        sed 's/^/- /' "$dir/failed"
    fi
} >"$dir/results.md"
printf '\n'
cat "$dir/results.md"
echo
echo "(written to $dir/results.md)"
[[ ! -f "$dir/failed" ]]
