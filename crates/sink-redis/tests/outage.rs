//! An unreachable Redis is a failure worth retrying, never a rejection; when it comes
//! back, the next apply reconnects and nothing is lost. Refused credentials stop the sink.

use sluice_sink::{Sink, SinkError};
use sluice_sink_redis::{RedisConfig, RedisSink};
use sluice_testkit::{TcpProxy, unique_name};

use crate::support::{TestTable, connection, int, redis_url, remove_keys, text};

#[tokio::test]
async fn an_outage_is_retryable_and_the_next_apply_reconnects() {
    let url = redis_url().await;
    let target = url::Url::parse(&url).unwrap();
    let target = format!(
        "{}:{}",
        target.host_str().unwrap(),
        target.port().unwrap_or(6379)
    );
    let proxy = TcpProxy::start(&target).await.unwrap();
    let mut config = RedisConfig::new(format!("redis://{}", proxy.address()));
    config.key_prefix = unique_name("redis_outage");
    config.request_timeout_seconds = 5;
    let prefix = config.key_prefix.clone();
    let mut sink = RedisSink::connect(config).await.unwrap();
    let mut redis = connection(&url).await;

    let t = TestTable::new("items", &[("id", "int8"), ("name", "text")]);
    let applied = sink
        .apply(&[t.create(10, vec![int(1), text("before")])])
        .await
        .unwrap();
    assert!(applied.rejected.is_empty());

    proxy.cut();
    let batch = [
        t.create(20, vec![int(2), text("during")]),
        t.update(21, vec![int(1), text("during")]),
    ];
    let error = sink.apply(&batch).await.unwrap_err();
    assert!(matches!(error, SinkError::Retryable(_)), "{error:?}");
    let error = sink.check().await.unwrap_err();
    assert!(matches!(error, SinkError::Retryable(_)), "{error:?}");

    proxy.restore();
    // The runtime retries the same batch: it applies in full on a new connection.
    let applied = sink.apply(&batch).await.unwrap();
    assert!(applied.rejected.is_empty());
    sink.check().await.unwrap();
    let key = |id: &str| sink.key_for(&t.name(), &[Some(id)]);
    for id in ["1", "2"] {
        let name: Option<String> = redis::cmd("HGET")
            .arg(key(id))
            .arg("name")
            .query_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("during"), "row {id}");
    }
    remove_keys(&mut redis, &format!("{prefix}:*")).await;
}

#[tokio::test]
async fn an_unreachable_redis_is_retryable() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut config = RedisConfig::new(format!("redis://127.0.0.1:{port}"));
    config.request_timeout_seconds = 5;
    let error = RedisSink::connect(config.clone()).await.unwrap_err();
    assert!(matches!(error, SinkError::Retryable(_)), "{error:?}");

    let mut sink = RedisSink::new(config).unwrap();
    let t = TestTable::new("items", &[("id", "int8"), ("name", "text")]);
    let error = sink
        .apply(&[t.create(10, vec![int(1), text("kettle")])])
        .await
        .unwrap_err();
    assert!(matches!(error, SinkError::Retryable(_)), "{error:?}");
}

#[tokio::test]
async fn refused_credentials_and_bad_configuration_are_permanent() {
    let url = url::Url::parse(&redis_url().await).unwrap();
    let mut wrong = url.clone();
    wrong.set_username("sluice_nobody").unwrap();
    wrong.set_password(Some("hunter2")).unwrap();
    let error = RedisSink::connect(RedisConfig::new(wrong.to_string()))
        .await
        .unwrap_err();
    assert!(matches!(error, SinkError::Permanent(_)), "{error:?}");
    assert!(!error.to_string().contains("hunter2"), "{error}");

    let error = RedisSink::connect(RedisConfig::new("http://localhost:6379"))
        .await
        .unwrap_err();
    assert!(matches!(error, SinkError::Permanent(_)), "{error:?}");
    assert!(error.to_string().contains("redis.url"), "{error}");
}

#[tokio::test]
async fn scripts_lost_by_redis_are_loaded_again() {
    // SCRIPT FLUSH only empties the script cache (no data); every client of the shared
    // server that uses scripts reloads them on NOSCRIPT, as this sink does.
    let url = redis_url().await;
    let mut config = RedisConfig::new(url.clone());
    config.key_prefix = unique_name("redis_noscript");
    let prefix = config.key_prefix.clone();
    let mut sink = RedisSink::connect(config).await.unwrap();
    let mut redis = connection(&url).await;
    let t = TestTable::new("items", &[("id", "int8"), ("name", "text")]);
    sink.apply(&[t.create(10, vec![int(1), text("a")])])
        .await
        .unwrap();

    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut redis)
        .await
        .unwrap();
    let applied = sink
        .apply(&[t.update(20, vec![int(1), text("b")]), t.truncate(15, 0)])
        .await
        .unwrap();
    assert!(applied.rejected.is_empty());
    let name: Option<String> = redis::cmd("HGET")
        .arg(sink.key_for(&t.name(), &[Some("1")]))
        .arg("name")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(name.as_deref(), Some("b"));
    remove_keys(&mut redis, &format!("{prefix}:*")).await;
}

#[test]
fn a_tls_url_is_accepted() {
    let sink = RedisSink::new(RedisConfig::new(
        "rediss://sink:secret@cache.invalid:6380/1",
    ));
    let sink = sink.unwrap();
    assert!(!format!("{sink:?}").contains("secret"));
}
