//! What the sink needs to know: where Neo4j is, how to log in, which tables become
//! labelled nodes, and which foreign keys and join tables become relationships.
//!
//! ```toml
//! [neo4j]
//! url = "bolt://127.0.0.1:7687"
//! database = "neo4j"
//!
//! [neo4j.nodes."shop.users"]
//! label = "User"
//! properties = ["email", "full_name"]
//!
//! [neo4j.nodes."shop.orders"]
//! label = "Order"
//! [[neo4j.nodes."shop.orders".relationships]]
//! columns = ["user_id"]
//! target = "shop.users"
//! type = "PLACED"
//! direction = "incoming"        # (User)-[:PLACED]->(Order)
//!
//! [neo4j.relationships."shop.order_items"]
//! type = "CONTAINS"
//! from = { table = "shop.orders", columns = ["order_id"] }
//! to = { table = "shop.products", columns = ["product_id"] }
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// The default [`Neo4jConfig::user`].
pub const DEFAULT_USER: &str = "neo4j";

/// The default [`Neo4jConfig::request_timeout_seconds`].
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 30;

/// The default [`Neo4jConfig::tombstone_ttl_seconds`]: one day.
pub const DEFAULT_TOMBSTONE_TTL_SECONDS: u64 = 86_400;

/// The label of the nodes that remember deleted rows (see the crate docs, "Deletes").
pub const TOMBSTONE_LABEL: &str = "SluiceTombstone";

/// The label of the nodes that remember each table's last truncate (see the crate docs,
/// "Truncates").
pub const TRUNCATE_FLOOR_LABEL: &str = "SluiceTruncateFloor";

/// The property holding a node's or relationship's identity: the row's Kafka key.
pub const KEY_PROPERTY: &str = "sluice_key";

/// The property holding the version a node or relationship was written with.
pub const VERSION_PROPERTY: &str = "sluice_version";

/// The sink's configuration, the `[neo4j]` table of the configuration file.
///
/// `Debug` hides the password.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Neo4jConfig {
    /// The server's Bolt URL: `bolt://host:7687` (one server), `neo4j://host:7687` (a
    /// cluster, routed), or their `+s` / `+ssc` TLS forms.
    pub url: String,
    /// The user to log in as.
    #[serde(default = "default_user")]
    pub user: String,
    /// The user's password (empty when authentication is disabled). Give it through the
    /// binary's `SLUICE_`-prefixed environment overrides (a Secret) rather than in the file;
    /// it is never logged (`Debug` shows `***`) and the type does not implement `Serialize`.
    #[serde(default)]
    pub password: String,
    /// The database to write to; the server's default database when unset.
    #[serde(default)]
    pub database: Option<String>,
    /// How long one request (a transaction of one batch group) may take before it counts
    /// as failed and the batch is retried. Also the connection timeout.
    #[serde(default = "default_request_timeout_seconds")]
    pub request_timeout_seconds: u64,
    /// How long a deleted row's tombstone is kept: for that long an older write of the
    /// row arriving late (a replay, a second sink process) is refused instead of bringing
    /// the row back. Must exceed how long an older copy of an event can be in flight.
    #[serde(default = "default_tombstone_ttl_seconds")]
    pub tombstone_ttl_seconds: u64,
    /// Tables whose rows become nodes, by `schema.table` as PostgreSQL spells the names
    /// (case kept, unquoted).
    #[serde(default)]
    pub nodes: BTreeMap<String, NodeTable>,
    /// Join tables whose rows become relationships, by `schema.table`.
    #[serde(default)]
    pub relationships: BTreeMap<String, RelationshipTable>,
}

/// A table whose rows are nodes of one label.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeTable {
    /// The nodes' label. Used backtick-quoted, so any name but the sink's own labels
    /// ([`TOMBSTONE_LABEL`], [`TRUNCATE_FLOOR_LABEL`]) works; one label per table.
    pub label: String,
    /// The columns stored as properties; every column when unset. Key columns are always
    /// stored.
    #[serde(default)]
    pub properties: Option<Vec<String>>,
    /// Foreign keys of the table that become relationships.
    #[serde(default)]
    pub relationships: Vec<ForeignKey>,
}

