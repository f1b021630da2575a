//! One scenario for every store: the whole pipeline as real processes, `sluice source` and
//! `sluice sink <kind>`, through a snapshot, inserts, updates (one leaving a TOASTed column
//! unchanged), deletes, a primary-key update and a truncate, while the store is unreachable
//! for a while (a proxy in front of it is cut) and the sink is SIGKILLed and restarted. At
//! the end the store holds exactly the table's rows, the outage made the sink retry, and a
//! malformed record sits on the dead-letter topic with its reason.
//!
//! A store plugs in through [`Store`]: its config section, and how to read the table's
//! rows back from it.

use std::collections::BTreeMap;
use std::future::Future;

use rdkafka::message::Headers;
use sluice_testkit::TcpProxy;

use super::*;

/// The table's rows as (name, big), by id: what every store must end up holding.
pub(crate) type Rows = BTreeMap<i64, (Option<String>, Option<String>)>;

/// The scenario's table: `id` is the key, `big` gets a TOASTed value.
pub(crate) const TABLE_DDL: &str = "(id int8 PRIMARY KEY, name text, big text)";

/// A store under test.
pub(crate) trait Store {
    /// The sink's kind: `sluice sink <kind>`.
    const KIND: &'static str;

    /// The `host:port` the store listens on; the scenario puts a proxy in front of it.
    fn upstream(&self) -> String;

    /// The store's config section, with the store at `address` (the proxy's `host:port`).
    fn section(&self, address: &str) -> String;

    /// What the store holds of the table, or `None` while it cannot be read.
    fn rows(&self) -> impl Future<Output = Option<Rows>>;
}

/// The table's rows in PostgreSQL.
pub(crate) async fn table_rows(h: &Harness) -> Rows {
    h.pg.query(&format!("SELECT id, name, big FROM {}", h.name), &[])
        .await
        .expect("rows")
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect()
}

/// Starts `sluice sink <kind>` on `config`, appending to `log`.
pub(crate) fn start_sink(kind: &str, config: &Path, log: &Path) -> Running {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open the sink log");
    let child = sluice_command()
        .args(["sink", kind, "--config"])
        .arg(config)
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start the sink");
    Running(child)
}

