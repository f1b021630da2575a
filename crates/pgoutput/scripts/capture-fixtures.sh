#!/usr/bin/env bash
# Captures the pgoutput fixtures under tests/fixtures/ from a live PostgreSQL >= 15.
#
# Why a script: the fixtures are the ground truth the decoder is tested against, so they
# must come from a real server's pgoutput, not from our own encoder. Re-running this script
# regenerates them (xids and LSNs change; the tests only assert on relations between them).
#
# What it does, in a throw-away database (so other users of the server do not leak into the
# slots, and this script does not leave anything behind):
#   1. creates schema `fx` with tables covering every replica identity, an enum type (Type
#      messages), a TOASTable column stored EXTERNAL, a parent/child pair for TRUNCATE CASCADE;
#   2. for each scenario, creates a logical slot with pg_create_logical_replication_slot(name,
#      'pgoutput', false, two_phase), runs the SQL, and *peeks* the changes with
#      pg_logical_slot_peek_binary_changes once per protocol version / option set, so the same
#      WAL is rendered by protocol 1, 2 and 3;
#   3. speaks the streaming replication protocol itself (scripts/capture-walsender.py) for one
#      small transaction, to capture real XLogData / keepalive frames and check that a standby
#      status update in our layout moves the slot's confirmed_flush_lsn;
#   4. drops the slots, the replication origin and the database.
#
# Streaming: the decoding session runs `SET logical_decoding_work_mem = '64kB'` (the minimum) so a
# transaction of a few thousand small rows is streamed; the server's own setting is untouched.
# The streamed fixtures are trimmed: inside each Stream Start .. Stream Stop block only the
# first $KEEP_STREAM_INSERTS Insert messages are kept (everything else is kept verbatim), which
# keeps the files at a few KB while preserving every message kind and the block structure.
#
# File format (one decoded row of pg_logical_slot_peek_binary_changes per line):
#   <lsn> TAB <xid> TAB <hex of the pgoutput message>
#
# Usage:
#   scripts/capture-fixtures.sh
# Environment:
#   SLUICE_POSTGRES_URL   a role with REPLICATION and CREATEDB
#                         (default postgres://sluice:sluice@127.0.0.1:5432/sluice)
#   SUPERUSER_PSQL        optional command running psql as a superuser, without -d, e.g.
#                         "runuser -u postgres -- psql -h /path/to/socket -p 5432"; needed only for
#                         the Origin message scenario (replication origins need superuser). When
#                         unset that scenario is skipped.
#   FIXTURE_DIR           output directory (default: tests/fixtures next to this script)
set -euo pipefail

BASE_URL="${SLUICE_POSTGRES_URL:-postgres://sluice:sluice@127.0.0.1:5432/sluice}"
FIX_DB="pgoutput_fixture_capture"
FIX_URL="${BASE_URL%/*}/$FIX_DB"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${FIXTURE_DIR:-$HERE/../tests/fixtures}"
SUPERUSER_PSQL="${SUPERUSER_PSQL:-}"
KEEP_STREAM_INSERTS=3
PUB=fx_pub
mkdir -p "$OUT"

q_admin() { psql "$BASE_URL" -X -q -v ON_ERROR_STOP=1 "$@"; }
q() { psql "$FIX_URL" -X -q -v ON_ERROR_STOP=1 "$@"; }
q_super() { $SUPERUSER_PSQL -X -q -v ON_ERROR_STOP=1 -d "$FIX_DB" "$@"; }

cleanup() {
    set +e
    for slot in fx_basic fx_stream fx_twophase fx_frames; do
        q_admin -Atc "SELECT pg_drop_replication_slot('$slot') FROM pg_replication_slots WHERE slot_name = '$slot'" >/dev/null 2>&1
    done
    if [[ -n $SUPERUSER_PSQL ]]; then
        q_super -c "SELECT pg_replication_origin_drop('sluice_upstream') FROM pg_replication_origin WHERE roname = 'sluice_upstream'" >/dev/null 2>&1
    fi
    q -Atc "SELECT 'ROLLBACK PREPARED ' || quote_literal(gid) FROM pg_prepared_xacts WHERE gid LIKE 'fx-%' \gexec" >/dev/null 2>&1
    q_admin -c "DROP DATABASE IF EXISTS $FIX_DB" >/dev/null 2>&1
}
cleanup
q_admin -c "CREATE DATABASE $FIX_DB"
trap cleanup EXIT