impl NodeTable {
    /// Nodes labelled `label`, every column a property, no relationships.
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            properties: None,
            relationships: Vec::new(),
        }
    }
}

/// A foreign key of a node table, stored as a relationship to the referenced row's node.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignKey {
    /// The referencing columns, in the order of the target table's primary key.
    pub columns: Vec<String>,
    /// The referenced table: a configured node table.
    pub target: String,
    /// The relationship type.
    #[serde(rename = "type")]
    pub rel_type: String,
    /// Which way the relationship points.
    #[serde(default)]
    pub direction: Direction,
}

/// Which way a foreign key's relationship points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From the referencing row to the referenced one: `(Order)-[:PLACED_BY]->(User)`.
    #[default]
    Outgoing,
    /// From the referenced row to the referencing one: `(User)-[:PLACED]->(Order)`.
    Incoming,
}

/// A join table: each row is one relationship between two nodes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationshipTable {
    /// The relationship type; one join table per type.
    #[serde(rename = "type")]
    pub rel_type: String,
    /// The start node: a node table and the columns referencing it.
    pub from: Endpoint,
    /// The end node.
    pub to: Endpoint,
    /// The columns stored as properties; every column that is neither a key column nor
    /// an endpoint column when unset.
    #[serde(default)]
    pub properties: Option<Vec<String>>,
}

/// One end of a join table's relationship.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// The referenced table: a configured node table.
    pub table: String,
    /// The referencing columns, in the order of the referenced table's primary key.
    pub columns: Vec<String>,
}

