#!/usr/bin/env python3
"""Writes the fuzz seed corpus (a handful of files) from the captured fixtures.

Run from the crate root: python3 fuzz/make-seeds.py
"""
import pathlib
import struct

root = pathlib.Path(__file__).resolve().parent.parent
fixtures = root / "tests" / "fixtures"


def messages(name):
    return [bytes.fromhex(line.split("\t")[2]) for line in (fixtures / name).read_text().splitlines() if line]


basic, stream, twophase = messages("basic_v1.hex"), messages("stream_v2.hex"), messages("twophase_v3.hex")
xlog = b"w" + struct.pack(">QQq", 0x2329ED8, 0x2329ED8, 0) + basic[4]
v4_abort = b"A" + struct.pack(">IIQq", 818, 819, 0x23B6488, 849114974782170)
# selector byte: bits 0-1 = protocol version - 1, bit 7 = start inside a streamed block
decode_seeds = {
    "begin_v1": b"\x00" + basic[0],
    "relation_v1": b"\x00" + basic[2],
    "insert_v1": b"\x00" + basic[4],
    "update_key_v1": b"\x00" + basic[10],
    "truncate_v1": b"\x00" + basic[51],
    "message_v1": b"\x00" + basic[35],
    "stream_insert_v2": b"\x81" + stream[2],
    "stream_abort_v2": b"\x01" + stream[41],
    "stream_abort_v4": b"\x03" + v4_abort,
    "rollback_prepared_v3": b"\x02" + twophase[9],
    "xlogdata_insert": b"\x00" + xlog,
}
session = b"\x01" + b"".join(bytes([len(m)]) + m for m in stream[:6] + stream[41:42])


def relation_types(message):
    """The column type OIDs of a protocol-1 Relation message."""
    at = 5
    for _ in range(2):  # namespace, name
        at = message.index(b"\0", at) + 1
    at += 1  # replica identity
    (count,) = struct.unpack_from(">H", message, at)
    at += 2
    types = []
    for _ in range(count):
        at = message.index(b"\0", at + 1) + 1  # flags, name
        types.append(struct.unpack_from(">I", message, at)[0])
        at += 8
    return types


def tuple_values(message):
    """The (kind, bytes) of each column of a protocol-1 Insert message."""
    at = 6  # tag, relation id, 'N'
    (count,) = struct.unpack_from(">H", message, at)
    at += 2
    values = []
    for _ in range(count):
        kind = message[at : at + 1]
        at += 1
        if kind in (b"t", b"b"):
            (length,) = struct.unpack_from(">i", message, at)
            values.append((kind, message[at + 4 : at + 4 + length]))
            at += 4 + length
    return values


# typed_values: selector (bit 0: binary), type OID, value; the first insert's short values,
# in text and in binary, typed by the fixture's Relation message.
typed_seeds = {}
for selector, messages_of in ((0, basic), (1, messages("basic_v1_binary.hex"))):
    types = relation_types(messages_of[2])
    for oid, (kind, value) in zip(types, tuple_values(messages_of[3])):
        if len(value) <= 64:
            name = f"{'binary' if selector else 'text'}_{oid}"
            typed_seeds[name] = bytes([selector]) + struct.pack(">I", oid) + value
for directory, seeds in (
    ("decode", decode_seeds),
    ("decode_session", {"stream_block_v2": session}),
    ("typed_values", typed_seeds),
):
    out = root / "fuzz" / "seeds" / directory
    out.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        (out / name).write_bytes(data)
        print(f"{directory}/{name}: {len(data)} bytes")
