//! The whole pipeline into the search engine, as real processes: `sluice source` and
//! `sluice sink elasticsearch`, through a snapshot, inserts, updates (one leaving a TOASTed
//! column unchanged), deletes, a primary-key update and a truncate, while the search engine
//! is unreachable for a while and the sink is SIGKILLed and restarted. At the end the index
//! holds exactly the table's rows, and a misspelt word still finds its row.

use std::collections::BTreeMap;

use elasticsearch::http::transport::Transport;
use elasticsearch::indices::{IndicesDeleteParts, IndicesRefreshParts};
use elasticsearch::{Elasticsearch, SearchParts};
use rdkafka::message::Headers;
use serde_json::{Value as Json, json};
use sluice_sink::TableName;
use sluice_testkit::TcpProxy;

use super::*;

/// The table's rows as (name, big), by id.
type Rows = BTreeMap<i64, (Option<String>, Option<String>)>;

async fn table_rows(h: &Harness) -> Rows {
    h.pg.query(&format!("SELECT id, name, big FROM {}", h.name), &[])
        .await
        .expect("rows")
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect()
}

async fn index_rows(client: &Elasticsearch, index: &str) -> Option<Rows> {
    client
        .indices()
        .refresh(IndicesRefreshParts::Index(&[index]))
        .send()
        .await
        .ok()?;
    let response = client
        .search(SearchParts::Index(&[index]))
        .body(json!({ "size": 10000, "query": { "match_all": {} } }))
        .send()
        .await
        .ok()?;
    if !response.status_code().is_success() {
        return None;
    }
    let body: Json = response.json().await.ok()?;
    let hits = body["hits"]["hits"].as_array()?;
    Some(
        hits.iter()
            .map(|hit| {
                let source = &hit["_source"];
                let text = |field: &str| source[field].as_str().map(str::to_owned);
                (
                    source["id"].as_i64().unwrap_or(-1),
                    (text("name"), text("big")),
                )
            })
            .collect(),
    )
}

/// Starts `sluice sink elasticsearch` on `config`, appending to `log`.
fn start_sink(config: &Path, log: &Path) -> Running {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open the sink log");
    let child = sluice_command()
        .args(["sink", "elasticsearch", "--config"])
        .arg(config)
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start the sink");
    Running(child)
}

