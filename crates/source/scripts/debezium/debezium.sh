# Debezium's PostgreSQL connector 3.6.1.Final in Kafka Connect standalone (Kafka 4.3.0, the
# release Debezium 3.6.1 is built against), the way users run it: the connector's jars in a
# directory under the worker's plugin.path, the JSON converter with schemas enabled (Connect's
# default), offsets in a file. Sourced by bench-vs-debezium.sh after bench-lib.sh.
#
# Jars: Maven Central through `mvn dependency:copy-dependencies` (deploy/local/lib.sh's
# maven_fetch), once, into
#   $SLUICE_CACHE_DIR/debezium/connect/lib                                the worker
#   $SLUICE_CACHE_DIR/debezium/plugins/debezium-connector-postgres/lib   the plugin

DEBEZIUM_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEBEZIUM_HEAP="${DEBEZIUM_HEAP:--Xms256m -Xmx1g}"
DEBEZIUM_OFFSET_FLUSH_MS="${DEBEZIUM_OFFSET_FLUSH_MS:-1000}"
DEBEZIUM_SCHEMAS="${DEBEZIUM_SCHEMAS:-true}"

debezium_install() {
    command -v mvn >/dev/null || { echo "needs Maven (mvn) to fetch Debezium's jars" >&2; return 1; }
    maven_fetch debezium/connect "$DEBEZIUM_DIR/connect/pom.xml"
    maven_fetch debezium/plugins/debezium-connector-postgres "$DEBEZIUM_DIR/plugin/pom.xml"
}

# debezium_start SLOT PUBLICATION TABLE TOPIC_PREFIX: the worker and the connector, in the
# background (debezium_pid); its log is $work/debezium.log.
debezium_start() {
    local slot="$1" publication="$2" table="$3" prefix="$4" host port user password db
    read -r host port user password db < <(python3 - "$url" <<'PY'
import sys, urllib.parse as u
p = u.urlparse(sys.argv[1])
print(p.hostname or "127.0.0.1", p.port or 5432, u.unquote(p.username or "postgres"),
      u.unquote(p.password or ""), p.path.lstrip("/") or "postgres")
PY
)
    cat >"$work/worker.properties" <<PROPS
bootstrap.servers=$bootstrap
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=$DEBEZIUM_SCHEMAS
value.converter.schemas.enable=$DEBEZIUM_SCHEMAS
offset.storage.file.filename=$work/connect.offsets
offset.flush.interval.ms=$DEBEZIUM_OFFSET_FLUSH_MS
plugin.path=$SLUICE_CACHE_DIR/debezium/plugins
listeners=http://127.0.0.1:0
PROPS
    cat >"$work/connector.properties" <<PROPS
name=${prefix}
connector.class=io.debezium.connector.postgresql.PostgresConnector
tasks.max=1
plugin.name=pgoutput
database.hostname=$host
database.port=$port
database.user=$user
database.password=$password
database.dbname=$db
topic.prefix=$prefix
slot.name=$slot
publication.name=$publication
publication.autocreate.mode=disabled
table.include.list=public.$table
snapshot.mode=no_data
heartbeat.interval.ms=1000
topic.creation.default.partitions=3
topic.creation.default.replication.factor=1
PROPS
    # The JVM options of Kafka's own scripts (kafka-run-class.sh), with a 1 GB heap.
    # shellcheck disable=SC2086
    java $DEBEZIUM_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
        -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$DEBEZIUM_DIR/log4j2.properties" \
        -cp "$SLUICE_CACHE_DIR/debezium/connect/lib/*" org.apache.kafka.connect.cli.ConnectStandalone \
        "$work/worker.properties" "$work/connector.properties" >"$work/debezium.log" 2>&1 &
    debezium_pid=$!
}

debezium_stop() {
    [[ -n "${debezium_pid:-}" ]] || return 0
    kill -TERM "$debezium_pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$debezium_pid" 2>/dev/null && ((waited < 300)); do sleep 0.1; waited=$((waited + 1)); done
    kill -KILL "$debezium_pid" 2>/dev/null || true
    wait "$debezium_pid" 2>/dev/null || true
    debezium_pid=
}
