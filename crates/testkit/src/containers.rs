//! The fallback: one container per server through testcontainers, for machines with a
//! Docker engine and no local stack. Each container lives until the test process exits
//! (they are leaked on purpose; testcontainers' reaper or `docker rm` cleans up).
//!
//! The images and their settings mirror the local stack in `deploy/local/`: logical
//! replication on, a `sluice` role, single-node Kafka in KRaft mode advertising the host
//! port, OpenSearch without its security plugin, Neo4j without authentication.

use std::net::TcpListener;

use testcontainers::core::wait::LogWaitStrategy;
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt, TestcontainersError};

use crate::Server;

pub(crate) async fn start(server: Server) -> Result<String, TestcontainersError> {
    match server {
        Server::Postgres => {
            let container = GenericImage::new("postgres", "15")
                .with_exposed_port(5432.tcp())
                // The image's entrypoint starts a temporary server for initialisation
                // first; the second "ready" line is the real one.
                .with_wait_for(WaitFor::log(
                    LogWaitStrategy::stderr("database system is ready to accept connections")
                        .with_times(2),
                ))
                .with_env_var("POSTGRES_USER", "sluice")
                .with_env_var("POSTGRES_PASSWORD", "sluice")
                .with_env_var("POSTGRES_DB", "sluice")
                .with_cmd([
                    "postgres",
                    "-c",
                    "wal_level=logical",
                    "-c",
                    "max_replication_slots=20",
                    "-c",
                    "max_wal_senders=20",
                    "-c",
                    "max_prepared_transactions=10",
                ])
                .start()
                .await?;
            let port = container.get_host_port_ipv4(5432).await?;
            keep(container);
            Ok(format!("postgres://sluice:sluice@127.0.0.1:{port}/sluice"))
        }
        Server::Kafka => {
            // Kafka tells clients where to reconnect, so the host port must be known
            // before the broker starts: reserve one and map it explicitly.
            let port = free_port()?;
            let container = GenericImage::new("apache/kafka", "4.1.0")
                .with_exposed_port(9092.tcp())
                .with_wait_for(WaitFor::message_on_stdout("Kafka Server started"))
                .with_mapped_port(port, 9092.tcp())
                .with_env_var("KAFKA_NODE_ID", "1")
                .with_env_var("KAFKA_PROCESS_ROLES", "broker,controller")
                .with_env_var("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093")
                .with_env_var(
                    "KAFKA_ADVERTISED_LISTENERS",
                    format!("PLAINTEXT://127.0.0.1:{port}"),
                )
                .with_env_var("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
                .with_env_var(
                    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                    "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                )
                .with_env_var("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
                .with_env_var("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
                .with_env_var("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
                .with_env_var("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
                .with_env_var(
                    "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
                    "1",
                )
                .with_env_var("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "1")
                .with_env_var("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
                .start()
                .await?;
            keep(container);
            Ok(format!("127.0.0.1:{port}"))
        }
        Server::Search => {
            let container = GenericImage::new("opensearchproject/opensearch", "2.19.3")
                .with_exposed_port(9200.tcp())
                .with_wait_for(WaitFor::message_on_stdout("started"))
                .with_env_var("discovery.type", "single-node")
                .with_env_var("DISABLE_SECURITY_PLUGIN", "true")
                .with_env_var("DISABLE_INSTALL_DEMO_CONFIG", "true")
                .with_env_var("OPENSEARCH_JAVA_OPTS", "-Xms512m -Xmx512m")
                .start()
                .await?;
            let port = container.get_host_port_ipv4(9200).await?;
            keep(container);
            Ok(format!("http://127.0.0.1:{port}"))
        }
        Server::Redis => {
            let container = GenericImage::new("redis", "7")
                .with_exposed_port(6379.tcp())
                .with_wait_for(WaitFor::message_on_stdout("Ready to accept connections"))
                .start()
                .await?;
            let port = container.get_host_port_ipv4(6379).await?;
            keep(container);
            Ok(format!("redis://127.0.0.1:{port}"))
        }
        Server::Neo4j => {
            let container = GenericImage::new("neo4j", "5.26-community")
                .with_exposed_port(7687.tcp())
                .with_wait_for(WaitFor::message_on_stdout("Bolt enabled on"))
                .with_env_var("NEO4J_AUTH", "none")
                .start()
                .await?;
            let port = container.get_host_port_ipv4(7687).await?;
            keep(container);
            Ok(format!("bolt://127.0.0.1:{port}"))
        }
    }
}

/// Keeps a container running until the process exits.
fn keep(container: ContainerAsync<GenericImage>) {
    std::mem::forget(container);
}

fn free_port() -> Result<u16, TestcontainersError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| TestcontainersError::Other(format!("no free port: {e}").into()))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| TestcontainersError::Other(format!("no free port: {e}").into()))
}
