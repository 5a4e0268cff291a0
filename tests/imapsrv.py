"""A small IMAP4rev1 server over TLS on loopback, for the bounce mailbox tests.

It speaks what the bounce job uses (RFC 3501): CAPABILITY, LOGIN, SELECT, UID SEARCH
UNSEEN, UID FETCH with a partial ``BODY.PEEK[]<0.n>``, UID STORE +FLAGS, LOGOUT; one
folder, messages by UID. The certificate is self-signed for 127.0.0.1, made per test.
"""

from __future__ import annotations

import datetime
import re
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.livesrv import free_port


@dataclass
class Folder:
    user: str = "bounces"
    password: str = "geheim-und-lang"
    messages: dict[int, bytes] = field(default_factory=dict)
    flags: dict[int, set[str]] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)  # the FETCH items asked for

    def add(self, data: bytes) -> int:
        uid = max(self.messages, default=0) + 1
        self.messages[uid], self.flags[uid] = data, set()
        return uid


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A key and a certificate for 127.0.0.1 (PEM files in ``directory``)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = directory / "imap.key", directory / "imap.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


_COMMAND = re.compile(rb"^(\S+) (\S+)(?: (.*))?$")


class _Handler(socketserver.StreamRequestHandler):
    folder: Folder

    def say(self, line: bytes) -> None:
        self.wfile.write(line + b"\r\n")

    def handle(self) -> None:
        self.say(b"* OK IMAP4rev1 test server ready")
        for raw in self.rfile:
            found = _COMMAND.match(raw.rstrip(b"\r\n"))
            if found is None:
                self.say(b"* BAD what?")
                continue
            tag, command, args = found.group(1), found.group(2).upper(), found.group(3) or b""
            if not self.answer(tag, command, args):
                return

    def answer(self, tag: bytes, command: bytes, args: bytes) -> bool:
        if command == b"CAPABILITY":
            self.say(b"* CAPABILITY IMAP4rev1")
        elif command == b"LOGIN":
            user, password = (a.strip(b'"').decode() for a in args.split(b" ", 1))
            if (user, password) != (self.folder.user, self.folder.password):
                self.say(tag + b" NO [AUTHENTICATIONFAILED] Anmeldung fehlgeschlagen")
                return True
        elif command == b"SELECT":
            self.say(b"* %d EXISTS" % len(self.folder.messages))
            self.say(b"* OK [UIDVALIDITY 1] UIDs valid")
        elif command == b"UID":
            self.uid(args)
        elif command == b"LOGOUT":
            self.say(b"* BYE bye")
            self.say(tag + b" OK LOGOUT completed")
            return False
        else:
            self.say(tag + b" BAD unknown command")
            return True
        self.say(tag + b" OK done")
        return True

    def uid(self, args: bytes) -> None:
        verb, _, rest = args.partition(b" ")
        verb = verb.upper()
        if verb == b"SEARCH":
            unseen = [
                u for u in sorted(self.folder.messages) if "\\Seen" not in self.folder.flags[u]
            ]
            self.say(b"* SEARCH" + b"".join(b" %d" % u for u in unseen))
        elif verb == b"FETCH":
            uid, _, items = rest.partition(b" ")
            self.folder.fetched.append(items.decode())
            cap = re.search(rb"<0\.(\d+)>", items)
            data = self.folder.messages[int(uid)][: int(cap.group(1)) if cap else None]
            self.wfile.write(
                b"* %d FETCH (UID %d BODY[]<0> {%d}\r\n" % (int(uid), int(uid), len(data))
            )
            self.wfile.write(data + b")\r\n")
        elif verb == b"STORE":
            uid, _, change = rest.partition(b" ")
            flags = re.findall(rb"\\\w+", change)
            self.folder.flags[int(uid)].update(f.decode() for f in flags)
            self.say(b"* %d FETCH (UID %d)" % (int(uid), int(uid)))


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def imap_server(folder: Folder, directory: Path) -> Iterator[tuple[int, Path]]:
    """Serve ``folder`` over implicit TLS; yields the port and the certificate file."""
    key_file, cert_file = self_signed(directory)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)
    handler = type("Handler", (_Handler,), {"folder": folder})
    server = _Server(("127.0.0.1", free_port()), handler)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], cert_file
    finally:
        server.shutdown()
        server.server_close()
