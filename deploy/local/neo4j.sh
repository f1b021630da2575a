# Neo4j 5.26 LTS Community for the local stack, sourced by deploy/local/stack (see lib.sh).
#
# No distribution tarball: the jars come from Maven Central (deploy/local/neo4j/pom.xml) and
# deploy/local/neo4j/src/SluiceNeo4j.java runs the database embedded, with the Bolt connector
# on 127.0.0.1:$SLUICE_NEO4J_PORT and auth disabled. Data, transaction logs and debug.log live
# under $SLUICE_STATE_DIR/neo4j/home; the user log goes to $SLUICE_STATE_DIR/neo4j/neo4j.log.
# Readiness is a real Bolt 4.4 exchange (the version neo4rs speaks): handshake, HELLO,
# `RETURN 1` via RUN/PULL, by deploy/local/neo4j/bolt_probe.py (Python standard library).

SLUICE_NEO4J_HEAP_MIN="${SLUICE_NEO4J_HEAP_MIN:-256m}"
SLUICE_NEO4J_HEAP_MAX="${SLUICE_NEO4J_HEAP_MAX:-768m}"
SLUICE_NEO4J_PAGECACHE_MB="${SLUICE_NEO4J_PAGECACHE_MB:-96}"
SLUICE_NEO4J_TX_MEMORY_MB="${SLUICE_NEO4J_TX_MEMORY_MB:-256}"

neo4j_install() {
    command -v "$SLUICE_JAVA" >/dev/null || die "neo4j: $SLUICE_JAVA not found (Java 17 is needed)"
    command -v python3 >/dev/null || die "neo4j: python3 not found (the Bolt readiness probe needs it)"
    maven_fetch neo4j "$SLUICE_LOCAL_DIR/neo4j/pom.xml"
    java_compile neo4j "$SLUICE_LOCAL_DIR/neo4j/src"
}

neo4j_start() {
    local home
    home="$(state_dir neo4j)/home"
    mkdir -p "$home"
    start_bg neo4j "$SLUICE_JAVA" \
        "-Xms$SLUICE_NEO4J_HEAP_MIN" "-Xmx$SLUICE_NEO4J_HEAP_MAX" \
        -XX:+UseG1GC -XX:-OmitStackTraceInFastThrow -XX:+ExitOnOutOfMemoryError \
        -Djdk.nio.maxCachedBufferSize=1024 \
        -Dio.netty.tryReflectionSetAccessible=true \
        -Dlog4j2.disable.jmx=true \
        --add-opens=java.base/java.nio=ALL-UNNAMED \
        --add-opens=java.base/java.io=ALL-UNNAMED \
        --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
        "-Dsluice.neo4j.pagecache.mb=$SLUICE_NEO4J_PAGECACHE_MB" \
        "-Dsluice.neo4j.tx.memory.mb=$SLUICE_NEO4J_TX_MEMORY_MB" \
        -cp "$(java_classpath neo4j)" \
        SluiceNeo4j "$home" 127.0.0.1 "$SLUICE_NEO4J_PORT"
}

neo4j_ready() {
    python3 "$SLUICE_LOCAL_DIR/neo4j/bolt_probe.py" --quiet --timeout 10 \
        --host 127.0.0.1 --port "$SLUICE_NEO4J_PORT" --bolt 4.4 \
        --query 'RETURN 1 AS n' --expect 1
}

# What the server says about itself, for `stack status`.
neo4j_answer() {
    python3 "$SLUICE_LOCAL_DIR/neo4j/bolt_probe.py" --timeout 10 \
        --host 127.0.0.1 --port "$SLUICE_NEO4J_PORT" --bolt 4.4 \
        --query 'CALL dbms.components() YIELD name, versions, edition
                 RETURN name + " " + versions[0] + " " + edition AS v' |
        sed -n 's/^record \["\(.*\)"\]$/\1/p'
}

neo4j_stop() {
    stop_pid neo4j 60
}
