//! Hostile input: random bytes, mutated valid values and crafted binary headers,
//! for every type the registry knows, in both formats. Decoding may fail, but it
//! must return (no panic, no huge allocation, no unbounded recursion), and a type
//! the registry does not know must never fail in text format.

use proptest::prelude::*;
use sluice_pgvalue::{TypeRegistry, Value, ValueError, decode_binary, decode_text};

/// The built-ins plus one of each kind of user type, including a domain cycle
/// (only a broken registry would have one) and containers of containers.
fn registry() -> TypeRegistry {
    let mut r = TypeRegistry::new();
    r.register_enum(90_000, "mood");
    r.register_array(90_001, "_mood", 90_000);
    r.register_domain(90_002, "posint", 23);
    r.register_array(90_003, "_posint", 90_002);
    r.register_range(90_004, "textrange", 25);
    r.register_multirange(90_005, "textmultirange", 90_004);
    r.register_composite(90_006, "pair");
    r.register_array(90_007, "_pair", 90_006);
    r.register_domain(90_008, "loop_a", 90_009);
    r.register_domain(90_009, "loop_b", 90_008);
    r.register_array(90_010, "array_of_arrays", 1007);
    r.register_range(90_011, "range_of_ranges", 3904);
    r.register_multirange(90_012, "bad_multirange", 23);
    r.register_base(90_013, "citext", b',');
    r
}

fn all_oids(reg: &TypeRegistry) -> Vec<u32> {
    let mut oids: Vec<u32> = reg.types().map(|t| t.oid).collect();
    oids.push(123_456); // unknown
    oids.sort_unstable();
    oids
}

/// Valid text of many types, to mutate.
const CORPUS: &[&str] = &[
    "{1,2,3}",
    "[0:1]={1,2}",
    "[1:2][3:4]={{1,2},{3,4}}",
    "{{\"a b\",NULL},{\"\\\\\",\"\\\"\"}}",
    "{}",
    "[1,5)",
    "(,)",
    "empty",
    "[\"a \"\"b\",\\c)",
    "{[1,3),[5,7)}",
    "{}",
    "2024-01-31 13:45:00.5+05:30",
    "0044-03-15 12:00:00-03:30:52 BC",
    "294276-12-31 23:59:59.999999",
    "infinity",
    "1 year 2 mons 3 days 04:05:06.789",
    "-2562047788:00:54.775808",
    "12:00:00+05:30",
    "123456789012345678901234567890.1234567890",
    "NaN",
    "-Infinity",
    "1.2345678901234568e+17",
    "\\x00ff",
    "\\001a\\\\",
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    "2001:db8::1/64",
    "::ffff:1.2.3.4",
    "08:00:2b:01:02:03:04:05",
    "-$92,233,720,368,547,758.08",
    "0101",
    "t",
    "\\200",
    "{\"a\": [1, 2]}",
];

/// Binary values and headers: containers with extreme counts and lengths.
fn crafted_binary() -> Vec<Vec<u8>> {
    let be = |xs: &[i32]| xs.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
    vec![
        be(&[1, 0, 23, i32::MAX, 1]),
        be(&[
            6, 1, 23, 65536, 1, 65536, 1, 65536, 1, 65536, 1, 65536, 1, 65536, 1,
        ]),
        be(&[1, 1, 23, 2, i32::MAX]),
        be(&[1, 1, 23, 2, 1, -1, 4, 1]),
        be(&[1, 1, 23, 1, 1, -2]),
        be(&[7, 0, 23]),
        be(&[-1, 0, 23]),
        be(&[0, 0, 23]),
        be(&[i32::MAX]),
        be(&[2, 1]),
        [vec![0x02], be(&[i32::MAX])].concat(),
        [vec![0x00], be(&[4, 1])].concat(),
        vec![0x01],
        vec![0xff, 0xff, 0x7f, 0xff, 0x40, 0x00, 0x3f, 0xff],
        vec![0x00, 0x01, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x27, 0x0f],
        vec![0x00, 0x01, 0x7f, 0xff, 0x00, 0x00, 0x00, 0x00, 0x27, 0x0f],
        vec![3, 128, 0, 16],
        vec![2, 33, 0, 4, 1, 2, 3, 4],
        vec![0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe],
        vec![0x80, 0, 0, 0, 0, 0, 0, 1],
    ]
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut XorShift, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(3) {
        let pos = rng.below(out.len() + 1);
        let special = b"{}[]()\",\\ :;-+.=NUL0123456789e\x80\xff";
        let byte = if rng.below(2) == 0 {
            special[rng.below(special.len())]
        } else {
            rng.next() as u8
        };
        match rng.below(4) {
            0 if pos < out.len() => out[pos] = byte,
            1 if pos < out.len() => {
                out.remove(pos);
            }
            2 => {
                let end = (pos + rng.below(8)).min(out.len());
                let chunk = out[pos..end].to_vec();
                out.splice(pos..pos, chunk);
            }
            _ => out.insert(pos, byte),
        }
    }
    out
}

