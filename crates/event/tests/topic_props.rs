//! Topic names: always valid, injective, and never clashing with reserved topics.

use proptest::prelude::*;
use sluice_event::topic::{
    TopicError, dead_letter_topic, escape_name, heartbeat_topic, is_valid_topic, messages_topic,
    parse_table_topic, topic_for, topics_collide, unescape_name,
};

/// PostgreSQL identifiers: up to 63 bytes of anything but NUL, biased towards the
/// characters that need escaping.
fn identifier() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,20}",
        "[a-zA-Z0-9 ._\\-\"$é中]{1,12}",
        "[^\\x00]{1,20}",
    ]
    .prop_filter("PostgreSQL's 63-byte limit", |s| s.len() <= 63)
}

fn prefix() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._-]{1,20}"
}

proptest! {
    #[test]
    fn escaping_round_trips_into_kafkas_alphabet(name in any::<String>()) {
        let escaped = escape_name(&name);
        prop_assert!(escaped.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        prop_assert_eq!(unescape_name(&escaped), Some(name));
    }

    #[test]
    fn escaping_is_injective(a in any::<String>(), b in any::<String>()) {
        prop_assume!(a != b);
        prop_assert_ne!(escape_name(&a), escape_name(&b));
    }

    #[test]
    fn table_topics_are_valid_and_invertible(
        prefix in prefix(), schema in identifier(), table in identifier(),
    ) {
        match topic_for(&prefix, &schema, &table) {
            Ok(topic) => {
                prop_assert!(is_valid_topic(&topic), "{}", topic);
                prop_assert_eq!(parse_table_topic(&prefix, &topic), Some((schema, table)));
            }
            Err(TopicError::TooLong { len, .. }) => prop_assert!(len > 249),
            Err(e) => prop_assert!(false, "{}", e),
        }
    }

    #[test]
    fn table_topics_are_injective(
        prefix in prefix(),
        a in (identifier(), identifier()),
        b in (identifier(), identifier()),
    ) {
        prop_assume!(a != b);
        if let (Ok(x), Ok(y)) = (topic_for(&prefix, &a.0, &a.1), topic_for(&prefix, &b.0, &b.1)) {
            prop_assert_ne!(x, y);
        }
    }

    #[test]
    fn reserved_topics_never_clash_with_table_topics(
        prefix in prefix(), schema in identifier(), table in identifier(), sink in "[a-z0-9_-]{1,12}",
    ) {
        if let Ok(topic) = topic_for(&prefix, &schema, &table) {
            for reserved in [
                heartbeat_topic(&prefix).unwrap(),
                messages_topic(&prefix).unwrap(),
                dead_letter_topic(&prefix, &sink).unwrap(),
            ] {
                prop_assert!(is_valid_topic(&reserved));
                prop_assert_ne!(&topic, &reserved);
                prop_assert!(!topics_collide(&topic, &reserved), "{} vs {}", topic, reserved);
            }
        }
    }
}

#[test]
fn examples() {
    assert_eq!(
        topic_for("shop", "public", "order_items").unwrap(),
        "shop.public.order_items"
    );
    assert_eq!(
        topic_for("shop", "Sales", "Order Items").unwrap(),
        "shop.Sales.Order-20Items"
    );
    assert_eq!(
        topic_for("shop", "a.b", "café").unwrap(),
        "shop.a-2eb.caf-c3-a9"
    );
    assert_eq!(topic_for("shop", "x", "a-b").unwrap(), "shop.x.a-2db");
    assert_eq!(heartbeat_topic("shop").unwrap(), "shop.sluice-heartbeat");
    assert_eq!(messages_topic("shop").unwrap(), "shop.sluice-messages");
    assert_eq!(
        dead_letter_topic("shop", "elasticsearch").unwrap(),
        "shop.sluice-dead-letter.elasticsearch"
    );
}

#[test]
fn invalid_inputs_are_errors() {
    assert!(matches!(
        topic_for("", "s", "t"),
        Err(TopicError::InvalidPrefix(_))
    ));
    assert!(matches!(
        topic_for("a b", "s", "t"),
        Err(TopicError::InvalidPrefix(_))
    ));
    assert!(matches!(
        dead_letter_topic("p", "a.b"),
        Err(TopicError::InvalidSinkName(_))
    ));
    assert!(matches!(
        dead_letter_topic("p", ""),
        Err(TopicError::InvalidSinkName(_))
    ));
    let long = "中".repeat(21); // 63 bytes, 189 escaped characters
    assert!(matches!(
        topic_for("p", &long, &long),
        Err(TopicError::TooLong { .. })
    ));
    assert_eq!(unescape_name("a-2"), None);
    assert_eq!(unescape_name("a-61"), None, "'a' is never escaped");
    assert_eq!(unescape_name("a.b"), None);
    assert!(!is_valid_topic(".."));
    assert!(!is_valid_topic(&"a".repeat(250)));
}

#[test]
fn kafkas_dot_underscore_collision_is_detected() {
    let a = topic_for("p", "public", "a_b").unwrap();
    let b = topic_for("p", "public_a", "b").unwrap();
    assert!(topics_collide(&a, &b));
    assert!(!topics_collide(&a, &a));
}
