# Shared by the source benchmarks (bench-vs-recvlogical.sh, bench-vs-debezium.sh): the
# table, the workloads, the slots, and timing pg_recvlogical and `sluice source` on them.
# Sourced after `here` (this directory) is set; needs the local stack's variables.
#
# Workloads (COUNT is the argument):
#   inserts   one transaction inserting COUNT rows into a 7-column table
#   updates   COUNT single-row update transactions on a 1,000-row 7-column table
#   mixed     COUNT OLTP transactions on a 20-column table whose `body` is 4-8 KB of
#             incompressible text (stored out of line: TOASTed), preloaded with 1,000 rows.
#             Transaction i inserts one row, updates another's small columns (its TOASTed
#             body unchanged, so pgoutput sends it as "unchanged"), every 5th also rewrites
#             one row's body, every 4th deletes a row inserted two transactions before:
#             2 * COUNT + COUNT / 5 + COUNT / 4 changes.
#
# Every consumer reads its own slot, made before the workload, after the workload
# committed, one after the other. The end of the workload is last_lsn: the insert position
# just before its last transaction's commit record, so a slot whose confirmed_flush_lsn is
# past it has confirmed the last commit (whatever else the shared server writes meanwhile).
# pg_recvlogical stops at endpos, the server's WAL position after the workload.

repo="$(cd "$here/../../.." && pwd)"
url="${SLUICE_POSTGRES_URL:?set the stack variables: eval \"\$(deploy/local/stack env)\"}"
bootstrap="${SLUICE_KAFKA_BOOTSTRAP:?set the stack variables}"
export PGPASSWORD="${PGPASSWORD:-$(python3 -c 'import sys,urllib.parse as u; print(u.unquote(u.urlparse(sys.argv[1]).password or ""))' "$url")}"
# maven_fetch, cache_dir and SLUICE_CACHE_DIR come from the local stack's helpers.
# shellcheck source=../../../deploy/local/lib.sh
source "$repo/deploy/local/lib.sh"
work="$(mktemp -d)"
sql() { psql "$url" -v ON_ERROR_STOP=1 -qAtXc "$1"; }
calc() { awk "BEGIN { print $1 }"; }
machine() { printf '%s cores, %s RAM' "$(nproc)" "$(free -h | awk '/^Mem:/ {print $2}')"; }

# bench_cleanup: run at exit by the scripts' trap (after their own process clean-up).
bench_cleanup() {
    if [[ -n "${source_pid:-}" ]]; then kill -TERM "$source_pid" 2>/dev/null && wait "$source_pid" 2>/dev/null; fi
    sql "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE '${name}%'" >/dev/null 2>&1 || true
    sql "DROP PUBLICATION IF EXISTS ${name}_pub; DROP TABLE IF EXISTS ${name}" >/dev/null 2>&1 || true
    bench_kafka delete "$bootstrap" "${name}" "__debezium-heartbeat.${name}" >/dev/null 2>&1 || true
    rm -rf "$work"
}

# bench_build_sluice: `sluice` in release mode, or SLUICE_BIN when set (a binary built before).
bench_build_sluice() {
    if [[ -n "${SLUICE_BIN:-}" ]]; then
        sluice="$SLUICE_BIN"
        return
    fi
    (cd "$repo" && cargo build --quiet --release -p sluice)
    sluice="${CARGO_TARGET_DIR:-$repo/target}/release/sluice"
}

# bench_kafka count|delete ...: debezium/src/BenchKafka.java, compiled once against the local
# stack broker's kafka-clients ($SLUICE_CACHE_DIR/kafka/lib, there once the stack is up).
bench_kafka() {
    local out="$SLUICE_CACHE_DIR/bench/classes" lib="$SLUICE_CACHE_DIR/kafka/lib"
    if [[ ! -f "$out/BenchKafka.class" || "$here/debezium/src/BenchKafka.java" -nt "$out/BenchKafka.class" ]]; then
        mkdir -p "$out"
        javac -nowarn -d "$out" -cp "$lib/*" "$here/debezium/src/BenchKafka.java" >&2
    fi
    java -Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dsluice.kafka.appinfo.level=WARN \
        -Dlog4j2.configurationFile="$repo/deploy/local/kafka/log4j2.properties" \
        -cp "$out:$lib/*" BenchKafka "$@"
}

