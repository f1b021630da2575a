//! Helpers on the generated types: the few things every producer and consumer of
//! events needs, so that none of them re-derives them differently.

use crate::key::{self, KeyError};
use crate::v1::value::Kind;
use crate::v1::{ChangeEvent, Key, Null, UnchangedToast, Value};

impl ChangeEvent {
    /// The version a sink stores this event's row with: `source.version`, the commit
    /// LSN (or, for a snapshot read, the snapshot's consistent LSN).
    ///
    /// `None` when the event has no `source` or its version is 0: Sluice never writes
    /// such an event, so a sink should dead-letter it rather than apply it with a made-up
    /// version.
    pub fn version(&self) -> Option<u64> {
        self.source
            .as_ref()
            .map(|source| source.version)
            .filter(|&version| version != 0)
    }

    /// The event's Kafka message key: the canonical encoding of its `key`
    /// ([`key::EMPTY_KEY`] when it has none).
    ///
    /// # Errors
    ///
    /// [`KeyError`] when a key column's value cannot be encoded.
    pub fn kafka_key(&self) -> Result<Vec<u8>, KeyError> {
        match &self.key {
            Some(k) => key::encode_key(k),
            None => Ok(key::EMPTY_KEY.to_vec()),
        }
    }
}

impl Key {
    /// The canonical encoding of this key, the Kafka message key ([`key::encode_key`]).
    ///
    /// # Errors
    ///
    /// [`KeyError`] when a key column's value cannot be encoded.
    pub fn encode(&self) -> Result<Vec<u8>, KeyError> {
        key::encode_key(self)
    }
}

impl Value {
    /// SQL NULL.
    pub fn null() -> Value {
        Value {
            kind: Some(Kind::Null(Null {})),
        }
    }

    /// The marker of a TOASTed value the change did not touch.
    pub fn unchanged_toast() -> Value {
        Value {
            kind: Some(Kind::UnchangedToast(UnchangedToast {})),
        }
    }

    /// Whether this is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self.kind, Some(Kind::Null(_)))
    }

    /// Whether this is the unchanged-TOAST marker.
    pub fn is_unchanged_toast(&self) -> bool {
        matches!(self.kind, Some(Kind::UnchangedToast(_)))
    }
}

impl From<Kind> for Value {
    fn from(kind: Kind) -> Value {
        Value { kind: Some(kind) }
    }
}

impl From<bool> for Value {
    /// A `boolean`.
    fn from(b: bool) -> Value {
        Kind::Boolean(b).into()
    }
}

impl From<i16> for Value {
    /// An `integer` (int2).
    fn from(i: i16) -> Value {
        Kind::Integer(i.into()).into()
    }
}

impl From<i32> for Value {
    /// An `integer` (int4).
    fn from(i: i32) -> Value {
        Kind::Integer(i.into()).into()
    }
}

impl From<i64> for Value {
    /// An `integer` (int8).
    fn from(i: i64) -> Value {
        Kind::Integer(i).into()
    }
}

impl From<f32> for Value {
    /// A `float4`.
    fn from(f: f32) -> Value {
        Kind::Float4(f).into()
    }
}

impl From<f64> for Value {
    /// A `float8`.
    fn from(f: f64) -> Value {
        Kind::Float8(f).into()
    }
}

impl From<String> for Value {
    /// A `text`.
    fn from(s: String) -> Value {
        Kind::Text(s).into()
    }
}

impl From<&str> for Value {
    /// A `text`.
    fn from(s: &str) -> Value {
        Kind::Text(s.to_owned()).into()
    }
}
