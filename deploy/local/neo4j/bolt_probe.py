#!/usr/bin/env python3
"""A minimal Bolt client (Python standard library only) for the local stack's Neo4j.

It does the Bolt handshake, HELLO (and LOGON on Bolt 5.1+, scheme "none": the local server
has auth disabled), then runs each query as an auto-commit RUN + PULL and prints the
records. Exit status 0 only when every step got SUCCESS.

    bolt_probe.py [--host H] [--port P] [--bolt 4.4] [--expect 1] [-q QUERY]...

--bolt lists the versions proposed, best first (at most 4 entries; "5.8-5.0" is a range).
--expect V: the first value of the first record of the last query must print as V.
With no query it runs `RETURN 1 AS n` and expects 1 (the readiness check).
"""
import argparse
import json
import socket
import struct
import sys


class Struct:
    def __init__(self, tag, fields):
        self.tag, self.fields = tag, fields

    def to_json(self):
        names = {0x4E: "Node", 0x52: "Relationship", 0x72: "UnboundRelationship", 0x50: "Path"}
        return {names.get(self.tag, "struct 0x%02X" % self.tag): self.fields}


def pack(v):
    if v is None:
        return b"\xC0"
    if v is True:
        return b"\xC3"
    if v is False:
        return b"\xC2"
    if isinstance(v, int):
        if -16 <= v < 128:
            return struct.pack(">b", v)
        for marker, fmt, lo, hi in ((0xC8, ">b", -2**7, 2**7), (0xC9, ">h", -2**15, 2**15),
                                    (0xCA, ">i", -2**31, 2**31), (0xCB, ">q", -2**63, 2**63)):
            if lo <= v < hi:
                return bytes([marker]) + struct.pack(fmt, v)
        raise ValueError("integer out of range")
    if isinstance(v, float):
        return b"\xC1" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode("utf-8")
        return _header(len(b), 0x80, 0xD0) + b
    if isinstance(v, (list, tuple)):
        return _header(len(v), 0x90, 0xD4) + b"".join(pack(x) for x in v)
    if isinstance(v, dict):
        return _header(len(v), 0xA0, 0xD8) + b"".join(pack(k) + pack(x) for k, x in v.items())
    raise TypeError("cannot pack %r" % (v,))


def _header(n, tiny, marker8):
    if n < 16:
        return bytes([tiny + n])
    if n < 2**8:
        return bytes([marker8]) + struct.pack(">B", n)
    if n < 2**16:
        return bytes([marker8 + 1]) + struct.pack(">H", n)
    return bytes([marker8 + 2]) + struct.pack(">I", n)


