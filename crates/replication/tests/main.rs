//! Integration tests of the replication connection against real PostgreSQL servers.
//!
//! The shared server comes from the workspace's harness, `sluice-testkit`: the local stack's
//! `SLUICE_POSTGRES_URL`, or else a container (the role needs REPLICATION and the server
//! `wal_level=logical`). No server is a test failure, never a skip. The MD5, clear-text and
//! TLS tests start a throwaway cluster with `scripts/throwaway-cluster.sh` (PostgreSQL's
//! server binaries and openssl, on this machine) and remove it at the end; without those
//! binaries that test fails, saying what to install.
//!
//! Every test owns its slots, tables and publications (unique names) and drops them at the
//! end, even when it fails, since a forgotten slot holds WAL on the server forever.

mod it;