# ---------------------------------------------------------------- schema
q <<'SQL'
CREATE SCHEMA fx;
CREATE TYPE fx.mood AS ENUM ('sad', 'ok', 'happy');
-- REPLICA IDENTITY DEFAULT (primary key); `notes` is stored out of line uncompressed once
-- it exceeds ~2 kB, so an UPDATE that does not touch it sends it as 'u' (unchanged TOAST).
CREATE TABLE fx.items (
    id         int PRIMARY KEY,
    name       text NOT NULL,
    price      numeric(10, 2),
    mood       fx.mood,
    tags       text[],
    notes      text,
    updated_at timestamptz
);
ALTER TABLE fx.items ALTER COLUMN notes SET STORAGE EXTERNAL;
CREATE TABLE fx.full_ident (id int, label text);
ALTER TABLE fx.full_ident REPLICA IDENTITY FULL;
CREATE TABLE fx.by_index (a int NOT NULL, b int NOT NULL, c text);
CREATE UNIQUE INDEX by_index_ab ON fx.by_index (a, b);
ALTER TABLE fx.by_index REPLICA IDENTITY USING INDEX by_index_ab;
CREATE TABLE fx.append_only (v text);
ALTER TABLE fx.append_only REPLICA IDENTITY NOTHING;
CREATE TABLE fx.parent (id serial PRIMARY KEY, v text);
CREATE TABLE fx.child (id serial PRIMARY KEY, parent_id int REFERENCES fx.parent);
CREATE TABLE fx.stream_rows (id int PRIMARY KEY, v text);
CREATE TABLE fx.stream_aux (id int);
-- Not published: a commit touching it forces a WAL flush (see flush_wal) and emits nothing.
CREATE TABLE fx.flush_marker (id int);
CREATE PUBLICATION fx_pub FOR TABLE fx.items, fx.full_ident, fx.by_index, fx.append_only,
    fx.parent, fx.child, fx.stream_rows, fx.stream_aux;
SQL

# peek SLOT FILE OPTIONS... : write every message of the slot, rendered with OPTIONS, to FILE.
peek() {
    local slot=$1 file=$2
    shift 2
    local opts="'publication_names', '$PUB', 'messages', 'true'"
    local o
    for o in "$@"; do opts+=", $o"; done
    q -At -F $'\t' \
        -c "SET logical_decoding_work_mem = '64kB'" \
        -c "SELECT lsn, xid, encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('$slot', NULL, NULL, $opts)" |
        awk -F '\t' -v keep="$KEEP_STREAM_INSERTS" -f "$HERE/trim-streamed-inserts.awk" >"$OUT/$file"
    printf '%-28s %5d messages %7d bytes\n' "$file" "$(wc -l <"$OUT/$file")" "$(wc -c <"$OUT/$file")"
}

# pg_logical_slot_peek_* decodes only up to the WAL *flush* position. A ROLLBACK (or ROLLBACK
# PREPARED) record is written without a flush, so without this the peek may miss the Stream Abort
# at the end of a scenario. A commit of a write to an unpublished table flushes everything
# before it and produces no pgoutput message (PostgreSQL 15 skips empty transactions).
flush_wal() { q -c "INSERT INTO fx.flush_marker VALUES (1)"; }

create_slot() { q -Atc "SELECT pg_create_logical_replication_slot('$1', 'pgoutput', false, $2)" >/dev/null; }

# ---------------------------------------------------------------- basic (protocol 1, 2, 3)
create_slot fx_basic false
q >/dev/null <<'SQL'
INSERT INTO fx.items VALUES
    (1, 'widget', 9.99, 'happy', '{a,b}',
     (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 80) i), '2024-01-02 03:04:05+00'),
    (2, 'gadget', NULL, 'sad', NULL, 'short note', NULL);
-- key unchanged, TOASTed notes untouched: new tuple only, notes = 'u'
UPDATE fx.items SET price = 10.50 WHERE id = 1;
-- primary key changed: old key tuple 'K' (key columns only, others null)
UPDATE fx.items SET id = 10 WHERE id = 2;
DELETE FROM fx.items WHERE id = 10;
BEGIN;
INSERT INTO fx.full_ident VALUES (1, 'one'), (2, 'two');
UPDATE fx.full_ident SET label = 'uno' WHERE id = 1;
DELETE FROM fx.full_ident WHERE id = 2;
COMMIT;
BEGIN;
INSERT INTO fx.by_index VALUES (1, 1, 'x');
UPDATE fx.by_index SET c = 'y' WHERE a = 1;
UPDATE fx.by_index SET a = 2 WHERE a = 1;
DELETE FROM fx.by_index WHERE a = 2;
COMMIT;
INSERT INTO fx.append_only VALUES ('no identity');
BEGIN;
INSERT INTO fx.items (id, name) VALUES (3, 'with message');
SELECT pg_logical_emit_message(true, 'sluice', 'transactional hello');
COMMIT;
SELECT pg_logical_emit_message(false, 'sluice-nt', '\x00ff10'::bytea);
INSERT INTO fx.parent (v) VALUES ('p1'), ('p2');
INSERT INTO fx.child (parent_id) VALUES (1), (2);
TRUNCATE fx.parent RESTART IDENTITY CASCADE;
TRUNCATE fx.full_ident, fx.append_only;
TRUNCATE fx.by_index RESTART IDENTITY;
ALTER TABLE fx.items ADD COLUMN rating int;
INSERT INTO fx.items (id, name, rating) VALUES (4, 'after alter', 5);
SQL
if [[ -n $SUPERUSER_PSQL ]]; then
    q_super >/dev/null <<'SQL'
