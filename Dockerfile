# syntax=docker/dockerfile:1
#
# One image for every role of Sluice: the `sluice` binary runs as
#   sluice source --config /etc/sluice/sluice.toml
#   sluice sink elasticsearch|redis|neo4j --config /etc/sluice/sluice.toml
#   sluice replay elasticsearch --config /etc/sluice/sluice.toml
# (deploy/k8s/ mounts the config there and passes the role as the container's args).
#
#   docker build -t sluice .
#   docker run --rm -v $PWD/sluice.toml:/etc/sluice/sluice.toml:ro -p 9187:9187 sluice source --config /etc/sluice/sluice.toml
#
# Two stages: a Rust builder (librdkafka is compiled from source by rdkafka-sys with its own
# configure and make, linked against zlib; protobuf is compiled by protox, so no protoc), and
# a small Debian runtime with CA certificates (TLS to PostgreSQL, Elasticsearch and Redis goes
# through rustls with the system's roots) that runs as a non-root user.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential pkg-config zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The cargo registry and target folder are cache mounts: a rebuild after a source change
# recompiles Sluice's crates, not librdkafka and the dependencies.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p sluice \
    && install -D -m 0755 target/release/sluice /out/sluice

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 sluice \
    && useradd --system --uid 10001 --gid sluice --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin sluice
COPY --from=builder /out/sluice /usr/local/bin/sluice
USER 10001:10001
# /metrics, /healthz and /readyz (set `[metrics] listen_address = "0.0.0.0:9187"`: the
# default listens on 127.0.0.1 only).
EXPOSE 9187
ENV RUST_LOG=info
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["--help"]
