//! The relation and type caches a consumer keeps while reading the stream.
//!
//! Insert, Update and Delete only name a relation id; its schema (namespace, name, columns,
//! key flags, type OIDs) arrives in a Relation message sent earlier on the same connection.
//! A later Relation message for the same id *replaces* the previous one: that is how schema
//! changes (`ALTER TABLE`) arrive, and also how the server re-announces a relation after an
//! invalidation of its own cache (e.g. a TRUNCATE), so a new Relation message does not
//! necessarily mean a different schema. Type messages announce the names of non-built-in
//! column types (enums, domains, composites...).
//!
//! Entries are kept behind [`Arc`] so that events built from a change can hold the schema
//! they were decoded with, even after the cache moves on to a newer one.
//!
//! Streamed transactions: a Relation message inside a streamed block (`xid` set) describes
//! the schema as seen by that in-progress transaction. After a Stream Commit the server will
//! not send it again, so apply such messages when replaying the committed transaction's
//! changes (in order); after a Stream Abort, drop them.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::error::DecodeError;
use crate::message::{LogicalMessage, Oid, Relation, Type};
use crate::tuple::TupleData;

/// Relations by id and types by OID, as last announced by the server.
#[derive(Debug, Clone, Default)]
pub struct RelationCache {
    relations: OidMap<Arc<Relation>>,
    types: OidMap<Arc<Type>>,
}

/// A map keyed by OID. The cache is probed once per change, so the key is hashed by one
/// multiplication instead of SipHash: the keys are OIDs the server assigned, so the
/// protection SipHash gives against keys chosen to collide buys nothing here.
type OidMap<V> = HashMap<Oid, V, BuildHasherDefault<OidHasher>>;

/// Fibonacci hashing of a 32-bit key (other writes, which `Oid` keys never make, are
/// folded in byte by byte).
#[derive(Debug, Default)]
struct OidHasher(u64);

impl OidHasher {
    /// 2^64 divided by the golden ratio.
    const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;
}

impl Hasher for OidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(Self::MULTIPLIER);
        }
    }

    fn write_u32(&mut self, key: u32) {
        self.0 = (self.0 ^ u64::from(key)).wrapping_mul(Self::MULTIPLIER);
    }
}

impl RelationCache {
    /// An empty cache (a new replication connection starts with one: the server re-sends
    /// every Relation message on each connection).
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a Relation or Type message (cloning it) and ignores any other message.
    /// Returns whether the message was recorded.
    pub fn apply(&mut self, message: &LogicalMessage) -> bool {
        match message {
            LogicalMessage::Relation(relation) => {
                self.insert_relation(relation.clone());
                true
            }
            LogicalMessage::Type(type_message) => {
                self.insert_type(type_message.clone());
                true
            }
            _ => false,
        }
    }

    /// Records a relation, replacing and returning the previous schema with the same id.
    pub fn insert_relation(&mut self, relation: Relation) -> Option<Arc<Relation>> {
        self.relations.insert(relation.id, Arc::new(relation))
    }

    /// Records a type, replacing and returning the previous one with the same OID.
    pub fn insert_type(&mut self, type_message: Type) -> Option<Arc<Type>> {
        self.types.insert(type_message.oid, Arc::new(type_message))
    }

    /// The last schema announced for `relation_id`.
    pub fn relation(&self, relation_id: Oid) -> Option<&Arc<Relation>> {
        self.relations.get(&relation_id)
    }

    /// The type announced for `oid` (built-in types are never announced).
    pub fn type_info(&self, oid: Oid) -> Option<&Arc<Type>> {
        self.types.get(&oid)
    }

    /// The qualified name of an announced type.
    pub fn type_name(&self, oid: Oid) -> Option<String> {
        self.type_info(oid)
            .map(|type_info| type_info.qualified_name())
    }

    /// The schema of `relation_id`, after checking that `tuple` has as many columns as it.
    ///
    /// pgoutput always sends every published column (unchanged TOAST and, in `K` old tuples,
    /// non-key columns as placeholders), so a different count means a missed Relation
    /// message or a corrupt stream.
    pub fn check_tuple(
        &self,
        relation_id: Oid,
        tuple: &TupleData,
    ) -> Result<&Arc<Relation>, DecodeError> {
        let relation = self
            .relation(relation_id)
            .ok_or(DecodeError::UnknownRelation { relation_id })?;
        if relation.columns.len() != tuple.len() {
            return Err(DecodeError::ColumnCountMismatch {
                relation_id,
                expected: relation.columns.len(),
                found: tuple.len(),
            });
        }
        Ok(relation)
    }