# bench_create_table WORKLOAD: the table ${name} (and its rows for updates and mixed).
bench_create_table() {
    if [[ $1 == mixed ]]; then
        sql "CREATE TABLE ${name} (id int8 PRIMARY KEY, account_id int8, status text, qty int4,
                 price numeric(12,2), discount numeric(5,2), currency char(3), created_at timestamptz,
                 updated_at timestamptz, shipped bool, region text, sku text, title text, score float8,
                 rating int2, version int4, ref uuid, email text, payload jsonb, body text)"
        sql "INSERT INTO ${name} SELECT $(mixed_row i i) FROM generate_series(1, 1000) AS i"
    else
        sql "CREATE TABLE ${name} (id int4 PRIMARY KEY, customer_id int8, customer_name text, email text,
                                   amount numeric(12,2), created_at timestamptz, active bool)"
        if [[ $1 == updates ]]; then
            sql "INSERT INTO ${name} SELECT i, i, 'customer ' || i, 'user' || i || '@example.com', 1.00,
                 now(), true FROM generate_series(1, 1000) AS i"
        fi
    fi
}

# mixed_row ID SEED: the SQL expressions of one 20-column row; the body is 4,096 to 8,160
# bytes of md5 hex, which pglz cannot compress below the TOAST threshold.
mixed_row() {
    local id="$1" i="$2"
    printf '%s' "$id, $i::int8 * 7919 % 100003, (ARRAY['new','paid','shipped','returned'])[$i % 4 + 1],
        $i % 17, ($i % 10000) + ($i % 100) / 100.0, ($i % 30) / 100.0, 'EUR',
        timestamptz '2024-05-17 12:00:00+00' + $i * interval '1 second', now(), $i % 3 = 0,
        'region-' || $i % 12, 'SKU-' || lpad(($i % 99991)::text, 6, '0'), 'item title ' || $i,
        $i / 7.0, ($i % 5)::int2, 1, md5($i::text)::uuid, 'user' || $i || '@example.com',
        jsonb_build_object('i', $i, 'tags', jsonb_build_array('a', 'b')),
        (SELECT string_agg(md5($i::text || '-' || g), '') FROM generate_series(1, 128 + $i % 128) AS g)"
}

# bench_run_workload WORKLOAD COUNT: run it; sets changes (row changes), records (what
# Debezium writes to Kafka: changes plus a tombstone per delete), last_lsn and endpos.
bench_run_workload() {
    local workload="$1" count="$2" mark="PERFORM set_config('sluice_bench.last_lsn', pg_current_wal_insert_lsn()::text, false);" body
    case "$workload" in
    inserts)
        body="INSERT INTO ${name}
              SELECT i, i::int8 * 7919 % 100003, 'customer ' || i, 'user' || i || '@example.com',
                     (i % 10000) + (i % 100) / 100.0, timestamptz '2024-05-17 12:00:00+00' + i * interval '1 second',
                     i % 3 <> 0
              FROM generate_series(1, $count) AS i;
              $mark"
        changes=$count records=$count
        ;;
    updates)
        body="FOR i IN 1..$count LOOP
                UPDATE ${name} SET amount = amount + 1 WHERE id = i % 1000 + 1;
                IF i = $count THEN $mark END IF;
                COMMIT;
              END LOOP;"
        changes=$count records=$count
        ;;
    mixed)
        body="FOR i IN 1..$count LOOP
                INSERT INTO ${name} SELECT $(mixed_row '1000000 + i' i);
                UPDATE ${name} SET qty = qty + 1, status = 'updated', updated_at = now(), version = version + 1
                  WHERE id = i % 1000 + 1;
                IF i % 5 = 0 THEN
                  UPDATE ${name} SET body = (SELECT string_agg(md5(i::text || '+' || g), '')
                                             FROM generate_series(1, 128 + i % 128) AS g), version = version + 1
                    WHERE id = i * 7 % 1000 + 1;
                END IF;
                IF i % 4 = 0 THEN DELETE FROM ${name} WHERE id = 1000000 + i - 2; END IF;
                IF i = $count THEN $mark END IF;
                COMMIT;
              END LOOP;"
        changes=$((2 * count + count / 5 + count / 4)) records=$((changes + count / 4))
        ;;
    *) echo "unknown workload: $workload" >&2; exit 2 ;;
    esac
    local started out
    started=$(date +%s.%N)
    out="$(psql "$url" -v ON_ERROR_STOP=1 -qAtX -c "DO \$\$ BEGIN $body END \$\$" \
        -c "SELECT current_setting('sluice_bench.last_lsn') || ' ' || pg_current_wal_lsn()")"
    workload_seconds=$(calc "$(date +%s.%N) - $started")
    read -r last_lsn endpos <<<"$out"
}