fn tail(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[tokio::test]
async fn the_search_index_converges_through_an_outage_and_a_killed_sink() {
    let h = Harness::new("es_pipe", "(id int8 PRIMARY KEY, name text, big text)").await;
    let t = h.name.clone();
    // Rows before the source starts: the snapshot's.
    h.pg.batch_execute(&format!(
        "INSERT INTO {t} SELECT i, 'snapshot ' || i, NULL FROM generate_series(1, 200) AS i;"
    ))
    .await
    .expect("rows before the snapshot");
    let (source, _pid) = h.start(None).await;

    let search_url = address(Server::Search).await.expect("search engine");
    let search_address = search_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let proxy = TcpProxy::start(&search_address).await.expect("proxy");
    let index_prefix = t.replace('_', "-");
    let index = sluice_sink_elasticsearch::default_index_name(
        &index_prefix,
        &TableName {
            schema: "public".into(),
            table: t.clone(),
        },
    )
    .expect("index name");
    let sink_config = h.dir.path().join("sink.toml");
    std::fs::write(
        &sink_config,
        format!(
            r#"
[kafka]
bootstrap_servers = {bootstrap:?}

[sink]
topic_prefix = "{t}"
group_id = "{t}-es"
batch_max_wait_ms = 100
retry_initial_ms = 100
retry_max_seconds = 1
topic_refresh_seconds = 1

[elasticsearch]
url = "http://{proxy}"
index_prefix = "{index_prefix}"
request_timeout_seconds = 5

[metrics]
listen_address = "127.0.0.1:0"
"#,
            bootstrap = h.bootstrap,
            proxy = proxy.address(),
        ),
    )
    .expect("sink config");
    let sink_log = h.dir.path().join("sink.log");
    let sink = start_sink(&sink_config, &sink_log);

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

    // The search engine unreachable while changes keep coming.
    tokio::time::sleep(Duration::from_secs(2)).await;
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
    let sink = start_sink(&sink_config, &sink_log);

    let client = Elasticsearch::new(Transport::single_node(&search_url).expect("transport"));
    let expected = table_rows(&h).await;
    assert!(
        expected[&8]
            .1
            .as_ref()
            .is_some_and(|big| big.len() == 32 * 300),
        "row 8 keeps its TOASTed value in PostgreSQL"
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let actual = index_rows(&client, &index).await;
        if actual.as_ref() == Some(&expected) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the index did not converge within 120 s: {} documents for {} rows\nsink:\n{}",
            actual.map_or(0, |a| a.len()),
            expected.len(),
            tail(&sink_log)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let log = std::fs::read_to_string(&sink_log).unwrap_or_default();
    assert!(
        log.contains("applying a batch failed"),
        "the outage made the sink retry:\n{}",
        tail(&sink_log)
    );

    // The malformed record is on the dead-letter topic, with why and where from.
    let dead_letter_topic = format!("{t}.sluice-dead-letter.elasticsearch");
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
    drop(consumer);

    // Typo-tolerant search through the default mapping.
    let response = client
        .search(SearchParts::Index(&[&index]))
        .body(
            json!({ "query": { "match": { "name": { "query": "kettel", "fuzziness": "AUTO" } } } }),
        )
        .send()
        .await
        .expect("fuzzy search");
    let body: Json = response.json().await.expect("search response");
    let ids: Vec<i64> = body["hits"]["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .filter_map(|hit| hit["_source"]["id"].as_i64())
        .collect();
    assert_eq!(ids, [3], "{body}");

    // Ready.
    let log = std::fs::read_to_string(&sink_log).unwrap_or_default();
    assert!(http_get(&log, "/readyz").starts_with("HTTP/1.1 200"));

    // A rebuild while writes go on: the name becomes an alias of a new index holding
    // every row, including the rows written during the rebuild.
    let writer = {
        let (url, t) = (h.url.clone(), t.clone());
        tokio::spawn(async move {
            let (pg, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
            tokio::spawn(connection);
            for id in 6000..6060 {
                pg.batch_execute(&format!(
                    "INSERT INTO {t} VALUES ({id}, 'during the rebuild', NULL);
                     UPDATE {t} SET name = 'rebuild update {id}' WHERE id = 1;"
                ))
                .await
                .expect("write during the rebuild");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let replay = {
        let sink_config = sink_config.clone();
        tokio::task::spawn_blocking(move || {
            sluice_command()
                .args(["replay", "elasticsearch", "--delete-old", "--config"])
                .arg(&sink_config)
                .output()
                .expect("run the replay")
        })
    };
    let output = replay.await.expect("replay");
    assert!(
        output.status.success(),
        "replay failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    writer.await.expect("writer");
    let aliases: Json = client
        .indices()
        .get_alias(elasticsearch::indices::IndicesGetAliasParts::Name(&[
            &index,
        ]))
        .send()
        .await
        .expect("aliases")
        .json()
        .await
        .expect("aliases");
    let behind: Vec<&String> = aliases.as_object().expect("alias map").keys().collect();
    assert_eq!(behind.len(), 1, "{aliases}");
    assert!(behind[0].starts_with(&format!("{index}-r")), "{aliases}");
    let expected = table_rows(&h).await;
    assert!(expected.contains_key(&6059));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let actual = index_rows(&client, &index).await;
        if actual.as_ref() == Some(&expected) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rebuilt index did not converge: {} documents for {} rows\n{}",
            actual.map_or(0, |a| a.len()),
            expected.len(),
            String::from_utf8_lossy(&output.stderr)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let index = behind[0].clone();

    // A clean stop.
    assert!(terminate(sink).success(), "{}", tail(&sink_log));
    assert!(terminate(source).success());
    let _ = client
        .indices()
        .delete(IndicesDeleteParts::Index(&[&index]))
        .send()
        .await;
    h.clean_up().await;
}
