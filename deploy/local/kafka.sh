# Apache Kafka 4.x for the local stack: one KRaft node that is both broker and controller,
# run from the jars on Maven Central (deploy/local/kafka/pom.xml). Sourced by
# deploy/local/stack; see deploy/local/lib.sh for the contract and the layout.
#
#   PLAINTEXT  127.0.0.1:$SLUICE_KAFKA_PORT             clients (advertised as such)
#   CONTROLLER 127.0.0.1:$SLUICE_KAFKA_CONTROLLER_PORT  the node's own KRaft quorum
#
# Data lives in $SLUICE_STATE_DIR/kafka/data, formatted once with a fresh cluster id.
# Readiness is a real request: deploy/local/kafka/src/KafkaProbe.java describes the cluster,
# has the controller validate a topic creation and lists topics.

KAFKA_LOCAL_DIR="$SLUICE_LOCAL_DIR/kafka"
KAFKA_LOG4J_CONFIG="$KAFKA_LOCAL_DIR/log4j2.properties"

kafka_install() {
    command -v "$SLUICE_JAVA" >/dev/null || die "kafka: needs Java 17 or newer ($SLUICE_JAVA not found)"
    maven_fetch kafka "$KAFKA_LOCAL_DIR/pom.xml"
    java_compile kafka "$KAFKA_LOCAL_DIR/src"
}

# kafka_write_config DIR: (re)write DIR/server.properties from the current ports.
kafka_write_config() {
    local dir="$1"
    cat >"$dir/server.properties" <<EOF
# Written by deploy/local/kafka.sh on every start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$SLUICE_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$SLUICE_KAFKA_PORT,CONTROLLER://127.0.0.1:$SLUICE_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$SLUICE_KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$dir/data

# One node: every internal topic has one replica and needs one in sync.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Few partitions for the internal topics, so the first consumer group or transaction does
# not wait for 50 partitions to be created (Testcontainers' Kafka does the same).
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.num.partitions=1
num.partitions=1

# Tests start consumer groups often; do not hold the first rebalance back.
group.initial.rebalance.delay.ms=0
# A small machine: fewer threads than the defaults (3 network, 8 I/O).
num.network.threads=2
num.io.threads=4
EOF
}

kafka_start() {
    local dir cp cluster_id
    dir="$(state_dir kafka)"
    mkdir -p "$dir/data"
    kafka_write_config "$dir"
    cp="$(java_classpath kafka)"
    if [[ ! -f "$dir/data/meta.properties" ]]; then
        cluster_id="$("$SLUICE_JAVA" -Dlog4j2.configurationFile="$KAFKA_LOG4J_CONFIG" \
            -cp "$cp" kafka.tools.StorageTool random-uuid 2>>"$(log_file kafka)")" ||
            { log_tail kafka; die "kafka: StorageTool random-uuid failed"; }
        log "kafka: formatting $dir/data (cluster id $cluster_id)"
        "$SLUICE_JAVA" -Dlog4j2.configurationFile="$KAFKA_LOG4J_CONFIG" -cp "$cp" \
            kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" \
            --ignore-formatted >>"$(log_file kafka)" 2>&1 ||
            { log_tail kafka; die "kafka: formatting $dir/data failed"; }
    fi
    start_bg kafka "$SLUICE_JAVA" -Xms256m -Xmx512m \
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
        -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError \
        -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$KAFKA_LOG4J_CONFIG" \
        -cp "$cp" kafka.Kafka "$dir/server.properties"
}

kafka_ready() {
    # Nothing listening: fail at once instead of starting a JVM to find out.
    (: <>"/dev/tcp/127.0.0.1/$SLUICE_KAFKA_PORT") 2>/dev/null || return 1
    "$SLUICE_JAVA" -Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dlog4j2.configurationFile="$KAFKA_LOG4J_CONFIG" -Dsluice.kafka.appinfo.level=WARN \
        -cp "$(java_classpath kafka)" KafkaProbe "127.0.0.1:$SLUICE_KAFKA_PORT"
}

# What the broker says about itself (cluster id, brokers, topics), for `stack status`.
kafka_answer() {
    kafka_ready
}

kafka_stop() {
    # A clean KRaft shutdown (controlled shutdown, flushing logs) takes a few seconds.
    stop_pid kafka 60
}
