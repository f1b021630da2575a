#!/usr/bin/env bash
# One sink on the local stack, two figures in one run:
#
#   crates/sluice/scripts/bench-sink.sh KIND [ROWS] [SECONDS]     KIND: elasticsearch, redis, neo4j
#     apply rate: ROWS (default 200000) rows of a 7-column table are put on Kafka by
#                 `sluice source` (snapshot mode initial_only), then `sluice sink KIND`
#                 starts with a fresh consumer group; rows per second from its start until
#                 it has applied every row (its sluice_sink_events_applied_total), which
#                 the store is then asked to confirm (a count of documents or keys; Neo4j:
#                 the sink's counter only).
#     freshness:  for SECONDS (default 30) a writer commits 500 rows every 100 ms
#                 (5,000 changes/s) while the source and the sink run; the sink's
#                 sluice_sink_freshness_seconds histogram (commit in PostgreSQL to the
#                 store accepting it) gives p50 and p99.
#
# Needs the local stack's variables (eval "$(deploy/local/stack env)"); builds `sluice` in
# release mode.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
url="${SLUICE_POSTGRES_URL:?set the stack variables: eval \"\$(deploy/local/stack env)\"}"
bootstrap="${SLUICE_KAFKA_BOOTSTRAP:?set the stack variables}"
kind="${1:?usage: bench-sink.sh elasticsearch|redis|neo4j [ROWS] [SECONDS]}"
rows="${2:-200000}"
seconds="${3:-30}"
name="bench_${kind}_$$"
prefix="bench-${kind}-$$"
work="$(mktemp -d)"
export PGPASSWORD="${PGPASSWORD:-sluice}"
sql() { psql "$url" -v ON_ERROR_STOP=1 -qAtXc "$1"; }
calc() { awk "BEGIN { print $1 }"; }
pids=()

cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    sql "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE '${name}%'" >/dev/null 2>&1 || true
    sql "DROP PUBLICATION IF EXISTS ${name}_pub; DROP TABLE IF EXISTS ${name}" >/dev/null 2>&1 || true
    store_clean_up >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# What differs per store: its config section, how many rows it holds, how to clean up.
case "$kind" in
elasticsearch)
    search="${SLUICE_ELASTICSEARCH_URL:?set the stack variables}"
    store_section() { printf '[elasticsearch]\nurl = "%s"\nindex_prefix = "%s"\n' "$search" "$prefix"; }
    store_count() {
        curl -fsS -X POST "$search/${prefix}-public-${name}/_refresh" >/dev/null
        curl -fsS "$search/${prefix}-public-${name}/_count" | sed -n 's/.*"count":\([0-9]*\).*/\1/p'
    }
    store_clean_up() { curl -fsS -X DELETE "$search/${prefix}-*"; }
    ;;
redis)
    redis="${SLUICE_REDIS_URL:?set the stack variables}"
    store_section() { printf '[redis]\nurl = "%s"\nkey_prefix = "%s"\n' "$redis" "$prefix"; }
    store_count() { redis-cli -u "$redis" --scan --pattern "${prefix}:public.${name}:*" | grep -vc '\\' || true; }
    store_clean_up() { redis-cli -u "$redis" --scan --pattern "${prefix}:*" | xargs -r -n 1000 redis-cli -u "$redis" unlink; }
    ;;
neo4j)
    neo4j="${SLUICE_NEO4J_URL:?set the stack variables}"
    label="Bench$$"
    store_section() { printf '[neo4j]\nurl = "%s"\n[neo4j.nodes."public.%s"]\nlabel = "%s"\n' "$neo4j" "$name" "$label"; }
    hostport="${neo4j#bolt://}"
    cypher() { python3 "$repo/deploy/local/neo4j/bolt_probe.py" --host "${hostport%:*}" --port "${hostport##*:}" -q "$1"; }
    store_count() { cypher "MATCH (n:$label) RETURN count(n)" | sed -n 's/^record \[\([0-9]*\)\]/\1/p'; }
    store_clean_up() {
        cypher "MATCH (n:$label) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
        cypher "MATCH (t) WHERE (t:SluiceTombstone OR t:SluiceTruncateFloor) AND t.sluice_table = 'public.$name' DELETE t"
        # The sink's constraint and index on the label (named by the server).
        local what item
        for what in CONSTRAINT INDEX; do
            cypher "SHOW ${what}S YIELD name, labelsOrTypes WHERE '$label' IN labelsOrTypes RETURN name" |
                sed -n 's/^record \["\(.*\)"\]$/\1/p' | while read -r item; do
                    cypher "DROP $what \`$item\` IF EXISTS"
                done
        done
    }
    ;;
*) echo "unknown sink kind: $kind (elasticsearch, redis, neo4j)" >&2; exit 2 ;;
esac

(cd "$repo" && cargo build --quiet --release -p sluice)
sluice="${CARGO_TARGET_DIR:-$repo/target}/release/sluice"

sql "CREATE TABLE ${name} (id int8 PRIMARY KEY, customer_id int8, customer_name text, email text,
                           amount numeric(12,2), created_at timestamptz, active bool)"
sql "INSERT INTO ${name}
     SELECT i, i * 7919 % 100003, 'customer ' || i, 'user' || i || '@example.com',
            (i % 10000) + (i % 100) / 100.0, timestamptz '2024-05-17 12:00:00+00' + i * interval '1 second',
            i % 3 <> 0
     FROM generate_series(1, $rows) AS i"
sql "CREATE PUBLICATION ${name}_pub FOR TABLE ${name}"

