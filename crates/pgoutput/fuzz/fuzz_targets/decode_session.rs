//! A sequence of messages through one decoder, to explore its streamed-block state, and
//! every change typed through the relation cache as the source does it.
//!
//! Input: a selector byte (bits 0-1: protocol version - 1), then messages, each prefixed by
//! a one-byte length. Checks: no panic, a failed decode never changes the state, and typing
//! a change whose tuples match their relation never panics.
#![no_main]

use std::sync::LazyLock;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sluice_pgoutput::{Decoder, LogicalMessage, OldTuple, RelationCache, typed_row};
use sluice_pgvalue::TypeRegistry;

/// Built once: a registry takes a few hundred allocations to build.
static REGISTRY: LazyLock<TypeRegistry> = LazyLock::new(TypeRegistry::new);

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let mut decoder =
        Decoder::new(u32::from(selector & 3) + 1).expect("versions 1 to 4 are supported");
    let mut relations = RelationCache::new();
    while let Some((&length, tail)) = rest.split_first() {
        let length = usize::from(length).min(tail.len());
        let (message, tail) = tail.split_at(length);
        rest = tail;
        let before = decoder.clone();
        let Ok(message) = decoder.decode(&Bytes::copy_from_slice(message)) else {
            assert_eq!(decoder, before);
            continue;
        };
        relations.apply(&message);
        let Ok(Some(relation)) = relations.check_change(&message) else {
            continue;
        };
        let tuples = match &message {
            LogicalMessage::Insert(insert) => vec![&insert.new_tuple],
            LogicalMessage::Update(update) => {
                let old = update.old_tuple.as_ref().map(OldTuple::tuple);
                old.into_iter().chain([&update.new_tuple]).collect()
            }
            LogicalMessage::Delete(delete) => vec![delete.old_tuple.tuple()],
            _ => Vec::new(),
        };
        for tuple in tuples {
            let _ = typed_row(relation, tuple, &REGISTRY);
        }
    }
});
