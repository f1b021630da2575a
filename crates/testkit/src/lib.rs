//! Finds the real servers that Sluice's integration and end-to-end tests talk to.
//!
//! Tests never mock a store: they run against PostgreSQL with logical replication, Apache
//! Kafka, OpenSearch (or Elasticsearch), Redis and Neo4j. Where those servers come from
//! depends on the machine:
//!
//! ```text
//!  SLUICE_POSTGRES_URL, SLUICE_KAFKA_BOOTSTRAP, ...  set?  ──yes──▶ use them (the local stack)
//!                         │ no
//!                         ▼
//!             start a container per server through testcontainers (needs a Docker engine)
//! ```
//!
//! The local stack (`deploy/local/stack up`, then `eval "$(deploy/local/stack env)"`) sets
//! the variables; the README's test command does both. Each server is resolved on its own,
//! so a test that needs only Redis starts only Redis.
//!
//! Tests share these servers and run concurrently, so each test isolates itself with a
//! name from [`unique_name`]: its own table, topic, index, key prefix or label.
//!
//! A test that must take Kafka away (an outage, a broker restart) never stops the shared
//! broker: it starts a [`PrivateKafka`] of its own through the local stack's script, which it
//! may stop and start again at will.
#![warn(missing_docs, unreachable_pub)]

mod containers;
mod private_kafka;
mod proxy;

pub use private_kafka::{PrivateKafka, PrivateKafkaError};
pub use proxy::TcpProxy;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::OnceCell;

/// One of the servers a test can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Server {
    /// PostgreSQL with `wal_level=logical`, a `postgres://` URL of a role with REPLICATION.
    Postgres,
    /// Apache Kafka, a `host:port` bootstrap address.
    Kafka,
    /// OpenSearch or Elasticsearch, an `http://` URL.
    Search,
    /// Redis, a `redis://` URL.
    Redis,
    /// Neo4j, a `bolt://` URL (authentication disabled).
    Neo4j,
}

impl Server {
    /// Every server, in the order the local stack starts them.
    pub const ALL: [Server; 5] = [
        Server::Postgres,
        Server::Redis,
        Server::Kafka,
        Server::Search,
        Server::Neo4j,
    ];

    /// The environment variable that names this server's address.
    pub const fn env_var(self) -> &'static str {
        match self {
            Server::Postgres => "SLUICE_POSTGRES_URL",
            Server::Kafka => "SLUICE_KAFKA_BOOTSTRAP",
            Server::Search => "SLUICE_ELASTICSEARCH_URL",
            Server::Redis => "SLUICE_REDIS_URL",
            Server::Neo4j => "SLUICE_NEO4J_URL",
        }
    }
}

/// Why a server could not be provided to a test.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The variable is set but does not hold an address of the expected form.
    #[error("{var}={value:?} is not a valid address: {reason}")]
    InvalidAddress {
        /// The environment variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No address in the environment and no container could be started.
    #[error(
        "{var} is not set and no {server:?} container could be started ({source}); \
         start the local stack with `deploy/local/stack up` and `eval \"$(deploy/local/stack env)\"`, \
         or run the tests where a Docker engine is available"
    )]
    NoServer {
        /// The server asked for.
        server: Server,
        /// The environment variable that would have named it.
        var: &'static str,
        /// Why the container did not start.
        #[source]
        source: testcontainers::TestcontainersError,
    },
}

static POSTGRES: OnceCell<String> = OnceCell::const_new();
static KAFKA: OnceCell<String> = OnceCell::const_new();
static SEARCH: OnceCell<String> = OnceCell::const_new();
static REDIS: OnceCell<String> = OnceCell::const_new();
static NEO4J: OnceCell<String> = OnceCell::const_new();

/// The address of `server`: from its environment variable when set, otherwise from a
/// container started on first use and kept for the rest of the test process.
pub async fn address(server: Server) -> Result<String, HarnessError> {
    let cell = match server {
        Server::Postgres => &POSTGRES,
        Server::Kafka => &KAFKA,
        Server::Search => &SEARCH,
        Server::Redis => &REDIS,
        Server::Neo4j => &NEO4J,
    };
    cell.get_or_try_init(|| resolve(server)).await.cloned()
}

async fn resolve(server: Server) -> Result<String, HarnessError> {
    let var = server.env_var();
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => validate(server, var, value.trim().to_owned()),
        _ => {
            tracing::info!(
                ?server,
                var,
                "no address in the environment; starting a container"
            );
            containers::start(server)
                .await
                .map_err(|source| HarnessError::NoServer {
                    server,
                    var,
                    source,
                })
        }
    }
}

fn validate(server: Server, var: &'static str, value: String) -> Result<String, HarnessError> {
    let invalid = |reason: String| HarnessError::InvalidAddress {
        var,
        value: value.clone(),
        reason,
    };
    let expected_scheme = match server {
        Server::Postgres => Some(["postgres", "postgresql"].as_slice()),
        Server::Search => Some(["http", "https"].as_slice()),
        Server::Redis => Some(["redis", "rediss"].as_slice()),
        Server::Neo4j => Some(["bolt", "neo4j"].as_slice()),
        Server::Kafka => None,
    };
    match expected_scheme {
        Some(schemes) => {
            let url = url::Url::parse(&value).map_err(|e| invalid(e.to_string()))?;
            if !schemes.contains(&url.scheme()) {
                return Err(invalid(format!("expected a {} URL", schemes.join(" or "))));
            }
            if url.host_str().is_none() {
                return Err(invalid("the URL names no host".into()));
            }
        }
        None => {
            let ok = value.split(',').all(|hp| {
                hp.rsplit_once(':').is_some_and(|(host, port)| {
                    !host.is_empty()
                        && host
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-.[]:".contains(c))
                        && port.parse::<u16>().is_ok()
                })
            });
            if !ok {
                return Err(invalid("expected host:port[,host:port...]".into()));
            }
        }
    }
    Ok(value)
}

/// A name no other test in this run (or an earlier run against the same servers) uses:
/// `<prefix>_<pid>_<seconds>_<counter>`, in lower case, safe as a PostgreSQL identifier,
/// Kafka topic, index name, Redis key prefix or Neo4j label.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}_{}_{}_{}",
        prefix.to_ascii_lowercase(),
        std::process::id(),
        seconds % 1_000_000,
        n
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_are_identifiers() {
        let a = unique_name("Smoke");
        let b = unique_name("Smoke");
        assert_ne!(a, b);
        assert!(a.starts_with("smoke_"));
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
    }

    #[test]
    fn addresses_are_validated_per_server() {
        let ok = |s, v: &str| validate(s, "X", v.to_owned()).is_ok();
        assert!(ok(Server::Postgres, "postgres://u:p@127.0.0.1:5432/db"));
        assert!(!ok(Server::Postgres, "http://127.0.0.1:5432"));
        assert!(ok(Server::Kafka, "127.0.0.1:9092"));
        assert!(ok(Server::Kafka, "a:1,b:2"));
        assert!(!ok(Server::Kafka, "127.0.0.1"));
        assert!(!ok(Server::Kafka, "kafka://127.0.0.1:9092"));
        assert!(ok(Server::Search, "http://127.0.0.1:9200"));
        assert!(ok(Server::Redis, "redis://127.0.0.1:6379"));
        assert!(ok(Server::Neo4j, "bolt://127.0.0.1:7687"));
        assert!(!ok(Server::Neo4j, "not a url"));
    }
}