class Unpacker:
    def __init__(self, data):
        self.d, self.i = data, 0

    def take(self, n):
        b = self.d[self.i:self.i + n]
        if len(b) != n:
            raise ValueError("truncated PackStream value")
        self.i += n
        return b

    def num(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def value(self):
        m = self.take(1)[0]
        hi = m & 0xF0
        if m < 0x80:
            return m
        if m >= 0xF0:
            return m - 0x100
        if hi == 0x80:
            return self.take(m & 0x0F).decode("utf-8")
        if hi == 0x90:
            return [self.value() for _ in range(m & 0x0F)]
        if hi == 0xA0:
            return self.map(m & 0x0F)
        if hi == 0xB0:
            tag = self.take(1)[0]
            return Struct(tag, [self.value() for _ in range(m & 0x0F)])
        simple = {0xC0: None, 0xC2: False, 0xC3: True}
        if m in simple:
            return simple[m]
        ints = {0xC8: ">b", 0xC9: ">h", 0xCA: ">i", 0xCB: ">q", 0xC1: ">d"}
        if m in ints:
            return self.num(ints[m])
        sizes = {0: ">B", 1: ">H", 2: ">I"}
        if 0xCC <= m <= 0xCE:
            return self.take(self.num(sizes[m - 0xCC]))
        if 0xD0 <= m <= 0xD2:
            return self.take(self.num(sizes[m - 0xD0])).decode("utf-8")
        if 0xD4 <= m <= 0xD6:
            return [self.value() for _ in range(self.num(sizes[m - 0xD4]))]
        if 0xD8 <= m <= 0xDA:
            return self.map(self.num(sizes[m - 0xD8]))
        raise ValueError("unknown PackStream marker 0x%02X" % m)

    def map(self, n):
        out = {}
        for _ in range(n):
            k = self.value()
            out[k] = self.value()
        return out


SUCCESS, RECORD, IGNORED, FAILURE = 0x70, 0x71, 0x7E, 0x7F


class Bolt:
    def __init__(self, host, port, proposals, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.sock.sendall(b"\x60\x60\xB0\x17" + b"".join(proposals + [b"\0\0\0\0"] * (4 - len(proposals))))
        agreed = self.recv(4)
        self.version = (agreed[3], agreed[2])
        if self.version == (0, 0):
            raise RuntimeError("server agreed to none of the proposed Bolt versions")

    def recv(self, n):
        buf = b""
        while len(buf) < n:
            part = self.sock.recv(n - len(buf))
            if not part:
                raise RuntimeError("server closed the connection")
            buf += part
        return buf

    def send(self, tag, *fields):
        body = bytes([0xB0 + len(fields), tag]) + b"".join(pack(f) for f in fields)
        out = b""
        for i in range(0, len(body), 0xFFFF):
            chunk = body[i:i + 0xFFFF]
            out += struct.pack(">H", len(chunk)) + chunk
        self.sock.sendall(out + b"\0\0")

    def read(self):
        data = b""
        while True:
            (size,) = struct.unpack(">H", self.recv(2))
            if size == 0:
                if data:
                    break
                continue  # NOOP keep-alive chunk between messages
            data += self.recv(size)
        msg = Unpacker(data).value()
        if not isinstance(msg, Struct):
            raise RuntimeError("not a Bolt message: %r" % (msg,))
        return msg.tag, msg.fields

    def expect_success(self, what):
        tag, fields = self.read()
        if tag != SUCCESS:
            meta = fields[0] if fields else {}
            raise RuntimeError("%s: %s %s" % (what, {FAILURE: "FAILURE", IGNORED: "IGNORED"}.get(tag, hex(tag)), meta))
        return fields[0]

    def hello(self):
        agent = "sluice-bolt-probe/1"
        extra = {"user_agent": agent}
        if self.version >= (5, 3):
            extra["bolt_agent"] = {"product": agent}
        if self.version < (5, 1):
            extra["scheme"] = "none"
        self.send(0x01, extra)
        meta = self.expect_success("HELLO")
        if self.version >= (5, 1):
            self.send(0x6A, {"scheme": "none"})
            self.expect_success("LOGON")
        return meta

    def run(self, query):
        self.send(0x10, query, {}, {})
        head = self.expect_success("RUN")
        self.send(0x3F, {"n": -1})
        records = []
        while True:
            tag, fields = self.read()
            if tag == RECORD:
                records.append(fields[0])
            elif tag == SUCCESS:
                return head.get("fields", []), records, fields[0]
            else:
                raise RuntimeError("PULL: %s %s" % (hex(tag), fields[0] if fields else {}))

    def close(self):
        try:
            self.send(0x02)
        finally:
            self.sock.close()


def proposals(spec):
    out = []
    for item in spec.split(","):
        hi, _, lo = item.strip().partition("-")
        major, minor = (int(x) for x in hi.split("."))
        low_minor = int(lo.split(".")[1]) if lo else minor
        out.append(bytes([0, minor - low_minor, minor, major]))
    if not 1 <= len(out) <= 4:
        raise SystemExit("--bolt takes 1 to 4 versions")
    return out


def jsonable(v):
    if isinstance(v, Struct):
        return jsonable(v.to_json())
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    if isinstance(v, bytes):
        return v.hex()
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7687)
    ap.add_argument("--bolt", default="5.8-5.0,4.4", help="proposed versions, best first")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--expect", help="the first value of the last query's first record")
    ap.add_argument("-q", "--query", action="append", default=[])
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    queries = args.query
    if not queries:
        queries, args.expect = ["RETURN 1 AS n"], args.expect or "1"
    say = (lambda *a: None) if args.quiet else print
    try:
        bolt = Bolt(args.host, args.port, proposals(args.bolt), args.timeout)
        say("bolt %d.%d" % bolt.version)
        meta = bolt.hello()
        say("server %s" % meta.get("server", "?"))
        last = []
        for q in queries:
            fields, last, summary = bolt.run(q)
            say("query %s" % q)
            say("fields %s" % json.dumps(fields))
            for r in last:
                say("record %s" % json.dumps(jsonable(r)))
            say("summary %s" % json.dumps(jsonable(summary)))
        bolt.close()
    except (OSError, RuntimeError, ValueError) as e:
        print("bolt_probe: %s:%d: %s" % (args.host, args.port, e), file=sys.stderr)
        return 1
    if args.expect is not None:
        got = json.dumps(jsonable(last[0][0])) if last and last[0] else None
        if got != args.expect:
            print("bolt_probe: expected %s, got %s" % (args.expect, got), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
