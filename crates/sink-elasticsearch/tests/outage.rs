//! An unreachable search engine is a failure worth retrying, never a rejection.

use std::time::Duration;

use sluice_sink::{Sink, SinkError};
use sluice_sink_elasticsearch::{ElasticsearchConfig, ElasticsearchSink};

use crate::support::{TestTable, int, text};

#[tokio::test]
async fn an_unreachable_search_engine_is_retryable() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut config = ElasticsearchConfig::new(format!("http://127.0.0.1:{port}"));
    config.request_timeout = Duration::from_secs(5);

    let error = ElasticsearchSink::connect(config.clone())
        .await
        .unwrap_err();
    assert!(matches!(error, SinkError::Retryable(_)), "{error:?}");

    let mut sink = ElasticsearchSink::new(config).expect("sink");
    let t = TestTable::new("items", &[("id", "int8"), ("name", "text")]);
    let error = sink
        .apply(&[t.create(10, vec![int(1), text("kettle")])])
        .await
        .unwrap_err();
    assert!(matches!(error, SinkError::Retryable(_)), "{error:?}");
    let error = sink.check().await.unwrap_err();
    assert!(matches!(error, SinkError::Retryable(_)), "{error:?}");
}
