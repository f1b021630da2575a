//! A Neo4j that cannot be reached is a failure worth retrying, never a rejection, and
//! the sink recovers by itself once it is back, with nothing lost.

use std::time::Duration;

use sluice_sink::{Record, Sink, SinkError};
use sluice_sink_neo4j::{Neo4jConfig, Neo4jSink, NodeTable};
use sluice_testkit::{TcpProxy, unique_name};

use crate::support::{TestTable, clean_up, client, int, text, url};

/// Applies `batch` as the runtime does: a retryable failure is retried, after a pause,
/// until the batch is applied with nothing rejected.
async fn apply_until_accepted(sink: &mut Neo4jSink, batch: &[Record]) {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match sink.apply(batch).await {
            Ok(applied) => {
                assert!(applied.rejected.is_empty(), "{:?}", applied.rejected);
                return;
            }
            Err(SinkError::Retryable(e)) if attempts < 20 => {
                tracing::debug!(error = %e, "still failing");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("not applied after {attempts} attempts: {e:?}"),
        }
    }
}

#[tokio::test]
async fn a_cut_connection_is_retryable_and_the_sink_recovers() {
    let target = url().await;
    let host_port = target.trim_start_matches("bolt://").to_owned();
    let proxy = TcpProxy::start(&host_port).await.expect("proxy");
    let suffix = unique_name("neo_outage");
    let mut config = Neo4jConfig::new(format!("bolt://{}", proxy.address()));
    config.request_timeout_seconds = 5;
    let table = format!("items_{suffix}");
    let label = format!("Item_{suffix}");
    config
        .nodes
        .insert(format!("public.{table}"), NodeTable::new(label.clone()));
    let graph = client().await;
    let result = tokio::spawn({
        let config = config.clone();
        async move {
            let mut sink = Neo4jSink::connect(config).await.expect("connect");
            let t = TestTable::new(&table, &[("id", "int8"), ("name", "text")]);
            // A busy machine can make even this one time out: retried like any apply.
            apply_until_accepted(&mut sink, &[t.create(10, vec![int(1), text("before")])]).await;

            proxy.cut();
            let batch = [
                t.update(20, vec![int(1), text("during")]),
                t.create(20, vec![int(2), text("during")]),
            ];
            let error = sink.apply(&batch).await.unwrap_err();
            assert!(matches!(error, SinkError::Retryable(_)), "{error:?}");
            let error = sink.check().await.unwrap_err();
            assert!(matches!(error, SinkError::Retryable(_)), "{error:?}");

            proxy.restore();
            apply_until_accepted(&mut sink, &batch).await;
            sink.check().await.expect("healthy again");
            let count_query = neo4rs::Query::new(format!(
                "MATCH (n:`{label}` {{name: 'during'}}) RETURN count(n) AS n"
            ));
            let mut rows = client().await.execute(count_query).await.expect("count");
            let row = rows.next().await.expect("row").expect("a row");
            assert_eq!(row.get::<i64>("n").expect("n"), 2);
        }
    })
    .await;
    clean_up(&graph, &config).await;
    if let Err(error) = result {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("test task failed: {error}"),
        }
    }
}

#[tokio::test]
async fn an_unreachable_server_is_retryable_at_connect() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut config = Neo4jConfig::new(format!("bolt://127.0.0.1:{port}"));
    config.request_timeout_seconds = 5;
    let error = Neo4jSink::connect(config).await.unwrap_err();
    assert!(matches!(error, SinkError::Retryable(_)), "{error:?}");

    let mut invalid = Neo4jConfig::new("http://127.0.0.1:7474");
    invalid.request_timeout_seconds = 5;
    let error = Neo4jSink::connect(invalid).await.unwrap_err();
    assert!(matches!(error, SinkError::Permanent(_)), "{error:?}");
}
