//! Which tables and columns the source captures, and which column values it masks.
//!
//! ```text
//!  Relation ─▶ CaptureFilter::captures(schema, table) ── false ──▶ no events, no topic
//!      │ true
//!      ▼
//!  CaptureFilter::plan(relation) ─▶ TablePlan ─ relation() ─▶ the events' column metadata
//!                                       │
//!  typed row (a Cell per column) ─ apply ┴─▶ kept columns, masked values ─▶ the event's row
//! ```
//!
//! A [`CaptureFilter`] is built once from the config; a [`TablePlan`] once per Relation
//! message (that is when the columns and which of them are keys become known); applying a
//! plan to a row is the only per-row step, and costs one branch when the plan keeps every
//! column as it is ([`TablePlan::is_identity`]).
//!
//! # Patterns
//!
//! Tables are named by `schema.table` patterns ([`TablePattern`]), columns by
//! `schema.table.column` patterns ([`ColumnPattern`]). Each part is matched against the name
//! as PostgreSQL stores it (case-sensitive: unquoted identifiers are lower case), and `*`
//! in a part matches any run of characters, none included: `shop.*`, `*.audit_*`,
//! `*.*.password`. A name containing `.` or `*` can only be matched through a `*`.
//!
//! A table is captured when it matches some include pattern (or there is none) and no
//! exclude pattern: exclusion wins.
//!
//! # Column rules
//!
//! An excluded column is dropped from the events' rows and from their column metadata. A
//! masked column stays, with its values replaced:
//!
//! - [`MaskMethod::Hash`]: the lower-case hex SHA-256 of the salt followed by the value's
//!   canonical PostgreSQL text ([`Value::to_pg_text`]). Deterministic, so equal values
//!   still join. In SQL it is `encode(sha256(convert_to(salt || value::text, 'UTF8')),
//!   'hex')` under the settings of that text (`TimeZone = 'UTC'`, `DateStyle = ISO`,
//!   `IntervalStyle = postgres`), `char(n)` aside (its cast to `text` drops the padding).
//!   Keep the salt secret: without it a short value (a phone number, an email) is
//!   recovered by hashing guesses.
//! - [`MaskMethod::Redact`]: the text `***`.
//! - [`MaskMethod::Null`]: SQL NULL.
//!
//! Hashed and redacted values are text, so their column's metadata says `text` (OID 25, no
//! type modifier); a nulled column keeps its type. NULL stays NULL and an unchanged TOASTed
//! value stays unchanged (the server did not send it: there is nothing to hide). A column
//! that matches an exclude pattern is dropped even if a mask matches it too; of several
//! masks, the first that matches applies.
//!
//! # Key columns
//!
//! The replica identity ("key") columns can be neither excluded nor masked: every event is
//! keyed by them (the Kafka key, topic compaction, the stores' upserts), and dropping or
//! blanking one makes distinct rows collide. Which columns are keys is only known from a
//! Relation message, so [`CaptureFilter::plan`] is where that is refused, with a
//! [`FilterError`] naming the table, the column and the pattern. With `REPLICA IDENTITY
//! FULL` every column is a key, so such a table can have no column rules.

use std::fmt;
use std::str::FromStr;

use ring::digest;
use sluice_pgoutput::{Cell, Column, Oid, Relation};
use sluice_pgvalue::Value;

/// The OID of PostgreSQL's `text` type: the type of hashed and redacted columns.
pub const TEXT_OID: Oid = 25;

/// What a redacted value becomes.
pub const REDACTED: &str = "***";

/// Which tables the source captures, which of their columns it drops and which it masks.
/// The default captures everything as it is.
#[derive(Clone, Debug, Default)]
pub struct CaptureFilter {
    include_tables: Vec<TablePattern>,
    exclude_tables: Vec<TablePattern>,
    exclude_columns: Vec<ColumnPattern>,
    masks: Vec<(ColumnPattern, MaskMethod)>,
    hasher: SaltedSha256,
}