cat >"$work/source.toml" <<TOML
[postgres]
url = "$url"
[source]
slot = "${name}_slot"
publication = "${name}_pub"
topic_prefix = "${prefix}"
status_interval_seconds = 0.5
heartbeat_interval_seconds = 0
[snapshot]
mode = "SNAPSHOT_MODE"
[kafka]
bootstrap_servers = "$bootstrap"
partitions = 3
[metrics]
enabled = false
TOML
cat >"$work/sink.toml" <<TOML
[kafka]
bootstrap_servers = "$bootstrap"
[sink]
topic_prefix = "${prefix}"
group_id = "${prefix}-GROUP"
batch_max_records = 2000
batch_max_wait_ms = 50
topic_refresh_seconds = 1
[metrics]
listen_address = "127.0.0.1:0"
$(store_section)
TOML
config() { sed -e "s/SNAPSHOT_MODE/$2/" -e "s/GROUP/$3/" "$work/$1.toml" >"$work/$1-$3.toml"; echo "$work/$1-$3.toml"; }
# The sink's metrics endpoint (from its log) and the events it has applied so far.
metrics_address() { sed -n 's/.*serving \/metrics.*address=\([0-9.:]*\).*/\1/p' "$1" 2>/dev/null | tail -1; }
applied() {
    local address
    address="$(metrics_address "$1")"
    [[ -n "$address" ]] || { echo 0; return; }
    curl -fsS "http://$address/metrics" 2>/dev/null |
        awk '/^sluice_sink_events_applied_total/ { sum += $NF } END { printf "%d\n", sum }'
}

echo "workload: $rows rows, then ${seconds}s at 5000 changes/s"
# 1. The rows on Kafka, through the snapshot.
"$sluice" source --config "$(config source initial_only apply)" >"$work/source-snapshot.log" 2>&1 ||
    { tail -20 "$work/source-snapshot.log" >&2; exit 1; }

# 2. The sink applies them.
started=$(date +%s.%N)
"$sluice" sink "$kind" --config "$(config sink never apply)" >"$work/sink-apply.log" 2>&1 &
sink_pid=$!
pids+=("$sink_pid")
peak_kb=0
until (($(applied "$work/sink-apply.log") >= rows)); do
    kill -0 "$sink_pid" 2>/dev/null || { tail -20 "$work/sink-apply.log" >&2; echo "the sink exited" >&2; exit 1; }
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$sink_pid/status" 2>/dev/null || echo 0)
    ((hwm > peak_kb)) && peak_kb=$hwm
    sleep 0.2
done
apply_seconds=$(calc "$(date +%s.%N) - $started")
kill -TERM "$sink_pid"; wait "$sink_pid" || true
held="$(store_count)"
[[ "$held" == "$rows" ]] || { echo "the $kind store holds $held rows, not $rows" >&2; exit 1; }

# 3. Freshness under a steady 5k changes/s: the source streaming, and the sink again in
# the same group, which committed everything above when it stopped (no backlog).
"$sluice" source --config "$(config source never stream)" >"$work/source-stream.log" 2>&1 &
pids+=("$!")
"$sluice" sink "$kind" --config "$work/sink-apply.toml" >"$work/sink-fresh.log" 2>&1 &
pids+=("$!")
until grep -q "partitions assigned" "$work/sink-fresh.log"; do sleep 0.2; done
sleep 2
metrics="$(metrics_address "$work/sink-fresh.log")"
batches=$((seconds * 10))
started=$(date +%s.%N)
sql "DO \$\$ DECLARE t0 double precision := extract(epoch FROM clock_timestamp()); BEGIN
       FOR b IN 0..$((batches - 1)) LOOP
         INSERT INTO ${name} SELECT 10000000 + b * 500 + i, i, 'fresh ' || i, 'f@example.com', 1.00, now(), true
           FROM generate_series(1, 500) AS i;
         COMMIT;
         PERFORM pg_sleep(greatest(0, t0 + (b + 1) * 0.1 - extract(epoch FROM clock_timestamp())));
       END LOOP; END \$\$"
write_seconds=$(calc "$(date +%s.%N) - $started")
changes=$((batches * 500))
until (($(applied "$work/sink-fresh.log") >= changes)); do sleep 0.2; done
curl -fsS "http://$metrics/metrics" >"$work/metrics.txt"
read -r p50 p99 observed < <(python3 - "$work/metrics.txt" <<'PY'
import re, sys
buckets = []
for line in open(sys.argv[1]):
    m = re.match(r'sluice_sink_freshness_seconds_bucket\{.*le="([^"]+)"\} (\S+)', line)
    if m:
        buckets.append((float("inf") if m.group(1) == "+Inf" else float(m.group(1)), float(m.group(2))))
buckets.sort()
total = buckets[-1][1]
def quantile(q):
    rank, lower, below = q * total, 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-9)
        lower, below = bound, count
    return lower
print(f"{quantile(0.5):.3f} {quantile(0.99):.3f} {int(total)}")
PY
)

printf '\nmachine: %s cores, %s RAM\n' "$(nproc)" "$(free -h | awk '/^Mem:/ {print $2}')"
printf '%-13s sink: %8d rows in %6.2f s = %8.0f rows/s applied, peak memory (VmHWM) %.1f MB\n' \
    "$kind" "$rows" "$apply_seconds" "$(calc "$rows / $apply_seconds")" "$(calc "$peak_kb / 1024")"
printf 'freshness at %5.0f changes/s: p50 %s s, p99 %s s (%s changes, commit in PostgreSQL to accepted by the store)\n' \
    "$(calc "$changes / $write_seconds")" "$p50" "$p99" "$observed"
