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
    eval "$({{stack}} env)" && cargo test --workspace {{args}}

# Format, lint and test: what must pass before a commit.
check: stack-up
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    eval "$({{stack}} env)" && cargo test --workspace

# Start the local stack and load the sample e-commerce database into PostgreSQL.
demo: stack-up
    deploy/local/demo

# Benchmarks (they need the stack; see issue notes for figures).
bench: stack-up
    @echo "no benchmarks yet: the decoder, source and sinks bring their own" >&2; exit 1