impl CaptureFilter {
    /// Adds include patterns: once there is one, only tables matching one are captured.
    pub fn include_tables(mut self, patterns: impl IntoIterator<Item = TablePattern>) -> Self {
        self.include_tables.extend(patterns);
        self
    }

    /// Adds exclude patterns: a matching table is not captured, even if included.
    pub fn exclude_tables(mut self, patterns: impl IntoIterator<Item = TablePattern>) -> Self {
        self.exclude_tables.extend(patterns);
        self
    }

    /// Adds column exclude patterns: matching columns are dropped from events.
    pub fn exclude_columns(mut self, patterns: impl IntoIterator<Item = ColumnPattern>) -> Self {
        self.exclude_columns.extend(patterns);
        self
    }

    /// Adds masks: the values of matching columns are replaced as their method says. Of
    /// several masks matching a column, the first added applies.
    pub fn masks(mut self, masks: impl IntoIterator<Item = (ColumnPattern, MaskMethod)>) -> Self {
        self.masks.extend(masks);
        self
    }

    /// Sets the secret that [`MaskMethod::Hash`] puts before each value (empty by default).
    /// It is kept only inside a digest state, never printed.
    pub fn mask_salt(mut self, salt: &str) -> Self {
        self.hasher = SaltedSha256::new(salt);
        self
    }

    /// Whether the table `schema.table` is captured.
    pub fn captures(&self, schema: &str, table: &str) -> bool {
        (self.include_tables.is_empty()
            || self
                .include_tables
                .iter()
                .any(|pattern| pattern.matches(schema, table)))
            && !self
                .exclude_tables
                .iter()
                .any(|pattern| pattern.matches(schema, table))
    }

    /// What to do with each column of `relation` (a captured table: see
    /// [`CaptureFilter::captures`]). Fails when a rule would exclude or mask a key column.
    pub fn plan(&self, relation: &Relation) -> Result<TablePlan, FilterError> {
        let (schema, table) = (relation.namespace.as_str(), relation.name.as_str());
        let mut actions = Vec::with_capacity(relation.columns.len());
        let mut columns = Vec::with_capacity(relation.columns.len());
        for column in &relation.columns {
            let name = column.name.as_str();
            let key_error = |pattern: &dyn fmt::Display, rule| FilterError::KeyColumn {
                schema: schema.to_owned(),
                table: table.to_owned(),
                column: name.to_owned(),
                pattern: pattern.to_string(),
                rule,
            };
            if let Some(pattern) = self
                .exclude_columns
                .iter()
                .find(|pattern| pattern.matches(schema, table, name))
            {
                if column.is_key() {
                    return Err(key_error(pattern, ColumnRule::Exclude));
                }
                actions.push(Action::Drop);
            } else if let Some((pattern, method)) = self
                .masks
                .iter()
                .find(|(pattern, _)| pattern.matches(schema, table, name))
            {
                if column.is_key() {
                    return Err(key_error(pattern, ColumnRule::Mask(*method)));
                }
                actions.push(Action::Mask(*method));
                columns.push(method.column(column));
            } else {
                actions.push(Action::Keep);
                columns.push(column.clone());
            }
        }
        let identity = actions.iter().all(|action| matches!(action, Action::Keep));
        Ok(TablePlan {
            relation: Relation {
                xid: relation.xid,
                id: relation.id,
                namespace: relation.namespace.clone(),
                name: relation.name.clone(),
                replica_identity: relation.replica_identity,
                columns,
            },
            actions: if identity {
                Box::default()
            } else {
                actions.into()
            },
            hasher: self.hasher.clone(),
        })
    }
}

/// One table's column rules, resolved against its Relation message.
#[derive(Clone, Debug)]
pub struct TablePlan {
    relation: Relation,
    /// One per column of the original relation; empty when every column is kept as it is.
    actions: Box<[Action]>,
    hasher: SaltedSha256,
}

impl TablePlan {
    /// The relation as the table's events describe it: the kept columns only, in their
    /// order, hashed and redacted ones typed `text`, key flags as they were.
    pub fn relation(&self) -> &Relation {
        &self.relation
    }

