//! Kafka: an idempotent producer (acks=all) writes a keyed record with headers to a new
//! topic, and a consumer reads it back unchanged.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sluice_testkit::{Server, address, unique_name};

#[tokio::test]
async fn produce_and_consume_a_keyed_record() {
    let bootstrap = address(Server::Kafka).await.expect("kafka address");
    let topic = unique_name("smoke.kafka");

    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("admin client");
    let created = admin
        .create_topics(
            [&NewTopic::new(&topic, 3, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .expect("create topic");
    assert!(
        created.iter().all(Result::is_ok),
        "topic created: {created:?}"
    );

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .expect("producer");
    let delivery = producer
        .send(
            FutureRecord::to(&topic)
                .key("order:42")
                .payload("hello sluice")
                .headers(OwnedHeaders::new().insert(Header {
                    key: "content-type",
                    value: Some("text/plain"),
                })),
            Duration::from_secs(30),
        )
        .await
        .expect("delivery acknowledged");

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", unique_name("smoke-group"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    let message = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
        .await
        .expect("a record within 60 s")
        .expect("consume");

    assert_eq!(message.partition(), delivery.partition);
    assert_eq!(message.offset(), delivery.offset);
    assert_eq!(message.key(), Some(&b"order:42"[..]));
    assert_eq!(message.payload(), Some(&b"hello sluice"[..]));
    let header = message.headers().expect("headers").get(0);
    assert_eq!(header.key, "content-type");
    assert_eq!(header.value, Some(&b"text/plain"[..]));

    admin
        .delete_topics(&[&topic], &AdminOptions::new())
        .await
        .expect("delete topic");
}
