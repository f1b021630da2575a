//! The compiled schema is the contract the code and its consumers expect.
//!
//! `golden/descriptor.txt` lists every message, field (number, label, type, oneof) and
//! enum value of `sluice.v1`. Any change to the schema changes that list, so it fails
//! this test until the golden file is updated in the same commit, which makes every
//! schema change a reviewed diff. The evolution rules allow only added lines: a
//! changed or removed line is a breaking change. Regenerate with
//! `SLUICE_BLESS=1 cargo test -p sluice-event --test main contract`.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use prost::{Message, Name};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use sluice_event::headers::{CHANGE_EVENT_CONTENT_TYPE, HEARTBEAT_CONTENT_TYPE, content_type_of};
use sluice_event::v1::{ChangeEvent, Heartbeat};

fn file() -> FileDescriptorProto {
    let set = FileDescriptorSet::decode(sluice_event::FILE_DESCRIPTOR_SET).unwrap();
    let mut files: Vec<_> = set
        .file
        .into_iter()
        .filter(|f| f.package() == "sluice.v1")
        .collect();
    assert_eq!(files.len(), 1, "one .proto file in sluice.v1");
    files.remove(0)
}

/// The names of the `Value.kind` oneof's members, from the schema.
pub(crate) fn value_kinds() -> Vec<String> {
    let file = file();
    let value = file
        .message_type
        .iter()
        .find(|m| m.name() == "Value")
        .unwrap();
    value.field.iter().map(|f| f.name().to_owned()).collect()
}

fn type_name(field: &prost_types::FieldDescriptorProto) -> String {
    match field.r#type() {
        Type::Message | Type::Enum => field.type_name().to_owned(),
        other => other
            .as_str_name()
            .trim_start_matches("TYPE_")
            .to_lowercase(),
    }
}

/// One self-contained line per message, field, reserved range or name, enum and enum
/// value.
fn describe(file: &FileDescriptorProto) -> String {
    let package = file.package();
    let mut out = String::new();
    writeln!(out, "file {} package {package}", file.name()).unwrap();
    for message in &file.message_type {
        assert!(message.nested_type.is_empty() && message.enum_type.is_empty());
        let name = format!("{package}.{}", message.name());
        writeln!(out, "message {name}").unwrap();
        for field in &message.field {
            let label = match field.label() {
                Label::Repeated => "repeated ",
                _ if field.proto3_optional() => "optional ",
                _ => "",
            };
            let oneof = match field.oneof_index {
                Some(i) if !field.proto3_optional() => {
                    format!(" (oneof {})", message.oneof_decl[i as usize].name())
                }
                _ => String::new(),
            };
            writeln!(
                out,
                "field {name}.{} = {}: {label}{}{oneof}",
                field.name(),
                field.number(),
                type_name(field),
            )
            .unwrap();
        }
        for range in &message.reserved_range {
            let (start, end) = (range.start(), range.end());
            writeln!(out, "reserved {name} {start} to {}", end - 1).unwrap();
        }
        for reserved in &message.reserved_name {
            writeln!(out, "reserved {name} {reserved:?}").unwrap();
        }
    }
    for e in &file.enum_type {
        let name = format!("{package}.{}", e.name());
        writeln!(out, "enum {name}").unwrap();
        for value in &e.value {
            writeln!(out, "value {name}.{} = {}", value.name(), value.number()).unwrap();
        }
    }
    out
}

#[test]
fn descriptor_matches_golden() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/descriptor.txt");
    let actual = describe(&file());
    if std::env::var_os("SLUICE_BLESS").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    let lines: HashSet<&str> = actual.lines().collect();
    let removed: Vec<_> = golden.lines().filter(|l| !lines.contains(l)).collect();
    assert!(
        removed.is_empty(),
        "schema lines changed or removed, which breaks the v1 contract \
         (add fields instead; see the evolution rules in change_event.proto): {removed:#?}"
    );
    assert_eq!(
        actual, golden,
        "the schema changed: review the difference and re-run with SLUICE_BLESS=1"
    );
}