# bench_slots NAME...: one pgoutput slot ${name}_NAME each.
bench_slots() {
    local slot
    for slot in "$@"; do
        sql "SELECT pg_create_logical_replication_slot('${name}_$slot', 'pgoutput')" >/dev/null
    done
}

# bench_recvlogical SLOT PROTO: pg_recvlogical reads the slot to /dev/null up to endpos
# (protocol 2 with streaming=on); sets recv_seconds.
bench_recvlogical() {
    local options=(-o "proto_version=$2" -o "publication_names=${name}_pub") started
    [[ $2 -ge 2 ]] && options+=(-o streaming=on)
    started=$(date +%s.%N)
    pg_recvlogical -d "$url" --slot="${name}_$1" --start --endpos="$endpos" --no-loop "${options[@]}" -f /dev/null
    recv_seconds=$(calc "$(date +%s.%N) - $started")
}

# slot_past SLOT LSN: t when the slot's confirmed_flush_lsn is past LSN.
slot_past() { sql "SELECT confirmed_flush_lsn > '$2' FROM pg_replication_slots WHERE slot_name = '${name}_$1'"; }

# bench_sluice SLOT: `sluice source` streams the slot into Kafka (topics ${name}.*) until the
# slot confirmed the workload's last commit; sets sluice_seconds and sluice_peak_kb (VmHWM).
bench_sluice() {
    cat >"$work/source.toml" <<TOML
[postgres]
url = "$url"
[source]
slot = "${name}_$1"
publication = "${name}_pub"
create_slot = false
topic_prefix = "${name}"
status_interval_seconds = 0.2
tombstones = false
[snapshot]
mode = "never"
[kafka]
bootstrap_servers = "$bootstrap"
partitions = 3
[metrics]
enabled = false
TOML
    local started hwm
    started=$(date +%s.%N)
    "$sluice" source --config "$work/source.toml" >"$work/source.log" 2>&1 &
    source_pid=$!
    sluice_peak_kb=0
    while true; do
        kill -0 "$source_pid" 2>/dev/null || { tail -20 "$work/source.log" >&2; echo "sluice source exited" >&2; exit 1; }
        hwm=$(awk '/VmHWM/ {print $2}' "/proc/$source_pid/status" 2>/dev/null || echo 0)
        ((hwm > sluice_peak_kb)) && sluice_peak_kb=$hwm
        [[ "$(slot_past "$1" "$last_lsn")" == t ]] && break
        sleep 0.1
    done
    sluice_seconds=$(calc "$(date +%s.%N) - $started")
    kill -TERM "$source_pid" 2>/dev/null && wait "$source_pid" 2>/dev/null || true
    source_pid=
}
