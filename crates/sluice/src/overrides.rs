//! Environment overrides of the config file: `SLUICE_<SECTION>__<KEY>=value`.
//!
//! ```text
//!  SLUICE_KAFKA__BOOTSTRAP_SERVERS=k1:9092   ─▶  [kafka] bootstrap_servers = "k1:9092"
//!  SLUICE_KAFKA__PARTITIONS=6                ─▶  [kafka] partitions = 6
//!  SLUICE_KAFKA__PRODUCER__LINGER.MS=20      ─▶  [kafka.producer] "linger.ms" = 20
//! ```
//!
//! The merge is generic and happens on the parsed TOML tree, before the tree becomes typed
//! config, so an override is checked exactly like the file: an unknown key or a bad type is
//! an error naming the key (and the variable that set it).
//!
//! # The rules
//!
//! - Only variables that start with `SLUICE_` *and* contain `__` are overrides. Every key
//!   of the config lives in a section, so an override always has a separator; variables
//!   such as `SLUICE_POSTGRES_URL` or `SLUICE_STATE_DIR` (the local stack's, the test
//!   harness's) are left alone.
//! - The name after the prefix is split at `__` and each part lower-cased: the path of the
//!   key. Dots and single underscores stay as they are (`LINGER.MS` is the key `linger.ms`).
//! - The value is read as a TOML scalar when it is one (`6`, `0.5`, `true`, `"quoted"`),
//!   otherwise taken as a string (`k1:9092`, `postgres://...`). A string that looks like a
//!   number is written quoted: `SLUICE_SOURCE__SLOT='"2024"'`.
//! - An override replaces the key's value in the file, creating its sections when missing.

use std::collections::BTreeMap;
use std::ffi::OsString;

/// Variables with this prefix (and a [`SEPARATOR`]) override the config file.
pub(crate) const PREFIX: &str = "SLUICE_";
/// Separates the sections of a key in a variable's name.
pub(crate) const SEPARATOR: &str = "__";

/// One override: the key it sets, the value, and the variable it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Override {
    /// The key's path, lower-case: `["kafka", "partitions"]`.
    pub(crate) path: Vec<String>,
    /// The value, a TOML scalar.
    pub(crate) value: toml::Value,
    /// The environment variable, for error messages.
    pub(crate) variable: String,
}

impl Override {
    /// The key as it is written in messages: `kafka.partitions`.
    pub(crate) fn key(&self) -> String {
        dotted(&self.path)
    }
}

/// Why the environment cannot be applied.
#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum OverrideError {
    /// The value is not UTF-8.
    #[error("{variable}: the value is not valid UTF-8")]
    NotUtf8 {
        /// The variable.
        variable: String,
    },
    /// The name has an empty part (`SLUICE_KAFKA____X`, or a trailing `__`).
    #[error("{variable}: an empty key between `__` separators")]
    EmptyPart {
        /// The variable.
        variable: String,
    },
    /// The override goes through a key that is a value, not a section.
    #[error("{variable}: {key} is a value in the config, not a section")]
    NotASection {
        /// The variable.
        variable: String,
        /// The key that is not a section.
        key: String,
    },
}