#[test]
fn numbers_and_names_are_unique() {
    let file = file();
    for message in &file.message_type {
        let mut numbers = HashSet::new();
        let mut names = HashSet::new();
        for field in &message.field {
            assert!(
                numbers.insert(field.number()),
                "{}.{}",
                message.name(),
                field.name()
            );
            assert!(
                names.insert(field.name()),
                "{}.{}",
                message.name(),
                field.name()
            );
            assert!(
                !(19_000..20_000).contains(&field.number()),
                "protobuf reserves 19000-19999"
            );
            for range in &message.reserved_range {
                assert!(!(range.start()..range.end()).contains(&field.number()));
            }
            assert!(!message.reserved_name.iter().any(|n| n == field.name()));
        }
    }
    for e in &file.enum_type {
        let numbers: HashSet<_> = e.value.iter().map(|v| v.number()).collect();
        assert_eq!(numbers.len(), e.value.len(), "{}", e.name());
    }
}

/// buf's STANDARD naming rules for enums: values prefixed with the enum's name in
/// UPPER_SNAKE_CASE, and a zero value named `<PREFIX>_UNSPECIFIED`.
#[test]
fn enums_follow_buf_style() {
    for e in &file().enum_type {
        let mut prefix = String::new();
        for (i, c) in e.name().chars().enumerate() {
            if c.is_uppercase() && i > 0 {
                prefix.push('_');
            }
            prefix.push(c.to_ascii_uppercase());
        }
        prefix.push('_');
        let zero = e.value.iter().find(|v| v.number() == 0).unwrap();
        assert_eq!(zero.name(), format!("{prefix}UNSPECIFIED"));
        for value in &e.value {
            assert!(value.name().starts_with(&prefix), "{}", value.name());
        }
    }
}

/// Every message, field, oneof, enum and enum value has a comment: the schema is the
/// documentation consumers in other languages get.
#[test]
fn every_element_is_documented() {
    let file = file();
    let info = file.source_code_info.as_ref().unwrap();
    let documented: HashSet<&[i32]> = info
        .location
        .iter()
        .filter(|l| !l.leading_comments().trim().is_empty())
        .map(|l| l.path.as_slice())
        .collect();
    let mut missing = Vec::new();
    // Paths: 4 = message_type, 2 = field, 8 = oneof_decl; 5 = enum_type, 2 = value.
    for (i, message) in file.message_type.iter().enumerate() {
        let i = i32::try_from(i).unwrap();
        if !documented.contains([4, i].as_slice()) {
            missing.push(message.name().to_owned());
        }
        for (j, field) in message.field.iter().enumerate() {
            if !documented.contains([4, i, 2, i32::try_from(j).unwrap()].as_slice()) {
                missing.push(format!("{}.{}", message.name(), field.name()));
            }
        }
        for (j, oneof) in message.oneof_decl.iter().enumerate() {
            let synthetic = oneof.name().starts_with('_');
            if !synthetic && !documented.contains([4, i, 8, i32::try_from(j).unwrap()].as_slice()) {
                missing.push(format!("{}.{}", message.name(), oneof.name()));
            }
        }
    }
    for (i, e) in file.enum_type.iter().enumerate() {
        let i = i32::try_from(i).unwrap();
        if !documented.contains([5, i].as_slice()) {
            missing.push(e.name().to_owned());
        }
        for (j, value) in e.value.iter().enumerate() {
            if !documented.contains([5, i, 2, i32::try_from(j).unwrap()].as_slice()) {
                missing.push(value.name().to_owned());
            }
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:?}");
}

#[test]
fn content_types_name_the_schemas_messages() {
    assert_eq!(CHANGE_EVENT_CONTENT_TYPE, content_type_of::<ChangeEvent>());
    assert_eq!(HEARTBEAT_CONTENT_TYPE, content_type_of::<Heartbeat>());
    assert_eq!(ChangeEvent::full_name(), "sluice.v1.ChangeEvent");
}

#[test]
fn value_kinds_are_unique_and_one_oneof() {
    let file = file();
    let value = file
        .message_type
        .iter()
        .find(|m| m.name() == "Value")
        .unwrap();
    assert_eq!(value.oneof_decl.len(), 1);
    assert!(value.field.iter().all(|f| f.oneof_index == Some(0)));
    let kinds: BTreeSet<_> = value_kinds().into_iter().collect();
    assert_eq!(kinds.len(), value.field.len());
}
