"""Self-signed TLS material for a secured local node, generated at start (never downloaded).

One CA, one node certificate (server and client auth; SAN 127.0.0.1 and localhost) and, for the
OpenSearch security plugin, an admin certificate (its admin DN may change the security index).
Keys are PKCS#8 PEM, which both engines read. Uses the `cryptography` package.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    node_cert: Path
    node_key: Path
    admin_cert: Path
    admin_key: Path
    node_dn: str   # RFC 4514, as the OpenSearch security plugin compares them
    admin_dn: str


def _name(common: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "colog-local")])


def _key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write(path: Path, cert, key=None) -> None:
    from cryptography.hazmat.primitives import serialization

    if key is None:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _issue(subject: str, key, ca_cert, ca_key, server: bool):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject)).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                     ExtendedKeyUsageOID.CLIENT_AUTH]),
                              critical=False))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def generate(directory: Path) -> TlsFiles:
    """A fresh CA, node and admin certificate under ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = _key()
    ca_cert = (x509.CertificateBuilder()
               .subject_name(_name("colog-local-ca")).issuer_name(_name("colog-local-ca"))
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                            crl_sign=True, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .sign(ca_key, hashes.SHA256()))
    node_key, admin_key = _key(), _key()
    node = _issue("colog-node", node_key, ca_cert, ca_key, server=True)
    admin = _issue("colog-admin", admin_key, ca_cert, ca_key, server=False)
    files = TlsFiles(directory / "colog-ca.pem", directory / "colog-node.pem",
                     directory / "colog-node-key.pem", directory / "colog-admin.pem",
                     directory / "colog-admin-key.pem", node.subject.rfc4514_string(),
                     admin.subject.rfc4514_string())
    _write(files.ca, ca_cert)
    _write(files.node_cert, node)
    _write(files.node_key, ca_cert, node_key)
    _write(files.admin_cert, admin)
    _write(files.admin_key, ca_cert, admin_key)
    return files


@dataclass(frozen=True)
class Security:
    """What a secured local node runs with: TLS on HTTP (and transport) from ``tls``, and one
    administrator ``user``. The password reaches the node as a hash (OpenSearch) or through
    stdin (Elasticsearch), never on a command line."""

    tls: TlsFiles
    user: str
    password: str

    def __repr__(self) -> str:  # keeps the password out of tracebacks and pytest output
        return f"Security(tls={self.tls.ca.parent}, user={self.user!r}, password=***)"
