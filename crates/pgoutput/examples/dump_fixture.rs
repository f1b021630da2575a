//! Prints the decoded messages of a fixture file: `cargo run --example dump_fixture -- FILE VERSION`.
//!
//! A debugging aid when (re)capturing fixtures with `scripts/capture-fixtures.sh`.

use bytes::Bytes;
use sluice_pgoutput::Decoder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(version)) = (args.next(), args.next()) else {
        return Err("usage: dump_fixture FILE PROTOCOL_VERSION".into());
    };
    let mut decoder = Decoder::new(version.parse()?)?;
    for (index, line) in std::fs::read_to_string(path)?.lines().enumerate() {
        let mut fields = line.split('\t');
        let (lsn, xid, hex) = (
            fields.next(),
            fields.next(),
            fields.next().ok_or("missing hex")?,
        );
        let bytes: Vec<u8> = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
            .collect::<Result<_, _>>()?;
        let message = decoder.decode(&Bytes::from(bytes))?;
        println!(
            "{index:3} {} {} {message:?}",
            lsn.unwrap_or("-"),
            xid.unwrap_or("-")
        );
    }
    Ok(())
}
