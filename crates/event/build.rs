//! Generates the Rust types of Sluice's event contract from `proto/` at the repository
//! root, without a system `protoc`: protox (a protobuf compiler written in Rust) parses
//! and checks the `.proto` files into a `FileDescriptorSet`, and prost-build turns that
//! into Rust. The generated code lives in `OUT_DIR` only; it is never edited nor
//! committed.

use std::error::Error;
use std::path::PathBuf;

/// The `.proto` files of the contract, relative to the proto root.
const PROTO_FILES: &[&str] = &["sluice/v1/change_event.proto"];

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // crates/event -> the repository root's proto/.
    let proto_root = manifest_dir.join("../../proto");
    println!("cargo::rerun-if-changed={}", proto_root.display());

    let files: Vec<PathBuf> = PROTO_FILES.iter().map(|f| proto_root.join(f)).collect();
    let mut compiler = protox::Compiler::new([&proto_root])?;
    // Source info carries the comments, which prost-build turns into doc comments and
    // the contract tests check for.
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(&files).map_err(|e| format!("{e:?}"))?;

    // Embedded in the crate as `FILE_DESCRIPTOR_SET` for reflection and contract tests.
    std::fs::write(
        out_dir.join("sluice.fds.binpb"),
        compiler.encode_file_descriptor_set(),
    )?;

    prost_build::Config::new()
        // Implements `prost::Name`, so the full names in headers come from the schema.
        .enable_type_names()
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
