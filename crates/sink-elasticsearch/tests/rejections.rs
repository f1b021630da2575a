//! A document the index's mapping refuses is rejected, with its index in the batch, and
//! the rest of the batch is applied.

use sluice_event::v1::Column;

use crate::support::{TestTable, int, text, with_harness};

#[tokio::test]
async fn a_document_the_mapping_refuses_is_rejected_and_the_others_applied() {
    with_harness(
        "es_rejections",
        |_| {},
        |mut h| async move {
            let t = TestTable::new("counters", &[("id", "int8"), ("n", "int4")]);
            h.apply_all(&[t.create(10, vec![int(1), int(5)])]).await;

            // `ALTER TABLE counters ALTER COLUMN n TYPE text`: the index still maps n as long.
            let mut altered = t.clone();
            altered.columns[1] = Column {
                type_name: "text".into(),
                ..altered.columns[1].clone()
            };
            let applied = h
                .apply(&[
                    t.create(20, vec![int(2), int(6)]),
                    altered.create(20, vec![int(3), text("secret-value")]),
                    t.create(20, vec![int(4), int(7)]),
                    // Two records of one document folded into one write: the last is named.
                    altered.create(20, vec![int(5), text("abc")]),
                    altered.update(30, vec![int(5), text("def")]),
                ])
                .await;
            let rejected: Vec<usize> = applied.rejected.iter().map(|r| r.index).collect();
            assert_eq!(rejected, [1, 4], "{:?}", applied.rejected);
            for rejection in &applied.rejected {
                let reason = &rejection.reason;
                assert!(
                    reason.contains("mapper_parsing_exception")
                        || reason.contains("document_parsing_exception"),
                    "{reason}"
                );
                assert!(reason.contains("field [n]"), "{reason}");
                assert!(
                    !reason.contains("secret-value") && !reason.contains("def"),
                    "{reason}"
                );
            }
            let docs = h.docs(&t).await;
            let ids: Vec<&str> = docs.keys().map(String::as_str).collect();
            assert_eq!(ids, [r#"["1"]"#, r#"["2"]"#, r#"["4"]"#]);
        },
    )
    .await;
}