    /// Whether the plan keeps every column as it is: [`TablePlan::apply`] then does nothing,
    /// and [`TablePlan::relation`] equals the original relation.
    pub fn is_identity(&self) -> bool {
        self.actions.is_empty()
    }

    /// Drops the excluded columns of `row` and masks the masked ones, in place. `row` is a
    /// typed row of the original relation (one cell per column of the Relation message the
    /// plan was made from, as [`sluice_pgoutput::typed_row`] returns it), and becomes a row
    /// of [`TablePlan::relation`].
    pub fn apply(&self, row: &mut Vec<Cell>) {
        if self.actions.is_empty() {
            return;
        }
        debug_assert_eq!(row.len(), self.actions.len(), "a row of another relation");
        let mut actions = self.actions.iter();
        row.retain_mut(|cell| match actions.next() {
            Some(Action::Drop) => false,
            Some(Action::Mask(method)) => {
                self.mask(cell, *method);
                true
            }
            Some(Action::Keep) | None => true,
        });
    }

    fn mask(&self, cell: &mut Cell, method: MaskMethod) {
        // NULL and unchanged TOAST carry no value to hide.
        let Cell::Value(value) = cell else {
            return;
        };
        *cell = match method {
            MaskMethod::Hash => Cell::Value(Value::Text(self.hasher.hex_digest(value))),
            MaskMethod::Redact => Cell::Value(Value::Text(REDACTED.to_owned())),
            MaskMethod::Null => Cell::Null,
        };
    }
}

/// What a plan does with one column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Keep,
    Drop,
    Mask(MaskMethod),
}

/// How a masked column's values are replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MaskMethod {
    /// The hex SHA-256 of the salt and the value's PostgreSQL text: deterministic, so equal
    /// values stay equal.
    Hash,
    /// The text `***`.
    Redact,
    /// SQL NULL.
    Null,
}

impl MaskMethod {
    /// The column as events describe it once masked: hashes and `***` are `text`.
    fn column(self, column: &Column) -> Column {
        match self {
            MaskMethod::Hash | MaskMethod::Redact => Column {
                flags: column.flags,
                name: column.name.clone(),
                type_oid: TEXT_OID,
                type_modifier: -1,
            },
            MaskMethod::Null => column.clone(),
        }
    }
}

impl fmt::Display for MaskMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MaskMethod::Hash => "hash",
            MaskMethod::Redact => "redact",
            MaskMethod::Null => "null",
        })
    }
}

impl FromStr for MaskMethod {
    type Err = PatternError;

    fn from_str(method: &str) -> Result<Self, PatternError> {
        match method {
            "hash" => Ok(MaskMethod::Hash),
            "redact" => Ok(MaskMethod::Redact),
            "null" => Ok(MaskMethod::Null),
            _ => Err(PatternError::UnknownMethod(method.to_owned())),
        }
    }
}

/// SHA-256 with the salt already absorbed; its `Debug` shows nothing of the salt.
#[derive(Clone)]
struct SaltedSha256(digest::Context);

impl SaltedSha256 {
    fn new(salt: &str) -> Self {
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(salt.as_bytes());
        SaltedSha256(context)
    }

    /// The lower-case hex digest of the salt followed by `value`'s PostgreSQL text.
    fn hex_digest(&self, value: &Value) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut context = self.0.clone();
        context.update(value.to_pg_text().as_bytes());
        let digest = context.finish();
        let mut hex = String::with_capacity(digest.as_ref().len() * 2);
        for byte in digest.as_ref() {
            hex.push(char::from(HEX[usize::from(byte >> 4)]));
            hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        hex
    }
}

impl Default for SaltedSha256 {
    fn default() -> Self {
        SaltedSha256::new("")
    }
}

impl fmt::Debug for SaltedSha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SaltedSha256(***)")
    }
}

/// A `schema.table` pattern; `*` in a part matches any run of characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TablePattern {
    text: String,
    schema: Glob,
    table: Glob,
}

