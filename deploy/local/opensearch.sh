# OpenSearch 2.19 for the local stack: one node serving the Elasticsearch REST API on
# 127.0.0.1:$SLUICE_SEARCH_PORT, run from the jars on Maven Central (no distribution
# tarball, no Docker). Sourced by deploy/local/stack; see lib.sh for the contract.
#
#   deploy/local/opensearch/pom.xml           the jars (server + modules), fetched once
#   deploy/local/opensearch/src/*.java        the launcher: a Node with the modules as
#                                             classpath plugins, closed on SIGTERM
#   deploy/local/opensearch/log4j2.properties logging to stdout (the service log)
#
# State: $SLUICE_STATE_DIR/opensearch/{home,data,logs,tmp}, opensearch.log, opensearch.pid.

OPENSEARCH_HEAP="${SLUICE_SEARCH_HEAP:-512m}"
# Extra JVM options, split on spaces (e.g. SLUICE_SEARCH_JAVA_OPTS="-XX:+PrintFlagsFinal").
OPENSEARCH_JAVA_OPTS="${SLUICE_SEARCH_JAVA_OPTS:-}"

opensearch_install() {
    command -v "$SLUICE_JAVA" >/dev/null || die "opensearch: $SLUICE_JAVA (Java 17) is not installed"
    command -v curl >/dev/null || apt_install curl
    maven_fetch opensearch "$SLUICE_LOCAL_DIR/opensearch/pom.xml"
    java_compile opensearch "$SLUICE_LOCAL_DIR/opensearch/src"
}

opensearch_start() {
    local dir home
    dir="$(state_dir opensearch)"
    home="$dir/home"
    mkdir -p "$home/config" "$dir/data" "$dir/logs" "$dir/tmp"
    cp "$SLUICE_LOCAL_DIR/opensearch/log4j2.properties" "$home/config/log4j2.properties"
    # JVM options follow the distribution's config/jvm.options (Java 17, G1).
    start_bg opensearch "$SLUICE_JAVA" \
        "-Xms$OPENSEARCH_HEAP" "-Xmx$OPENSEARCH_HEAP" \
        -XX:+UseG1GC -XX:G1ReservePercent=25 -XX:InitiatingHeapOccupancyPercent=30 \
        -Xss1m -XX:-OmitStackTraceInFastThrow \
        "-XX:ErrorFile=$dir/logs/hs_err_pid%p.log" \
        "-Djava.io.tmpdir=$dir/tmp" \
        -Djava.awt.headless=true -Dfile.encoding=UTF-8 -Djna.nosys=true \
        -Djava.locale.providers=SPI,COMPAT \
        -Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true \
        -Dio.netty.recycler.maxCapacityPerThread=0 \
        -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true \
        "-Dopensearch.path.home=$home" \
        $OPENSEARCH_JAVA_OPTS \
        -cp "$(java_classpath opensearch)" SluiceOpenSearch \
        "path.home=$home" \
        "path.data=$dir/data" \
        "path.logs=$dir/logs" \
        cluster.name=sluice-local \
        node.name=sluice \
        discovery.type=single-node \
        network.host=127.0.0.1 \
        "http.port=$SLUICE_SEARCH_PORT" \
        "transport.port=$SLUICE_SEARCH_TRANSPORT_PORT" \
        cluster.routing.allocation.disk.threshold_enabled=false
}

# Ready when our cluster (by name) reports yellow or green.
opensearch_ready() {
    local health
    health="$(curl -fsS --max-time 5 \
        "http://127.0.0.1:$SLUICE_SEARCH_PORT/_cluster/health?wait_for_status=yellow&timeout=1s")" ||
        return 1
    [[ "$health" == *'"cluster_name":"sluice-local"'* ]] &&
        [[ "$health" =~ \"status\":\"(green|yellow)\" ]]
}

# What the node says about itself, for `stack status`.
opensearch_answer() {
    curl -fsS --max-time 5 "http://127.0.0.1:$SLUICE_SEARCH_PORT/" | python3 -c '
import json, sys
info = json.load(sys.stdin)
print("OpenSearch " + info["version"]["number"] + ", cluster " + info["cluster_name"])'
}

opensearch_stop() {
    stop_pid opensearch 60
}
