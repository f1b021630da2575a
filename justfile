# Sluice's tasks. `deploy/just <task>` works on a machine without `just` installed.

set shell := ["bash", "-euo", "pipefail", "-c"]

stack := "deploy/local/stack"

# List the tasks.
default:
    @just --list

# Install what is missing and start PostgreSQL, Redis, Kafka, OpenSearch and Neo4j on 127.0.0.1.
stack-up *services:
    {{stack}} up {{services}}

# Stop the local stack and remove its state.
stack-down *services:
    {{stack}} down {{services}}

# Print the servers' addresses as `export NAME=value` lines (`eval "$(just stack-env)"`).
stack-env:
    @{{stack}} env

# Say which servers answer.
stack-status:
    {{stack}} status

# Bring the stack up if needed, then run every test (unit, integration, end-to-end).
test *args: stack-up
    eval "$({{stack}} env)" && cargo test --workspace --no-fail-fast {{args}}

# Format, lint and test: what must pass before a commit.
check: stack-up
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    eval "$({{stack}} env)" && cargo test --workspace

# Start the local stack, load the sample e-commerce database and stream it through Kafka into the search engine, Redis and Neo4j.
demo: stack-up
    deploy/local/demo

# The decoder, the source against pg_recvlogical and Debezium, the snapshot, each sink: one table, also in target/bench/results.md (needs the stack).
bench: stack-up
    eval "$({{stack}} env)" && SLUICE_BENCH_SINKS="elasticsearch redis neo4j" crates/source/scripts/bench-all.sh full

# A short form of `bench` (100k inserts, 20k updates, 5k mixed transactions).
bench-quick: stack-up
    eval "$({{stack}} env)" && SLUICE_BENCH_SINKS="elasticsearch redis neo4j" crates/source/scripts/bench-all.sh quick

# The fault-injection suite at length: 20 faults, 100k changes, then `sluice verify` must find no drift.
faults: stack-up
    eval "$({{stack}} env)" && SLUICE_FAULTS=20 SLUICE_FAULTS_CHANGES=100000 cargo test -p sluice --test main faults -- --nocapture

# Fuzz the pgoutput decoder for SECONDS (needs a nightly toolchain and cargo-fuzz).
fuzz seconds="300":
    cd crates/pgoutput && for target in decode decode_session typed_values; do \
        mkdir -p fuzz/corpus/$target && \
        cargo +nightly fuzz run $target fuzz/corpus/$target fuzz/seeds/$target -- -max_total_time={{seconds}} -max_len=512 -malloc_limit_mb=64; \
    done