impl TablePattern {
    /// Whether `schema.table` matches.
    pub fn matches(&self, schema: &str, table: &str) -> bool {
        self.schema.matches(schema) && self.table.matches(table)
    }
}

impl FromStr for TablePattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<Self, PatternError> {
        let [schema, table] = split(text, Shape::Table)?;
        Ok(TablePattern {
            text: text.to_owned(),
            schema,
            table,
        })
    }
}

impl fmt::Display for TablePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A `schema.table.column` pattern; `*` in a part matches any run of characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnPattern {
    text: String,
    schema: Glob,
    table: Glob,
    column: Glob,
}

impl ColumnPattern {
    /// Whether the column `schema.table.column` matches.
    pub fn matches(&self, schema: &str, table: &str, column: &str) -> bool {
        self.schema.matches(schema) && self.table.matches(table) && self.column.matches(column)
    }
}

impl FromStr for ColumnPattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<Self, PatternError> {
        let [schema, table, column] = split(text, Shape::Column)?;
        Ok(ColumnPattern {
            text: text.to_owned(),
            schema,
            table,
            column,
        })
    }
}

impl fmt::Display for ColumnPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The parts of a `TablePattern` or a `ColumnPattern`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `schema.table`.
    Table,
    /// `schema.table.column`.
    Column,
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Shape::Table => "two dot-separated parts schema.table",
            Shape::Column => "three dot-separated parts schema.table.column",
        })
    }
}

/// `text` split at its dots into `N` globs.
fn split<const N: usize>(text: &str, shape: Shape) -> Result<[Glob; N], PatternError> {
    let parts: Vec<&str> = text.split('.').collect();
    let parts: [&str; N] = parts.try_into().map_err(|_| PatternError::Parts {
        pattern: text.to_owned(),
        shape,
    })?;
    if parts.iter().any(|part| part.is_empty()) {
        return Err(PatternError::EmptyPart {
            pattern: text.to_owned(),
        });
    }
    Ok(parts.map(|part| Glob(part.to_owned())))
}

/// One part of a pattern: a name where `*` matches any run of characters.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Glob(String);

impl Glob {
    fn matches(&self, name: &str) -> bool {
        let Some((prefix, rest_of_pattern)) = self.0.split_once('*') else {
            return self.0 == name;
        };
        let Some(mut rest) = name.strip_prefix(prefix) else {
            return false;
        };
        let (middle, suffix) = rest_of_pattern
            .rsplit_once('*')
            .unwrap_or(("", rest_of_pattern));
        // Each piece between stars at its leftmost place after the previous one: with `*`
        // the only wildcard, leftmost is never worse than a later place.
        for piece in middle.split('*') {
            match rest.find(piece) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
        rest.ends_with(suffix)
    }
}

/// A pattern or mask method that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Too few or too many dot-separated parts.
    #[error("{pattern:?} needs {shape}")]
    Parts {
        /// The pattern.
        pattern: String,
        /// The parts it needs.
        shape: Shape,
    },
    /// A part is empty (`shop..id`, `.users`).
    #[error("{pattern:?} has an empty part; write * to match any name")]
    EmptyPart {
        /// The pattern.
        pattern: String,
    },
    /// Not one of the mask methods.
    #[error("{0:?} is not a mask method: use hash, redact or null")]
    UnknownMethod(String),
}

/// A column rule that met a key column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnRule {
    /// An `exclude_columns` pattern.
    Exclude,
    /// A mask with this method.
    Mask(MaskMethod),
}

impl fmt::Display for ColumnRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnRule::Exclude => f.write_str("excluded (exclude_columns pattern"),
            ColumnRule::Mask(method) => write!(f, "masked ({method} mask pattern"),
        }
    }
}

