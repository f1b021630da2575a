#!/usr/bin/env python3
"""Captures raw replication-protocol CopyData payloads from a walsender (stdlib only).

Called by capture-fixtures.sh. The SQL interface returns bare pgoutput messages; this speaks
the streaming replication protocol itself (startup, SCRAM-SHA-256 or trust auth,
START_REPLICATION ... LOGICAL) so the fixtures also hold what a real client receives: XLogData
(`w`) frames with their WAL positions and server clock, and primary keepalives (`k`).

It also sends one standby status update (`r`) confirming the transaction's end LSN, with the
reply flag set, and records those exact bytes: the server answering with a keepalive and then
reporting that LSN as the slot's confirmed_flush_lsn shows the layout is right, and the Rust
test checks that `StandbyStatusUpdate::encode` produces the same bytes.

Usage: capture-walsender.py URL SLOT PUBLICATION OUTPUT_FILE
Output: one line per payload, `<direction> TAB <hex>`, direction `server` or `client`.
"""
import base64
import hashlib
import hmac
import os
import socket
import struct
import sys
import time
import urllib.parse


def connect(url):
    parts = urllib.parse.urlparse(url)
    sock = socket.create_connection((parts.hostname, parts.port or 5432), timeout=30)
    return sock, urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or ""), parts.path.lstrip("/")


class Connection:
    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def send(self, tag, body):
        self.sock.sendall(tag + struct.pack(">I", len(body) + 4) + body)

    def read_exact(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def receive(self):
        tag = self.read_exact(1)
        (length,) = struct.unpack(">I", self.read_exact(4))
        body = self.read_exact(length - 4)
        if tag == b"E":
            raise RuntimeError("server error: " + body.decode(errors="replace"))
        return tag, body


def authenticate(conn, user, password):
    while True:
        tag, body = conn.receive()
        if tag != b"R":
            raise RuntimeError(f"unexpected {tag!r} during authentication")
        (code,) = struct.unpack(">I", body[:4])
        if code == 0:
            return
        if code != 10:
            raise RuntimeError(f"unsupported authentication method {code}")
        # SCRAM-SHA-256 (RFC 5802 / 7677), without channel binding.
        nonce = base64.b64encode(os.urandom(18)).decode()
        client_first_bare = f"n=,r={nonce}"
        first = ("n,," + client_first_bare).encode()
        conn.send(b"p", b"SCRAM-SHA-256\0" + struct.pack(">I", len(first)) + first)
        tag, body = conn.receive()
        server_first = body[4:].decode()
        fields = dict(item.split("=", 1) for item in server_first.split(","))
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
        client_key = hmac.new(salted, b"Client Key", "sha256").digest()
        stored_key = hashlib.sha256(client_key).digest()
        final_without_proof = f"c=biws,r={fields['r']}"
        auth_message = f"{client_first_bare},{server_first},{final_without_proof}".encode()
        signature = hmac.new(stored_key, auth_message, "sha256").digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        conn.send(b"p", f"{final_without_proof},p={base64.b64encode(proof).decode()}".encode())
        conn.receive()  # SASLFinal (code 12); AuthenticationOk follows


def main():
    url, slot, publication, output = sys.argv[1:5]
    sock, user, password, database = connect(url)
    conn = Connection(sock)
    params = b"".join(k + b"\0" + v + b"\0" for k, v in [
        (b"user", user.encode()), (b"database", database.encode()), (b"replication", b"database")]) + b"\0"
    body = struct.pack(">I", 196608) + params
    conn.sock.sendall(struct.pack(">I", len(body) + 4) + body)
    authenticate(conn, user, password)
    while conn.receive()[0] != b"Z":
        pass
    query = (f"START_REPLICATION SLOT {slot} LOGICAL 0/0 "
             f"(proto_version '1', publication_names '{publication}', messages 'true')")
    conn.send(b"Q", query.encode() + b"\0")
    while conn.receive()[0] != b"W":  # CopyBothResponse
        pass

    lines, commit_end, keepalives, replied = [], None, 0, False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        tag, payload = conn.receive()
        if tag != b"d":
            continue
        lines.append(f"server\t{payload.hex()}")
        if payload[:1] == b"w" and payload[25:26] == b"C":
            (commit_end,) = struct.unpack(">Q", payload[25 + 10:25 + 18])
        if payload[:1] == b"k":
            keepalives += 1
            if replied:
                break  # the answer to our reply request
            if commit_end is not None:
                # Standby status update: written, flushed, applied, clock, reply requested.
                clock = int((time.time() - 946684800) * 1_000_000)
                update = b"r" + struct.pack(">QQQqB", commit_end, commit_end, commit_end, clock, 1)
                conn.send(b"d", update)
                lines.append(f"client\t{update.hex()}")
                replied = True
    if not replied or keepalives < 2:
        raise RuntimeError("did not see the data, a keepalive and the answer to the status update")
    conn.send(b"c", b"")  # CopyDone
    sock.close()
    with open(output, "w") as out:
        out.write("\n".join(lines) + "\n")
    print(f"{os.path.basename(output):<28} {len(lines):5d} payloads, confirmed {commit_end >> 32:X}/{commit_end & 0xFFFFFFFF:X}")


if __name__ == "__main__":
    main()