SELECT pg_replication_origin_create('sluice_upstream');
SELECT pg_replication_origin_session_setup('sluice_upstream');
BEGIN;
SELECT pg_replication_origin_xact_setup('0/1234ABCD', '2024-01-01 00:00:00+00');
INSERT INTO fx.items (id, name) VALUES (5, 'from origin');
COMMIT;
SELECT pg_replication_origin_session_reset();
SQL
fi
flush_wal
peek fx_basic basic_v1.hex "'proto_version', '1'"
peek fx_basic basic_v1_binary.hex "'proto_version', '1'" "'binary', 'true'"
peek fx_basic basic_v2.hex "'proto_version', '2'"
peek fx_basic basic_v3.hex "'proto_version', '3'"
q -Atc "SELECT pg_drop_replication_slot('fx_basic')" >/dev/null

# ---------------------------------------------------------------- streamed (protocol 2, 3)
create_slot fx_stream false
q >/dev/null <<'SQL'
BEGIN;
INSERT INTO fx.stream_rows SELECT g, 'row ' || g FROM generate_series(1, 2000) g;
SAVEPOINT s1;
INSERT INTO fx.stream_rows SELECT g, 'sub ' || g FROM generate_series(100001, 102000) g;
ROLLBACK TO SAVEPOINT s1;
SAVEPOINT s2;
UPDATE fx.stream_rows SET v = 'changed' WHERE id <= 2;
RELEASE SAVEPOINT s2;
DELETE FROM fx.stream_rows WHERE id = 3;
SELECT pg_logical_emit_message(true, 'sluice-stream', 'inside a streamed transaction');
INSERT INTO fx.stream_aux VALUES (1);
TRUNCATE fx.stream_aux;
COMMIT;
BEGIN;
INSERT INTO fx.stream_rows SELECT g, 'aborted ' || g FROM generate_series(200001, 202000) g;
ROLLBACK;
SQL
flush_wal
peek fx_stream stream_v2.hex "'proto_version', '2'" "'streaming', 'on'"
peek fx_stream stream_v3.hex "'proto_version', '3'" "'streaming', 'on'"
q -Atc "SELECT pg_drop_replication_slot('fx_stream')" >/dev/null

# ---------------------------------------------------------------- two-phase (protocol 3)
create_slot fx_twophase true
q >/dev/null <<'SQL'
BEGIN;
INSERT INTO fx.items (id, name) VALUES (20, 'prepared then committed');
PREPARE TRANSACTION 'fx-commit';
COMMIT PREPARED 'fx-commit';
BEGIN;
INSERT INTO fx.items (id, name) VALUES (21, 'prepared then rolled back');
PREPARE TRANSACTION 'fx-rollback';
ROLLBACK PREPARED 'fx-rollback';
BEGIN;
INSERT INTO fx.stream_rows SELECT g, 'prepared stream ' || g FROM generate_series(300001, 302000) g;
PREPARE TRANSACTION 'fx-stream';
COMMIT PREPARED 'fx-stream';
SQL
flush_wal
peek fx_twophase twophase_v3.hex "'proto_version', '3'" "'two_phase', 'on'" "'streaming', 'on'"
q -Atc "SELECT pg_drop_replication_slot('fx_twophase')" >/dev/null

# ---------------------------------------------------------------- walsender frames (protocol 1)
# The replication protocol itself, for the framing: XLogData and keepalives as a client gets
# them, and one standby status update whose effect on the slot is checked here.
create_slot fx_frames false
q >/dev/null <<'SQL'
INSERT INTO fx.append_only VALUES ('over the wire');
SQL
flush_wal
confirmed_sent=$(python3 "$HERE/capture-walsender.py" "$FIX_URL" fx_frames "$PUB" "$OUT/walsender_v1.hex" |
    tee /dev/stderr | awk '{print $NF}')
for _ in $(seq 50); do
    [[ $(q -Atc "SELECT active FROM pg_replication_slots WHERE slot_name = 'fx_frames'") == f ]] && break
    sleep 0.2
done
confirmed_slot=$(q -Atc "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'fx_frames'")
if [[ $confirmed_slot != "$confirmed_sent" ]]; then
    echo "status update not applied: slot confirmed $confirmed_slot, sent $confirmed_sent" >&2
    exit 1
fi
echo "standby status update accepted: slot confirmed_flush_lsn = $confirmed_slot"
q -Atc "SELECT pg_drop_replication_slot('fx_frames')" >/dev/null

echo "fixtures written to $OUT"