/// The overrides among `variables` (normally [`std::env::vars_os`]), sorted by variable
/// name so that the result does not depend on the environment's order.
pub(crate) fn from_variables(
    variables: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<Vec<Override>, OverrideError> {
    let mut found = BTreeMap::new();
    for (name, value) in variables {
        // A variable whose name is not UTF-8 cannot be one of ours.
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        if !rest.contains(SEPARATOR) {
            continue;
        }
        let path: Vec<String> = rest.split(SEPARATOR).map(str::to_lowercase).collect();
        if path.iter().any(String::is_empty) {
            return Err(OverrideError::EmptyPart {
                variable: name.to_owned(),
            });
        }
        let value = value.into_string().map_err(|_| OverrideError::NotUtf8 {
            variable: name.to_owned(),
        })?;
        found.insert(
            name.to_owned(),
            Override {
                path,
                value: scalar(&value),
                variable: name.to_owned(),
            },
        );
    }
    Ok(found.into_values().collect())
}

/// Sets every override in `table`, creating missing sections.
pub(crate) fn apply(table: &mut toml::Table, overrides: &[Override]) -> Result<(), OverrideError> {
    for o in overrides {
        let Some((leaf, sections)) = o.path.split_last() else {
            continue;
        };
        let mut current = &mut *table;
        for (depth, section) in sections.iter().enumerate() {
            let entry = current
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            current = match entry {
                toml::Value::Table(next) => next,
                _ => {
                    return Err(OverrideError::NotASection {
                        variable: o.variable.clone(),
                        key: dotted(&o.path[..=depth]),
                    });
                }
            };
        }
        current.insert(leaf.clone(), o.value.clone());
    }
    Ok(())
}

/// `text` as a TOML scalar when it is one, else as a string.
fn scalar(text: &str) -> toml::Value {
    match format!("value = {text}").parse::<toml::Table>() {
        // Exactly one key: `1\nother = 2` is a string, not a way to set a second key.
        Ok(mut parsed) if parsed.len() == 1 => match parsed.remove("value") {
            Some(value) if !matches!(value, toml::Value::Table(_) | toml::Value::Array(_)) => value,
            _ => toml::Value::String(text.to_owned()),
        },
        _ => toml::Value::String(text.to_owned()),
    }
}

/// A key path as written in messages, quoting parts that are not bare TOML keys:
/// `kafka.producer."linger.ms"`.
pub(crate) fn dotted(path: &[impl AsRef<str>]) -> String {
    path.iter()
        .map(|part| {
            let part = part.as_ref();
            let bare = !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if bare {
                part.to_owned()
            } else {
                format!("{part:?}")
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    #[test]
    fn only_prefixed_variables_with_a_separator_are_overrides() {
        let found = from_variables(vars(&[
            ("SLUICE_SOURCE__SLOT", "orders"),
            ("SLUICE_POSTGRES_URL", "postgres://ignored"),
            ("SLUICE_STATE_DIR", "/tmp"),
            ("PATH", "/bin"),
            ("OTHER__KEY", "x"),
        ]))
        .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, ["source", "slot"]);
        assert_eq!(found[0].value, toml::Value::String("orders".into()));
        assert_eq!(found[0].variable, "SLUICE_SOURCE__SLOT");
    }

    #[test]
    fn values_are_toml_scalars_when_they_parse() {
        assert_eq!(scalar("6"), toml::Value::Integer(6));
        assert_eq!(scalar("0.5"), toml::Value::Float(0.5));
        assert_eq!(scalar("true"), toml::Value::Boolean(true));
        assert_eq!(scalar("\"2024\""), toml::Value::String("2024".into()));
        for text in [
            "127.0.0.1:9092",
            "postgres://u:p@h:5432/db?sslmode=require",
            "orders",
            "",
            "[1, 2]",
            "{ a = 1 }",
            "1\nother = 2",
            "k1:9092,k2:9092",
        ] {
            assert_eq!(scalar(text), toml::Value::String(text.into()), "{text:?}");
        }
    }

    #[test]
    fn overrides_replace_values_and_create_sections() {
        let mut table: toml::Table = "[kafka]\npartitions = 3\nbootstrap_servers = \"a:1\"\n"
            .parse()
            .unwrap();
        let overrides = from_variables(vars(&[
            ("SLUICE_KAFKA__PARTITIONS", "6"),
            ("SLUICE_KAFKA__PRODUCER__LINGER.MS", "20"),
            ("SLUICE_SOURCE__SLOT", "orders"),
        ]))
        .unwrap();
        apply(&mut table, &overrides).unwrap();
        let expected: toml::Table = r#"
            [kafka]
            partitions = 6
            bootstrap_servers = "a:1"
            producer = { "linger.ms" = 20 }
            [source]
            slot = "orders"
        "#
        .parse()
        .unwrap();
        assert_eq!(table, expected);
    }

    #[test]
    fn an_override_through_a_value_names_the_variable_and_key() {
        let mut table: toml::Table = "[kafka]\npartitions = 3\n".parse().unwrap();
        let overrides = from_variables(vars(&[("SLUICE_KAFKA__PARTITIONS__X", "1")])).unwrap();
        assert_eq!(
            apply(&mut table, &overrides).unwrap_err().to_string(),
            "SLUICE_KAFKA__PARTITIONS__X: kafka.partitions is a value in the config, not a section"
        );
    }

    #[test]
    fn empty_parts_are_rejected() {
        for name in ["SLUICE_KAFKA____X", "SLUICE_KAFKA__", "SLUICE___KAFKA__X"] {
            assert_eq!(
                from_variables(vars(&[(name, "1")])),
                Err(OverrideError::EmptyPart {
                    variable: name.into()
                }),
                "{name}"
            );
        }
    }

    #[test]
    fn keys_are_quoted_when_not_bare() {
        assert_eq!(dotted(&["kafka", "partitions"]), "kafka.partitions");
        assert_eq!(
            dotted(&["kafka", "producer", "linger.ms"]),
            r#"kafka.producer."linger.ms""#
        );
    }
}