fn check(reg: &TypeRegistry, oid: u32, input: &[u8]) {
    let text = decode_text(reg, oid, -1, input);
    if reg.get(oid).is_none() {
        assert!(
            matches!(text, Ok(Value::Other(_))),
            "unknown oid {oid} must decode to Other, got {text:?}"
        );
    }
    if let Err(ValueError::Malformed { input: shown, .. }) = &text {
        assert!(
            shown.chars().count() <= 64 * 10 + 3,
            "error input not truncated: {shown}"
        );
    }
    let _ = decode_binary(reg, oid, -1, input);
}

#[test]
fn random_and_mutated_input_never_panics() {
    let reg = registry();
    let oids = all_oids(&reg);
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let mut inputs: Vec<Vec<u8>> = crafted_binary();
    for _ in 0..60 {
        let len = rng.below(24);
        inputs.push((0..len).map(|_| rng.next() as u8).collect());
    }
    for seed in CORPUS {
        inputs.push(seed.as_bytes().to_vec());
        for _ in 0..12 {
            inputs.push(mutate(&mut rng, seed.as_bytes()));
        }
    }
    for oid in &oids {
        for input in &inputs {
            check(&reg, *oid, input);
        }
    }
    eprintln!(
        "adversarial: {} types x {} inputs, both formats",
        oids.len(),
        inputs.len()
    );
}

#[test]
fn deep_nesting_is_bounded() {
    let reg = registry();
    let deep = format!("{}1{}", "{".repeat(10_000), "}".repeat(10_000));
    assert!(decode_text(&reg, 1007, -1, deep.as_bytes()).is_err());
    // A domain cycle ends in an error, not a stack overflow.
    assert!(decode_text(&reg, 90_008, -1, b"1").is_err());
    assert!(decode_binary(&reg, 90_008, -1, &[0, 0, 0, 1]).is_err());
    assert!(!reg.supports_binary(90_008));
    // Arrays whose elements are arrays still terminate.
    assert!(decode_text(&reg, 90_010, -1, b"{\"{1,2}\",\"{3}\"}").is_ok());
}

#[test]
fn unknown_types_never_error_in_text() {
    let reg = TypeRegistry::new();
    for input in [&b"\xff\xfe"[..], b"", b"{", b"(1,2)"] {
        let v = decode_text(&reg, 999_999, -1, input).unwrap();
        assert!(matches!(v, Value::Other(ref o) if o.type_name.is_none()));
    }
    let mut reg = TypeRegistry::new();
    reg.register_base(90_013, "citext", b',');
    let v = decode_text(&reg, 90_013, -1, b"Hello").unwrap();
    assert_eq!(v.to_pg_text(), "Hello");
    assert!(matches!(v, Value::Other(ref o) if o.type_name.as_deref() == Some("citext")));
}

#[test]
fn errors_name_the_type_and_the_input() {
    let reg = TypeRegistry::new();
    let err = decode_text(&reg, 23, -1, b"12x").unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed text int4 value (not an integer in range): \"12x\""
    );
    let err = decode_text(&reg, 1007, -1, b"{1,x}").unwrap_err();
    assert!(err.to_string().contains("int4"), "{err}");
    let err = decode_binary(&reg, 600, -1, &[0; 16]).unwrap_err();
    assert!(
        matches!(err, ValueError::UnsupportedBinary { type_oid: 600, .. }),
        "{err}"
    );
    let long = "9".repeat(500);
    let err = decode_text(&reg, 21, -1, long.as_bytes()).unwrap_err();
    assert!(err.to_string().len() < 200, "{err}");
}

proptest! {
    // PROPTEST_CASES overrides the default number of cases.
    #![proptest_config(ProptestConfig { cases: crate::cases(2000), ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_for_any_known_type(index in any::<prop::sample::Index>(), bytes in prop::collection::vec(any::<u8>(), 0..48)) {
        let reg = registry();
        let oids = all_oids(&reg);
        check(&reg, oids[index.index(oids.len())], &bytes);
    }
}
