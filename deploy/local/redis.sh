# Redis from Debian's package, run by hand (not the package's service) with its data
# under the state folder. Sourced by deploy/local/stack; see lib.sh for the contract.

redis_install() {
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
        log "redis: installing Debian's redis-server package"
        apt_install redis-server
        # The package may start its own server on the default port; ours is started by hand.
        service redis-server stop >/dev/null 2>&1 || true
    fi
}

redis_start() {
    local dir
    dir="$(state_dir redis)"
    start_bg redis redis-server --bind 127.0.0.1 --port "$SLUICE_REDIS_PORT" \
        --dir "$dir" --save '' --appendonly yes --daemonize no --protected-mode yes \
        --maxmemory 512mb
}

# Bounded (redis-cli has no connect timeout): a port held by something that accepts but
# never answers must not hang `up`.
redis_ready() {
    timeout 5 redis-cli -h 127.0.0.1 -p "$SLUICE_REDIS_PORT" SET sluice:stack:ready 1 EX 5 | grep -qx OK
}

# What the server says about itself, for `stack status`.
redis_answer() {
    timeout 5 redis-cli -h 127.0.0.1 -p "$SLUICE_REDIS_PORT" INFO server |
        tr -d '\r' | sed -n 's/^redis_version:/Redis /p'
}

redis_stop() {
    redis-cli -h 127.0.0.1 -p "$SLUICE_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    stop_pid redis 20
}
