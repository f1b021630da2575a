#!/usr/bin/env bash
# The decoder against PostgreSQL's own decoding, on the same data, in one run.
#
#   scripts/bench-vs-recvlogical.sh [ROWS]     (default 1,000,000; needs SLUICE_POSTGRES_URL)
#
# One transaction inserts ROWS rows into a 7-column table. Two slots made before it see the
# same change stream: `pg_recvlogical` reads one to /dev/null (the ceiling: the walsender's
# decoding, which every pgoutput client waits for), and scripts/capture-stream.py saves the
# other's CopyData payloads, which `benches/decode.rs` then decodes on one core: framing,
# pgoutput messages and typed values. PROTO=2 selects protocol 2 (with streaming=on for
# pg_recvlogical, so the server streams the large transaction before it commits).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
url="${SLUICE_POSTGRES_URL:?set SLUICE_POSTGRES_URL (eval \"\$(deploy/local/stack env)\")}"
rows="${1:-1000000}"
proto="${PROTO:-1}"
name="bench_decode_$$"
work="$(mktemp -d)"
export PGPASSWORD="${PGPASSWORD:-$(python3 -c 'import sys,urllib.parse as u; print(u.unquote(u.urlparse(sys.argv[1]).password or ""))' "$url")}"
sql() { psql "$url" -v ON_ERROR_STOP=1 -qAtc "$1"; }

cleanup() {
    sql "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE '${name}%'" >/dev/null 2>&1 || true
    sql "DROP PUBLICATION IF EXISTS ${name}_pub; DROP TABLE IF EXISTS ${name}" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

sql "CREATE TABLE ${name} (id int4 PRIMARY KEY, customer_id int8, customer_name text, email text,
                           amount numeric(12,2), created_at timestamptz, active bool);
     CREATE PUBLICATION ${name}_pub FOR TABLE ${name};"
sql "SELECT pg_create_logical_replication_slot('${name}_ceiling', 'pgoutput');
     SELECT pg_create_logical_replication_slot('${name}_capture', 'pgoutput');" >/dev/null
echo "inserting $rows rows in one transaction"
sql "INSERT INTO ${name}
     SELECT i, i::int8 * 7919 % 100003, 'customer ' || i, 'user' || i || '@example.com',
            (i % 10000) + (i % 100) / 100.0, timestamptz '2024-05-17 12:00:00+00' + i * interval '1 second',
            i % 3 <> 0
     FROM generate_series(1, $rows) AS i"
endpos="$(sql "SELECT pg_current_wal_insert_lsn()")"

options=(-o "proto_version=$proto" -o "publication_names=${name}_pub")
[[ "$proto" -ge 2 ]] && options+=(-o streaming=on)
started=$(date +%s.%N)
pg_recvlogical -d "$url" --slot="${name}_ceiling" --start --endpos="$endpos" --no-loop \
    "${options[@]}" -f /dev/null
calc() { awk "BEGIN { print $1 }"; }
ceiling_seconds=$(calc "$(date +%s.%N) - $started")
ceiling_rate=$(calc "$rows / $ceiling_seconds")

python3 "$here/capture-stream.py" "$url" "${name}_capture" "${name}_pub" 1 "$work/stream.bin"
output="$(cd "$here/.." && cargo bench --quiet --bench decode -- --stream "$work/stream.bin" --proto 1)"
echo "$output"
typed_rate=$(echo "$output" | awk '/typed values/ { for (i = 1; i <= NF; i++) if ($(i+1) == "M") print $i * 1000000 }')

printf '\nmachine: %s cores, %s RAM\n' "$(nproc)" "$(free -h | awk '/^Mem:/ {print $2}')"
printf 'pg_recvlogical (protocol %s): %d rows in %.2f s = %.0f rows/s\n' "$proto" "$rows" "$ceiling_seconds" "$ceiling_rate"
printf 'sluice decoder, framing + decode + typed values, one core: %.0f rows/s = %.1f x pg_recvlogical\n' \
    "$typed_rate" "$(calc "$typed_rate / $ceiling_rate")"
