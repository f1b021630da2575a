# Shared helpers for the local stack scripts. Sourced, never run.
#
# Every service script (`deploy/local/<service>.sh`) is sourced by `deploy/local/stack`
# and defines four functions:
#   <service>_install   download or install what is missing (idempotent, cached)
#   <service>_start     start the server in the background (only called when not running)
#   <service>_ready     exit 0 when the server answers a real request
#   <service>_stop      stop it (called only when its pid file names a live process)
#
# Layout:
#   $SLUICE_STATE_DIR/<service>/        data, logs, pid file; `stack down` removes it all
#   $SLUICE_CACHE_DIR/<service>/        downloaded jars, compiled launchers; kept across runs
#   $SLUICE_STATE_DIR/<service>/<service>.log   the server's log
#   $SLUICE_STATE_DIR/<service>/<service>.pid   the server's pid

set -euo pipefail

SLUICE_REPO_DIR="${SLUICE_REPO_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
SLUICE_STATE_DIR="${SLUICE_STATE_DIR:-$SLUICE_REPO_DIR/.stack}"
SLUICE_CACHE_DIR="${SLUICE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice}"
SLUICE_LOCAL_DIR="$SLUICE_REPO_DIR/deploy/local"

# Ports, all on 127.0.0.1.
SLUICE_PG_PORT="${SLUICE_PG_PORT:-5432}"
SLUICE_REDIS_PORT="${SLUICE_REDIS_PORT:-6379}"
SLUICE_KAFKA_PORT="${SLUICE_KAFKA_PORT:-9092}"
SLUICE_KAFKA_CONTROLLER_PORT="${SLUICE_KAFKA_CONTROLLER_PORT:-9093}"
SLUICE_SEARCH_PORT="${SLUICE_SEARCH_PORT:-9200}"
SLUICE_SEARCH_TRANSPORT_PORT="${SLUICE_SEARCH_TRANSPORT_PORT:-9300}"
SLUICE_NEO4J_PORT="${SLUICE_NEO4J_PORT:-7687}"

# The machine's Java 17 runs every JVM server.
SLUICE_JAVA="${SLUICE_JAVA:-java}"
SLUICE_JAVAC="${SLUICE_JAVAC:-javac}"

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

state_dir() { mkdir -p "$SLUICE_STATE_DIR/$1" && printf '%s' "$SLUICE_STATE_DIR/$1"; }
cache_dir() { mkdir -p "$SLUICE_CACHE_DIR/$1" && printf '%s' "$SLUICE_CACHE_DIR/$1"; }
log_file() { printf '%s/%s/%s.log' "$SLUICE_STATE_DIR" "$1" "$1"; }
pid_file() { printf '%s/%s/%s.pid' "$SLUICE_STATE_DIR" "$1" "$1"; }

# pid_alive SERVICE: the pid file exists and names a live process.
pid_alive() {
    local pf
    pf="$(pid_file "$1")"
    [[ -f "$pf" ]] && kill -0 "$(cat "$pf")" 2>/dev/null
}

# start_bg SERVICE CMD...: run CMD detached (own session), output to the service log,
# pid to the service pid file.
start_bg() {
    local svc="$1"
    shift
    state_dir "$svc" >/dev/null
    local lf
    lf="$(log_file "$svc")"
    setsid "$@" >>"$lf" 2>&1 </dev/null &
    echo $! >"$(pid_file "$svc")"
}

# stop_pid SERVICE [SECONDS]: SIGTERM the process group, wait, then SIGKILL.
stop_pid() {
    local svc="$1" timeout="${2:-30}" pf pid
    pf="$(pid_file "$svc")"
    [[ -f "$pf" ]] || return 0
    pid="$(cat "$pf")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        local waited=0
        while kill -0 "$pid" 2>/dev/null && ((waited < timeout * 10)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$svc did not stop within ${timeout}s; killing it"
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pf"
}

# log_tail SERVICE: the last lines of the service log, for failure messages.
log_tail() {
    local lf
    lf="$(log_file "$1")"
    if [[ -f "$lf" ]]; then
        printf -- '----- last 40 lines of %s -----\n' "$lf" >&2
        tail -n 40 "$lf" >&2
        printf -- '-----\n' >&2
    fi
}

# wait_ready SERVICE SECONDS: poll <service>_ready until it succeeds; on timeout or if the
# process died, fail naming the service and showing its log tail.
wait_ready() {
    local svc="$1" timeout="$2" start
    start=$(date +%s)
    while true; do
        if "${svc}_ready" >/dev/null 2>&1; then
            log "$svc is ready ($(($(date +%s) - start))s)"
            return 0
        fi
        if [[ -f "$(pid_file "$svc")" ]] && ! pid_alive "$svc"; then
            log_tail "$svc"
            die "$svc exited during start-up (log: $(log_file "$svc"))"
        fi
        if (($(date +%s) - start >= timeout)); then
            log_tail "$svc"
            die "$svc did not answer within ${timeout}s (log: $(log_file "$svc"))"
        fi
        sleep 1
    done
}

# maven_fetch SERVICE POM: copy the runtime dependencies declared in POM into
# $SLUICE_CACHE_DIR/<service>/lib once; later calls reuse them. Maven's own repository
# (~/.m2) is a second cache.
maven_fetch() {
    local svc="$1" pom="$2" lib stamp
    lib="$(cache_dir "$svc")/lib"
    stamp="$lib/.complete-$(sha256sum "$pom" | cut -c1-16)"
    if [[ -f "$stamp" ]]; then
        return 0
    fi
    # Maven is needed only for this first fetch; install Debian's package when it is missing.
    if ! command -v mvn >/dev/null; then
        log "$svc: installing Debian's maven package (to fetch the jars)"
        apt_install maven
        hash -r
    fi
    log "$svc: downloading jars from Maven Central (once; cached in $lib)"
    rm -rf "$lib"
    mkdir -p "$lib"
    mvn -B -q -f "$pom" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$lib" >&2 ||
        die "$svc: Maven could not fetch the jars listed in $pom"
    touch "$stamp"
}

# java_compile SERVICE SRC_DIR: compile the launcher sources in SRC_DIR against the
# service's cached jars into $SLUICE_CACHE_DIR/<service>/classes (rebuilt when they change).
java_compile() {
    local svc="$1" src="$2" out stamp
    out="$(cache_dir "$svc")/classes"
    stamp="$out/.built-$({ cat "$src"/*.java; ls "$SLUICE_CACHE_DIR/$svc/lib"; } | sha256sum | cut -c1-16)"
    if [[ -f "$stamp" ]]; then
        return 0
    fi
    rm -rf "$out"
    mkdir -p "$out"
    "$SLUICE_JAVAC" -nowarn -d "$out" -cp "$SLUICE_CACHE_DIR/$svc/lib/*" "$src"/*.java >&2 ||
        die "$svc: javac failed on $src"
    touch "$stamp"
}

# java_classpath SERVICE: the classpath of the service's launcher.
java_classpath() {
    printf '%s/%s/classes:%s/%s/lib/*' "$SLUICE_CACHE_DIR" "$1" "$SLUICE_CACHE_DIR" "$1"
}

# apt_install PACKAGE...: install Debian packages (as root, or through sudo), updating the
# package lists once per stack run.
apt_install() {
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    if [[ -z "${SLUICE_APT_UPDATED:-}" ]]; then
        "${sudo[@]}" apt-get update -qq >&2 || die "apt-get update failed"
        SLUICE_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >&2 ||
        die "apt-get install $* failed"
}