/// The last 40 lines of a log, for failure messages.
pub(crate) fn tail(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Waits until `store` holds exactly the table's rows.
pub(crate) async fn await_convergence<S: Store>(
    h: &Harness,
    store: &S,
    within: Duration,
    log: &Path,
) {
    let expected = table_rows(h).await;
    let deadline = Instant::now() + within;
    loop {
        let actual = store.rows().await;
        if actual.as_ref() == Some(&expected) {
            return;
        }
        if Instant::now() >= deadline {
            let actual = actual.unwrap_or_default();
            let missing: Vec<_> = expected
                .keys()
                .filter(|k| !actual.contains_key(k))
                .collect();
            let extra: Vec<_> = actual
                .keys()
                .filter(|k| !expected.contains_key(k))
                .collect();
            let stale: Vec<_> = expected
                .iter()
                .filter(|(k, v)| actual.get(k).is_some_and(|a| a != *v))
                .map(|(k, _)| k)
                .collect();
            panic!(
                "{} did not converge within {within:?}: {} rows for {}; missing {missing:?}, \
                 extra {extra:?}, stale {stale:?}\nsink:\n{}",
                S::KIND,
                actual.len(),
                expected.len(),
                tail(log)
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What the scenario leaves running, for a store's own checks after it.
pub(crate) struct Converged {
    pub(crate) source: Running,
    pub(crate) sink: Running,
    pub(crate) sink_config: PathBuf,
    pub(crate) sink_log: PathBuf,
    /// The proxy the sink reaches the store through.
    pub(crate) proxy: TcpProxy,
}

/// Runs the scenario on `h`'s table (made with [`TABLE_DDL`]) into `store`.
pub(crate) async fn converges_through_an_outage_and_a_killed_sink<S: Store>(
    h: &Harness,
    store: &S,
) -> Converged {
    let t = h.name.clone();
    // Rows before the source starts: the snapshot's.
    h.pg.batch_execute(&format!(
        "INSERT INTO {t} SELECT i, 'snapshot ' || i, NULL FROM generate_series(1, 200) AS i;"
    ))
    .await
    .expect("rows before the snapshot");
    let (source, _pid) = h.start(None).await;

    let proxy = TcpProxy::start(&store.upstream()).await.expect("proxy");
    let sink_config = h.dir.path().join(format!("{}.toml", S::KIND));
    std::fs::write(
        &sink_config,
        format!(
            r#"
[kafka]
bootstrap_servers = {bootstrap:?}

# The killed sink keeps its partitions until its session expires: let that take 10 s,
# not librdkafka's 45 s, before the restarted sink gets them.
[kafka.consumer]
"session.timeout.ms" = 10000

[sink]
topic_prefix = "{t}"
group_id = "{t}-{kind}"
batch_max_wait_ms = 100
retry_initial_ms = 100
retry_max_seconds = 1
topic_refresh_seconds = 1

[metrics]
listen_address = "127.0.0.1:0"

{section}
"#,
            bootstrap = h.bootstrap,
            kind = S::KIND,
            section = store.section(&proxy.address().to_string()),
        ),
    )
    .expect("sink config");
    let sink_log = h.dir.path().join(format!("{}.log", S::KIND));
    let sink = start_sink(S::KIND, &sink_config, &sink_log);

    // Streamed changes of every kind, each its own transaction: a truncate of the
    // snapshot's rows, new rows (one with a TOASTed value), updates (one leaving the
    // TOASTed value unchanged), deletes and a primary-key update.
    for change in [
        format!("TRUNCATE {t}"),
        format!(
            "INSERT INTO {t} SELECT i, 'product ' || i, NULL FROM generate_series(1, 400) AS i"
        ),
        format!("UPDATE {t} SET name = 'stainless steel kettle' WHERE id = 7"),
        format!(
            "UPDATE {t} SET big = (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 300) AS i) \
             WHERE id = 8"
        ),
        format!("UPDATE {t} SET name = 'kept big' WHERE id = 8"),
        format!("UPDATE {t} SET name = 'renamed ' || id WHERE id BETWEEN 10 AND 19"),
        format!("DELETE FROM {t} WHERE id BETWEEN 20 AND 29"),
        format!("UPDATE {t} SET id = 1000 WHERE id = 30"),
    ] {
        h.pg.batch_execute(&change).await.expect(&change);
    }

    // A record that is not a change event: dead-lettered with its reason, the stream goes on.
    let producer: rdkafka::producer::FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &h.bootstrap)
        .create()
        .expect("producer");
    producer
        .send(
            rdkafka::producer::FutureRecord::to(&h.topic())
                .key("[\"garbage\"]")
                .payload(&b"\x08\xff not a change event"[..]),
            Duration::from_secs(10),
        )
        .await
        .expect("produce a malformed record");

    // The store unreachable while changes keep coming. Cut only once the sink has applied
    // something: cut earlier, the sink may still be waiting for the store before it
    // consumes, and then no apply fails, which the end of the scenario looks for.
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.rows().await.is_none_or(|rows| rows.is_empty()) {
        assert!(
            Instant::now() < deadline,
            "{} held none of the table's rows within 60 s\nsink:\n{}",
            S::KIND,
            tail(&sink_log)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    proxy.cut();
    for batch in 0..8 {
        h.pg.batch_execute(&format!(
            "INSERT INTO {t} SELECT i, 'during the outage ' || i, NULL
               FROM generate_series({}, {}) AS i;
             UPDATE {t} SET name = 'outage update {batch}' WHERE id = 40;",
            2000 + batch * 25,
            2024 + batch * 25
        ))
        .await
        .expect("changes during the outage");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    proxy.restore();

    // The sink killed mid-stream, and restarted.
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(sink); // SIGKILL
    h.pg.batch_execute(&format!(
        "UPDATE {t} SET name = 'stainless steel kettle' WHERE id = 3;
         UPDATE {t} SET name = 'product 7' WHERE id = 7;
         DELETE FROM {t} WHERE id = 50;
         INSERT INTO {t} VALUES (5000, 'while the sink was down', NULL);"
    ))
    .await
    .expect("changes while the sink is down");
    let sink = start_sink(S::KIND, &sink_config, &sink_log);

    let big: Option<String> =
        h.pg.query_one(&format!("SELECT big FROM {t} WHERE id = 8"), &[])
            .await
            .expect("row 8")
            .get(0);
    assert_eq!(
        big.map(|b| b.len()),
        Some(32 * 300),
        "row 8 keeps its TOASTed value in PostgreSQL"
    );
    await_convergence(h, store, Duration::from_secs(120), &sink_log).await;
    let log = std::fs::read_to_string(&sink_log).unwrap_or_default();
    assert!(
        log.contains("applying a batch failed"),
        "the outage made the sink retry:\n{}",
        tail(&sink_log)
    );

    // The malformed record is on the dead-letter topic, with why and where from.
    let dead_letter_topic = format!("{t}.sluice-dead-letter.{}", S::KIND);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &h.bootstrap)
        .set("group.id", unique_name("dlq-reader"))
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer
        .subscribe(&[&dead_letter_topic])
        .expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(30);
    let letter = loop {
        assert!(Instant::now() < deadline, "no dead letter within 30 s");
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            break message.expect("dead letter").detach();
        }
    };
    assert_eq!(letter.key(), Some(&b"[\"garbage\"]"[..]));
    let header = |name: &str| {
        letter
            .headers()
            .and_then(|h| h.iter().find(|h| h.key == name))
            .and_then(|h| h.value)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    };
    assert_eq!(header(sluice_event::headers::DLQ_TOPIC), h.topic());
    assert_eq!(
        header(sluice_event::headers::DLQ_ERROR_CLASS),
        "undecodable"
    );
    assert!(!header(sluice_event::headers::DLQ_REASON).is_empty());

    // Ready.
    let log = std::fs::read_to_string(&sink_log).unwrap_or_default();
    assert!(http_get(&log, "/readyz").starts_with("HTTP/1.1 200"));
    Converged {
        source,
        sink,
        sink_config,
        sink_log,
        proxy,
    }
}
