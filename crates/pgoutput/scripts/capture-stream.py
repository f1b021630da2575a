#!/usr/bin/env python3
"""Captures one transaction's replication stream from a walsender into a file, for the
decoder benchmark (stdlib only; authentication is shared with capture-walsender.py).

Usage: capture-stream.py URL SLOT PUBLICATION PROTO_VERSION OUTPUT_FILE

Reads from the slot's start until the first Commit, and writes every CopyData payload the
server sent (XLogData and keepalives, exactly as received) as a 4-byte big-endian length
followed by the payload. The benchmark (`benches/decode.rs --stream FILE`) replays them.
"""
import importlib.util
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("walsender", os.path.join(here, "capture-walsender.py"))
walsender = importlib.util.module_from_spec(spec)
spec.loader.exec_module(walsender)


class BufferedConnection(walsender.Connection):
    """The same protocol, with an amortised buffer for millions of messages."""

    def __init__(self, sock):
        super().__init__(sock)
        self.buffer = bytearray()
        self.pos = 0

    def read_exact(self, n):
        while len(self.buffer) - self.pos < n:
            if self.pos > (1 << 20):
                del self.buffer[: self.pos]
                self.pos = 0
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buffer += chunk
        data = bytes(self.buffer[self.pos : self.pos + n])
        self.pos += n
        return data


def main():
    url, slot, publication, proto, output = sys.argv[1:6]
    sock, user, password, database = walsender.connect(url)
    sock.settimeout(300)
    conn = BufferedConnection(sock)
    params = b"".join(k + b"\0" + v + b"\0" for k, v in [
        (b"user", user.encode()), (b"database", database.encode()), (b"replication", b"database")]) + b"\0"
    body = struct.pack(">I", 196608) + params
    conn.sock.sendall(struct.pack(">I", len(body) + 4) + body)
    walsender.authenticate(conn, user, password)
    while conn.receive()[0] != b"Z":
        pass
    conn.send(b"Q", (f"START_REPLICATION SLOT {slot} LOGICAL 0/0 "
                     f"(proto_version '{proto}', publication_names '{publication}')").encode() + b"\0")
    while conn.receive()[0] != b"W":  # CopyBothResponse
        pass
    frames = 0
    with open(output, "wb") as out:
        while True:
            tag, payload = conn.receive()
            if tag != b"d":
                continue
            out.write(struct.pack(">I", len(payload)))
            out.write(payload)
            frames += 1
            if payload[:1] == b"w" and payload[25:26] == b"C":
                break
    conn.send(b"c", b"")  # CopyDone
    sock.close()
    print(f"captured {frames} payloads into {output}")


if __name__ == "__main__":
    main()