/// A configuration value the sink cannot work with; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The URL does not parse or has a scheme neo4rs does not speak.
    #[error("neo4j.url: {0}")]
    Url(String),
    /// `request_timeout_seconds` is zero.
    #[error("neo4j.request_timeout_seconds: must be more than zero")]
    RequestTimeout,
    /// `tombstone_ttl_seconds` is zero.
    #[error("neo4j.tombstone_ttl_seconds: must be more than zero")]
    TombstoneTtl,
    /// `database` is set but empty.
    #[error("neo4j.database: must not be empty (leave it out for the server's default)")]
    Database,
    /// A table key is not `schema.table`.
    #[error("{key}: the table must be named schema.table")]
    TableName {
        /// The key, as `neo4j.nodes."x"`.
        key: String,
    },
    /// A label or relationship type cannot be used.
    #[error("{key} {value:?}: {reason}")]
    Name {
        /// The key, as `neo4j.nodes."shop.users".label`.
        key: String,
        /// The value.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A column list is empty, or names a column twice or an empty column.
    #[error("{key}: {reason}")]
    Columns {
        /// The key of the list.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A foreign key or endpoint names a table that is not a configured node table.
    #[error("{key} {table:?} is not a configured node table")]
    NotANodeTable {
        /// The key, as `neo4j.nodes."shop.orders".relationships[0].target`.
        key: String,
        /// The table named.
        table: String,
    },
    /// Two entries would write the same nodes or relationships.
    #[error("{key}: {reason}")]
    Conflict {
        /// The key of the second entry.
        key: String,
        /// What it collides with.
        reason: String,
    },
}

fn default_user() -> String {
    DEFAULT_USER.into()
}

fn default_request_timeout_seconds() -> u64 {
    DEFAULT_REQUEST_TIMEOUT_SECONDS
}

fn default_tombstone_ttl_seconds() -> u64 {
    DEFAULT_TOMBSTONE_TTL_SECONDS
}

/// Properties the sink writes itself; columns of these names are not stored.
pub(crate) const RESERVED_PROPERTIES: [&str; 2] = [KEY_PROPERTY, VERSION_PROPERTY];

impl Neo4jConfig {
    /// A configuration for the server at `url` with every other option at its default
    /// and no table mapped.
    pub fn new(url: impl Into<String>) -> Self {
        Neo4jConfig {
            url: url.into(),
            user: DEFAULT_USER.into(),
            password: String::new(),
            database: None,
            request_timeout_seconds: DEFAULT_REQUEST_TIMEOUT_SECONDS,
            tombstone_ttl_seconds: DEFAULT_TOMBSTONE_TTL_SECONDS,
            nodes: BTreeMap::new(),
            relationships: BTreeMap::new(),
        }
    }

    /// [`request_timeout_seconds`](Self::request_timeout_seconds) as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_seconds)
    }

    /// [`tombstone_ttl_seconds`](Self::tombstone_ttl_seconds) as a duration.
    pub fn tombstone_ttl(&self) -> Duration {
        Duration::from_secs(self.tombstone_ttl_seconds)
    }

    /// Checks every value that can be checked without the server. Column names can
    /// only be checked against events: a column missing from an event is a rejection
    /// of that event.
    ///
    /// # Errors
    ///
    /// The first [`ConfigError`] found; its message names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_url(&self.url)?;
        if self.request_timeout_seconds == 0 {
            return Err(ConfigError::RequestTimeout);
        }
        if self.tombstone_ttl_seconds == 0 {
            return Err(ConfigError::TombstoneTtl);
        }
        if self.database.as_deref().is_some_and(str::is_empty) {
            return Err(ConfigError::Database);
        }
        let mut labels: BTreeMap<&str, &str> = BTreeMap::new();
        for (table, node) in &self.nodes {
            let key = format!("neo4j.nodes.{table:?}");
            validate_table_name(table, &key)?;
            validate_name(&node.label, &format!("{key}.label"))?;
            if [TOMBSTONE_LABEL, TRUNCATE_FLOOR_LABEL].contains(&node.label.as_str()) {
                return Err(ConfigError::Name {
                    key: format!("{key}.label"),
                    value: node.label.clone(),
                    reason: "is a label the sink uses itself",
                });
            }
            if let Some(other) = labels.insert(&node.label, table) {
                return Err(ConfigError::Conflict {
                    key: format!("{key}.label"),
                    reason: format!(
                        "label {:?} is already the label of table {other:?}; keys are unique \
                         per table only, so each table needs its own label",
                        node.label
                    ),
                });
            }
            if let Some(properties) = &node.properties {
                validate_properties(properties, &format!("{key}.properties"))?;
            }
            let mut seen = HashSet::new();
            for (i, fk) in node.relationships.iter().enumerate() {
                let fk_key = format!("{key}.relationships[{i}]");
                validate_columns(&fk.columns, &format!("{fk_key}.columns"))?;
                validate_name(&fk.rel_type, &format!("{fk_key}.type"))?;
                if !self.nodes.contains_key(&fk.target) {
                    return Err(ConfigError::NotANodeTable {
                        key: format!("{fk_key}.target"),
                        table: fk.target.clone(),
                    });
                }
                if !seen.insert((&fk.rel_type, &fk.target, fk.direction)) {
                    return Err(ConfigError::Conflict {
                        key: fk_key,
                        reason: format!(
                            "another foreign key of this table has type {:?}, target {:?} and \
                             the same direction: the two would overwrite each other's \
                             relationship; give them different types",
                            fk.rel_type, fk.target
                        ),
                    });
                }
            }
        }
        let fk_types: HashSet<&str> = self
            .nodes
            .values()
            .flat_map(|n| n.relationships.iter().map(|fk| fk.rel_type.as_str()))
            .collect();
        let mut types: BTreeMap<&str, &str> = BTreeMap::new();
        for (table, rel) in &self.relationships {
            let key = format!("neo4j.relationships.{table:?}");
            validate_table_name(table, &key)?;
            if self.nodes.contains_key(table) {
                return Err(ConfigError::Conflict {
                    key,
                    reason: "the table is configured as a node table too".into(),
                });
            }
            validate_name(&rel.rel_type, &format!("{key}.type"))?;
            if let Some(other) = types.insert(&rel.rel_type, table) {
                return Err(ConfigError::Conflict {
                    key: format!("{key}.type"),
                    reason: format!(
                        "type {:?} is already the type of join table {other:?}; keys are \
                         unique per table only, so each join table needs its own type",
                        rel.rel_type
                    ),
                });
            }
            if fk_types.contains(rel.rel_type.as_str()) {
                return Err(ConfigError::Conflict {
                    key: format!("{key}.type"),
                    reason: format!(
                        "type {:?} is also the type of a foreign-key relationship; give the \
                         join table a type of its own",
                        rel.rel_type
                    ),
                });
            }
            for (side, end) in [("from", &rel.from), ("to", &rel.to)] {
                validate_columns(&end.columns, &format!("{key}.{side}.columns"))?;
                if !self.nodes.contains_key(&end.table) {
                    return Err(ConfigError::NotANodeTable {
                        key: format!("{key}.{side}.table"),
                        table: end.table.clone(),
                    });
                }
            }
            if let Some(properties) = &rel.properties {
                validate_properties(properties, &format!("{key}.properties"))?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Neo4jConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Neo4jConfig")
            .field("url", &self.url)
            .field("user", &self.user)
            .field(
                "password",
                &if self.password.is_empty() { "" } else { "***" },
            )
            .field("database", &self.database)
            .field("request_timeout_seconds", &self.request_timeout_seconds)
            .field("tombstone_ttl_seconds", &self.tombstone_ttl_seconds)
            .field("nodes", &self.nodes)
            .field("relationships", &self.relationships)
            .finish()
    }
}

fn validate_url(url: &str) -> Result<(), ConfigError> {
    let parsed = url::Url::parse(url).map_err(|e| ConfigError::Url(e.to_string()))?;
    const SCHEMES: [&str; 6] = [
        "bolt",
        "bolt+s",
        "bolt+ssc",
        "neo4j",
        "neo4j+s",
        "neo4j+ssc",
    ];
    if !SCHEMES.contains(&parsed.scheme()) {
        return Err(ConfigError::Url(format!(
            "scheme {:?} is not one of {}",
            parsed.scheme(),
            SCHEMES.join(", ")
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::Url("the URL names no host".into()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ConfigError::Url(
            "credentials go in neo4j.user and neo4j.password, not in the URL".into(),
        ));
    }
    Ok(())
}

fn validate_table_name(table: &str, key: &str) -> Result<(), ConfigError> {
    match sluice_sink::TableName::parse(table) {
        Some(_) => Ok(()),
        None => Err(ConfigError::TableName { key: key.into() }),
    }
}

/// A label or relationship type: any text the sink can backtick-quote ([`quote`]).
fn validate_name(name: &str, key: &str) -> Result<(), ConfigError> {
    let reason = if name.is_empty() {
        "must not be empty"
    } else if name.chars().any(char::is_control) {
        "must not contain control characters"
    } else if name.len() > 1024 {
        "is longer than 1024 bytes"
    } else {
        return Ok(());
    };
    Err(ConfigError::Name {
        key: key.into(),
        value: name.into(),
        reason,
    })
}

fn validate_columns(columns: &[String], key: &str) -> Result<(), ConfigError> {
    let reason = if columns.is_empty() {
        "must name at least one column"
    } else if columns.iter().any(String::is_empty) {
        "must not name an empty column"
    } else if columns.iter().collect::<HashSet<_>>().len() != columns.len() {
        "names a column twice"
    } else {
        return Ok(());
    };
    Err(ConfigError::Columns {
        key: key.into(),
        reason,
    })
}

fn validate_properties(properties: &[String], key: &str) -> Result<(), ConfigError> {
    if properties
        .iter()
        .any(|p| RESERVED_PROPERTIES.contains(&p.as_str()))
    {
        return Err(ConfigError::Columns {
            key: key.into(),
            reason: "names sluice_key or sluice_version, properties the sink writes itself",
        });
    }
    if properties.iter().any(String::is_empty) {
        return Err(ConfigError::Columns {
            key: key.into(),
            reason: "must not name an empty column",
        });
    }
    Ok(())
}

/// A label or relationship type as a Cypher identifier: backtick-quoted, backticks
/// doubled, so any name is safe in a query.
pub(crate) fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop() -> Neo4jConfig {
        let toml = r#"
            url = "bolt://127.0.0.1:7687"
            password = "s3cret"
            database = "neo4j"
            request_timeout_seconds = 10

            [nodes."shop.users"]
            label = "User"
            properties = ["email", "full_name"]

            [nodes."shop.products"]
            label = "Product"

            [nodes."shop.orders"]
            label = "Order"
            [[nodes."shop.orders".relationships]]
            columns = ["user_id"]
            target = "shop.users"
            type = "PLACED"
            direction = "incoming"

            [relationships."shop.order_items"]
            type = "CONTAINS"
            from = { table = "shop.orders", columns = ["order_id"] }
            to = { table = "shop.products", columns = ["product_id"] }
            properties = ["quantity", "unit_price"]
        "#;
        toml::from_str(toml).unwrap()
    }

    #[test]
    fn the_documented_shape_parses_with_defaults() {
        let config = shop();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.user, "neo4j");
        assert_eq!(config.tombstone_ttl_seconds, DEFAULT_TOMBSTONE_TTL_SECONDS);
        assert_eq!(config.request_timeout(), Duration::from_secs(10));
        let orders = &config.nodes["shop.orders"];
        assert_eq!(orders.relationships[0].direction, Direction::Incoming);
        assert_eq!(orders.properties, None);
        assert_eq!(
            config.relationships["shop.order_items"].rel_type,
            "CONTAINS"
        );
        let minimal: Neo4jConfig = toml::from_str(r#"url = "bolt://localhost""#).unwrap();
        assert_eq!(minimal.validate(), Ok(()));
        assert_eq!(minimal.password, "");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let error = toml::from_str::<Neo4jConfig>("url = \"bolt://x\"\nlabels = 1").unwrap_err();
        assert!(error.to_string().contains("labels"), "{error}");
        let error = toml::from_str::<Neo4jConfig>(
            "url = \"bolt://x\"\n[nodes.\"a.b\"]\nlabel = \"A\"\nlable = \"B\"",
        )
        .unwrap_err();
        assert!(error.to_string().contains("lable"), "{error}");
    }

    #[test]
    fn debug_hides_the_password() {
        let debug = format!("{:?}", shop());
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("***"), "{debug}");
    }

    #[test]
    fn validation_names_the_key() {
        let mut config = shop();
        config.nodes.get_mut("shop.orders").unwrap().relationships[0].target = "shop.x".into();
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            r#"neo4j.nodes."shop.orders".relationships[0].target "shop.x" is not a configured node table"#
        );

        let mut config = shop();
        config.nodes.get_mut("shop.orders").unwrap().relationships[0]
            .columns
            .clear();
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            r#"neo4j.nodes."shop.orders".relationships[0].columns: must name at least one column"#
        );

        let mut config = shop();
        config.nodes.get_mut("shop.users").unwrap().label = String::new();
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            r#"neo4j.nodes."shop.users".label "": must not be empty"#
        );

        let mut config = shop();
        config.nodes.get_mut("shop.users").unwrap().label = "Product".into();
        let error = config.validate().unwrap_err().to_string();
        assert!(
            error.starts_with(r#"neo4j.nodes."shop.users".label: label "Product""#),
            "{error}"
        );

        let mut config = shop();
        config
            .relationships
            .get_mut("shop.order_items")
            .unwrap()
            .to
            .table = "shop.nope".into();
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            r#"neo4j.relationships."shop.order_items".to.table "shop.nope" is not a configured node table"#
        );

        let mut config = shop();
        config
            .relationships
            .get_mut("shop.order_items")
            .unwrap()
            .rel_type = "PLACED".into();
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .starts_with(r#"neo4j.relationships."shop.order_items".type:"#)
        );

        let mut config = shop();
        config.nodes.insert(
            "users".into(),
            NodeTable {
                label: "U".into(),
                properties: None,
                relationships: vec![],
            },
        );
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            r#"neo4j.nodes."users": the table must be named schema.table"#
        );

        for url in [
            "http://localhost:7474",
            "bolt://user:pw@localhost",
            "nonsense",
        ] {
            let mut config = shop();
            config.url = url.into();
            let error = config.validate().unwrap_err().to_string();
            assert!(error.starts_with("neo4j.url:"), "{error}");
        }
        let mut config = shop();
        config.request_timeout_seconds = 0;
        assert_eq!(config.validate(), Err(ConfigError::RequestTimeout));
    }

    #[test]
    fn any_name_is_quoted_safely() {
        assert_eq!(quote("User"), "`User`");
        assert_eq!(quote("a`b) DETACH DELETE (x"), "`a``b) DETACH DELETE (x`");
        let mut config = shop();
        config.nodes.get_mut("shop.users").unwrap().label = "Kunde mit `Tick`".into();
        assert_eq!(config.validate(), Ok(()));
    }
}