    /// Checks every tuple of an Insert, Update or Delete against its relation (see
    /// [`RelationCache::check_tuple`]) and returns the relation; `Ok(None)` for other messages.
    pub fn check_change(
        &self,
        message: &LogicalMessage,
    ) -> Result<Option<&Arc<Relation>>, DecodeError> {
        let (relation_id, first, second) = match message {
            LogicalMessage::Insert(insert) => (insert.relation_id, &insert.new_tuple, None),
            LogicalMessage::Update(update) => (
                update.relation_id,
                &update.new_tuple,
                update.old_tuple.as_ref().map(|old| old.tuple()),
            ),
            LogicalMessage::Delete(delete) => (delete.relation_id, delete.old_tuple.tuple(), None),
            _ => return Ok(None),
        };
        let relation = self.check_tuple(relation_id, first)?;
        if let Some(second) = second {
            self.check_tuple(relation_id, second)?;
        }
        Ok(Some(relation))
    }

    /// Forgets a relation.
    pub fn remove_relation(&mut self, relation_id: Oid) -> Option<Arc<Relation>> {
        self.relations.remove(&relation_id)
    }

    /// Number of relations known.
    pub fn len(&self) -> usize {
        self.relations.len()
    }

    /// Whether no relation is known.
    pub fn is_empty(&self) -> bool {
        self.relations.is_empty()
    }

    /// The known relations, in no particular order.
    pub fn relations(&self) -> impl Iterator<Item = &Arc<Relation>> {
        self.relations.values()
    }

    /// Forgets everything (on reconnect).
    pub fn clear(&mut self) {
        self.relations.clear();
        self.types.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Column, Insert, ReplicaIdentity};
    use crate::tuple::ColumnValue;

    fn relation(columns: &[&str]) -> Relation {
        Relation {
            xid: None,
            id: 42,
            namespace: "public".into(),
            name: "items".into(),
            replica_identity: ReplicaIdentity::Default,
            columns: columns
                .iter()
                .map(|name| Column {
                    flags: 0,
                    name: (*name).into(),
                    type_oid: 25,
                    type_modifier: -1,
                })
                .collect(),
        }
    }

    #[test]
    fn a_later_relation_message_replaces_the_schema() {
        let mut cache = RelationCache::new();
        assert!(cache.apply(&LogicalMessage::Relation(relation(&["id"]))));
        let previous = cache
            .insert_relation(relation(&["id", "name"]))
            .expect("replaced");
        assert_eq!(previous.columns.len(), 1);
        assert_eq!(cache.relation(42).map(|r| r.columns.len()), Some(2));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn checks_tuple_column_counts() {
        let mut cache = RelationCache::new();
        let insert = LogicalMessage::Insert(Insert {
            xid: None,
            relation_id: 42,
            new_tuple: TupleData::from_columns([ColumnValue::Text(b"1")]),
        });
        assert_eq!(
            cache.check_change(&insert),
            Err(DecodeError::UnknownRelation { relation_id: 42 })
        );
        cache.insert_relation(relation(&["id", "name"]));
        assert_eq!(
            cache.check_change(&insert),
            Err(DecodeError::ColumnCountMismatch {
                relation_id: 42,
                expected: 2,
                found: 1
            })
        );
        cache.insert_relation(relation(&["id"]));
        assert!(matches!(cache.check_change(&insert), Ok(Some(_))));
        assert_eq!(cache.check_change(&LogicalMessage::StreamStop), Ok(None));
    }

    #[test]
    fn records_type_names() {
        let mut cache = RelationCache::new();
        cache.apply(&LogicalMessage::Type(Type {
            xid: None,
            oid: 16400,
            namespace: "fx".into(),
            name: "mood".into(),
        }));
        assert_eq!(cache.type_name(16400).as_deref(), Some("fx.mood"));
        assert_eq!(cache.type_name(25), None);
    }
}