/// A filter that cannot apply to a table as PostgreSQL describes it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// A column rule matches a replica identity column.
    #[error(
        "{schema}.{table}.{column} is a replica identity column and cannot be {rule} \
         {pattern:?}): events are keyed by it. Narrow the pattern, or give the table a \
         replica identity without this column (with REPLICA IDENTITY FULL every column is one)"
    )]
    KeyColumn {
        /// The table's schema.
        schema: String,
        /// The table.
        table: String,
        /// The key column.
        column: String,
        /// The pattern that matched it.
        pattern: String,
        /// What the pattern would have done.
        rule: ColumnRule,
    },
}

#[cfg(test)]
mod tests {
    use sluice_pgoutput::ReplicaIdentity;
    use sluice_pgvalue::TypeRegistry;

    use super::*;

    fn table(pattern: &str) -> TablePattern {
        pattern.parse().unwrap()
    }

    fn column(pattern: &str) -> ColumnPattern {
        pattern.parse().unwrap()
    }

    /// `shop.users (id int8 key, email varchar(255), password text, age int4)`.
    fn users() -> Relation {
        let column = |flags, name: &str, type_oid, type_modifier| Column {
            flags,
            name: name.into(),
            type_oid,
            type_modifier,
        };
        Relation {
            xid: None,
            id: 16384,
            namespace: "shop".into(),
            name: "users".into(),
            replica_identity: ReplicaIdentity::Default,
            columns: vec![
                column(Column::KEY_FLAG, "id", 20, -1),
                column(0, "email", 1043, 259),
                column(0, "password", 25, -1),
                column(0, "age", 23, -1),
            ],
        }
    }

    fn row() -> Vec<Cell> {
        vec![
            Cell::Value(Value::Int8(7)),
            Cell::Value(Value::Text("ada@example.com".into())),
            Cell::Value(Value::Text("hunter2".into())),
            Cell::Value(Value::Int4(36)),
        ]
    }

    fn text(value: &str) -> Cell {
        Cell::Value(Value::Text(value.into()))
    }

    fn sha256_hex(input: &str) -> String {
        digest::digest(&digest::SHA256, input.as_bytes())
            .as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    #[test]
    fn globs_match_within_a_part() {
        let glob = |pattern: &str| Glob(pattern.into());
        let cases = [
            ("users", "users", true),
            ("users", "user", false),
            ("users", "users2", false),
            ("*", "", true),
            ("*", "anything.at all", true),
            ("audit_*", "audit_log", true),
            ("audit_*", "audit_", true),
            ("audit_*", "my_audit_log", false),
            ("*_log", "audit_log", true),
            ("*_log", "audit_log2", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "acb", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("**", "x", true),
            ("*b*", "abc", true),
            ("*b*", "ac", false),
            ("Users", "users", false),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(glob(pattern).matches(name), expected, "{pattern} ~ {name}");
        }
    }

    #[test]
    fn patterns_need_their_parts() {
        assert!(table("shop.*").matches("shop", "orders"));
        assert!(!table("shop.*").matches("public", "orders"));
        assert!(table("*.audit_*").matches("billing", "audit_2024"));
        assert!(column("*.*.password").matches("a", "b", "password"));
        assert!(!column("*.*.password").matches("a", "b", "password_hint"));
        assert_eq!(table("shop.*").to_string(), "shop.*");
        let errors = [
            (
                "shop.users".parse::<ColumnPattern>().unwrap_err(),
                "\"shop.users\" needs three dot-separated parts schema.table.column",
            ),
            (
                "shop".parse::<TablePattern>().unwrap_err(),
                "\"shop\" needs two dot-separated parts schema.table",
            ),
            (
                "shop.users.id".parse::<TablePattern>().unwrap_err(),
                "\"shop.users.id\" needs two dot-separated parts schema.table",
            ),
            (
                "shop..id".parse::<ColumnPattern>().unwrap_err(),
                "\"shop..id\" has an empty part; write * to match any name",
            ),
            (
                "sha1".parse::<MaskMethod>().unwrap_err(),
                "\"sha1\" is not a mask method: use hash, redact or null",
            ),
        ];
        for (error, expected) in errors {
            assert_eq!(error.to_string(), expected);
        }
        assert_eq!("redact".parse(), Ok(MaskMethod::Redact));
    }

    #[test]
    fn the_default_captures_everything_as_it_is() {
        let filter = CaptureFilter::default();
        assert!(filter.captures("shop", "users"));
        assert!(filter.captures("", "pg_class"));
        let plan = filter.plan(&users()).unwrap();
        assert!(plan.is_identity());
        assert_eq!(plan.relation(), &users());
        let mut row = row();
        plan.apply(&mut row);
        assert_eq!(row, self::row());
    }

    #[test]
    fn exclusion_wins_over_inclusion() {
        let filter = CaptureFilter::default()
            .include_tables([table("shop.*"), table("billing.invoices")])
            .exclude_tables([table("*.audit_*"), table("shop.sessions")]);
        assert!(filter.captures("shop", "users"));
        assert!(filter.captures("billing", "invoices"));
        assert!(!filter.captures("billing", "payments"));
        assert!(!filter.captures("public", "users"));
        assert!(!filter.captures("shop", "audit_log"));
        assert!(!filter.captures("shop", "sessions"));

        let only_excludes = CaptureFilter::default().exclude_tables([table("*.audit_*")]);
        assert!(only_excludes.captures("public", "users"));
        assert!(!only_excludes.captures("public", "audit_log"));
    }

    #[test]
    fn an_excluded_column_leaves_rows_and_metadata() {
        let filter = CaptureFilter::default()
            .exclude_columns([column("shop.users.password"), column("other.*.age")]);
        let plan = filter.plan(&users()).unwrap();
        assert!(!plan.is_identity());
        let names: Vec<&str> = plan
            .relation()
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["id", "email", "age"]);
        assert!(plan.relation().columns[0].is_key());
        assert_eq!(plan.relation().id, 16384);
        let mut row = row();
        plan.apply(&mut row);
        assert_eq!(
            row,
            [
                Cell::Value(Value::Int8(7)),
                text("ada@example.com"),
                Cell::Value(Value::Int4(36)),
            ]
        );
    }

    #[test]
    fn a_column_rule_for_other_tables_is_an_identity_plan() {
        let filter = CaptureFilter::default()
            .exclude_columns([column("shop.orders.*")])
            .masks([(column("*.*.ssn"), MaskMethod::Hash)]);
        assert!(filter.plan(&users()).unwrap().is_identity());
    }

    #[test]
    fn hash_is_salted_sha256_of_the_postgres_text_and_types_the_column_text() {
        let filter = CaptureFilter::default()
            .masks([
                (column("shop.users.email"), MaskMethod::Hash),
                (column("shop.users.age"), MaskMethod::Hash),
            ])
            .mask_salt("pepper");
        let plan = filter.plan(&users()).unwrap();
        let mut row = row();
        plan.apply(&mut row);
        // printf 'pepperada@example.com' | sha256sum
        assert_eq!(
            row[1],
            text("f3de2501fc91c4a9ae4d4ed50bef931c9901aabe5ea36979890a69204e7eb2b1")
        );
        // An int4 hashes its PostgreSQL text, `36`.
        assert_eq!(row[3], text(&sha256_hex("pepper36")));
        assert_eq!(row[2], text("hunter2"));
        let email = &plan.relation().columns[1];
        assert_eq!((email.type_oid, email.type_modifier), (TEXT_OID, -1));
        assert_eq!(TypeRegistry::new().type_name(TEXT_OID), Some("text"));
        assert_eq!(plan.relation().columns[3].type_oid, TEXT_OID);
        assert_eq!(plan.relation().columns[2], users().columns[2]);

        // Deterministic across plans; another salt, another digest.
        let mut again = self::row();
        filter.plan(&users()).unwrap().apply(&mut again);
        assert_eq!(again, row);
        let mut unsalted = self::row();
        CaptureFilter::default()
            .masks([(column("shop.users.email"), MaskMethod::Hash)])
            .plan(&users())
            .unwrap()
            .apply(&mut unsalted);
        assert_eq!(unsalted[1], text(&sha256_hex("ada@example.com")));
    }

    #[test]
    fn redact_and_null_replace_values() {
        let filter = CaptureFilter::default().masks([
            (column("shop.users.email"), MaskMethod::Redact),
            (column("shop.users.age"), MaskMethod::Null),
            // Later masks of the same column do not apply.
            (column("shop.users.email"), MaskMethod::Hash),
        ]);
        let plan = filter.plan(&users()).unwrap();
        let mut row = row();
        plan.apply(&mut row);
        assert_eq!(row[1], text(REDACTED));
        assert_eq!(row[2], text("hunter2"));
        assert_eq!(row[3], Cell::Null);
        assert_eq!(plan.relation().columns[1].type_oid, TEXT_OID);
        // A nulled column keeps its type.
        assert_eq!(plan.relation().columns[3], users().columns[3]);
    }

    #[test]
    fn null_and_unchanged_toast_are_not_masked() {
        for method in [MaskMethod::Hash, MaskMethod::Redact, MaskMethod::Null] {
            let plan = CaptureFilter::default()
                .masks([(column("shop.users.password"), method)])
                .plan(&users())
                .unwrap();
            let mut row = vec![
                Cell::Value(Value::Int8(1)),
                Cell::Null,
                Cell::UnchangedToast,
                Cell::Null,
            ];
            plan.apply(&mut row);
            assert_eq!(row[2], Cell::UnchangedToast, "{method}");
        }
    }

    #[test]
    fn an_exclusion_wins_over_a_mask() {
        let plan = CaptureFilter::default()
            .exclude_columns([column("shop.users.password")])
            .masks([(column("shop.users.password"), MaskMethod::Redact)])
            .plan(&users())
            .unwrap();
        let mut row = row();
        plan.apply(&mut row);
        assert_eq!(row.len(), 3);
        assert!(!row.contains(&text(REDACTED)));
    }

    #[test]
    fn key_columns_can_be_neither_excluded_nor_masked() {
        let excluded = CaptureFilter::default()
            .exclude_columns([column("shop.users.*")])
            .plan(&users())
            .unwrap_err();
        assert_eq!(
            excluded,
            FilterError::KeyColumn {
                schema: "shop".into(),
                table: "users".into(),
                column: "id".into(),
                pattern: "shop.users.*".into(),
                rule: ColumnRule::Exclude,
            }
        );
        assert_eq!(
            excluded.to_string(),
            "shop.users.id is a replica identity column and cannot be excluded \
             (exclude_columns pattern \"shop.users.*\"): events are keyed by it. Narrow the \
             pattern, or give the table a replica identity without this column (with \
             REPLICA IDENTITY FULL every column is one)"
        );
        let masked = CaptureFilter::default()
            .masks([(column("*.*.id"), MaskMethod::Hash)])
            .plan(&users())
            .unwrap_err();
        assert!(
            masked
                .to_string()
                .starts_with("shop.users.id is a replica identity column and cannot be masked (hash mask pattern \"*.*.id\")"),
            "{masked}"
        );

        // With REPLICA IDENTITY FULL every column is a key.
        let mut full = users();
        full.replica_identity = ReplicaIdentity::Full;
        for column in &mut full.columns {
            column.flags = Column::KEY_FLAG;
        }
        let error = CaptureFilter::default()
            .masks([(self::column("shop.users.email"), MaskMethod::Null)])
            .plan(&full)
            .unwrap_err();
        assert!(matches!(error, FilterError::KeyColumn { column, .. } if column == "email"));
    }

    #[test]
    fn debug_hides_the_salt() {
        let filter = CaptureFilter::default().mask_salt("s3cr3t-pepper");
        let plan = filter.plan(&users()).unwrap();
        for debug in [format!("{filter:?}"), format!("{plan:?}")] {
            assert!(!debug.contains("s3cr3t"), "{debug}");
            assert!(debug.contains("SaltedSha256(***)"), "{debug}");
        }
    }
}
