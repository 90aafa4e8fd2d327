"""A throwaway certificate authority for the lab's HTTPS endpoints (API Gateway custom domains, HTTPS listeners).

The lab signs a server certificate for the names each endpoint serves. Route 53 health checks do not
validate certificates (as in AWS); clients that do, such as the drill's HTTP probe, are given the lab's
CA in the drill request. An HTTPS listener's certificate is imported into ACM (``issue``), so the
listener presents what ACM holds for it.
"""

from __future__ import annotations

import datetime
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass(frozen=True)
class Issued:
    """A server certificate and its key, PEM (what ACM's ImportCertificate takes)."""

    certificate_pem: bytes
    key_pem: bytes


class LabCertificates:
    def __init__(self, names: list[str], work_dir: Path):
        self._now = datetime.datetime.now(datetime.UTC)
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        self._ca = (
            x509.CertificateBuilder()
            .subject_name(_name("drillkit lab CA"))
            .issuer_name(_name("drillkit lab CA"))
            .public_key(self._ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._now - datetime.timedelta(minutes=5))
            .not_valid_after(self._now + datetime.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self._ca_key, hashes.SHA256())
        )
        self.ca_pem = self._ca.public_bytes(serialization.Encoding.PEM).decode()
        self.work_dir = work_dir
        work_dir.mkdir(parents=True, exist_ok=True)
        (work_dir / "lab-ca.pem").write_text(self.ca_pem)
        self._contexts: dict[tuple[str, ...], ssl.SSLContext] = {}
        self.cert_file = self._write("lab-server.pem", self.issue(names))

    def issue(self, names: list[str]) -> Issued:
        """A server certificate for ``names`` (the first is its subject), signed by the lab's CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        server = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0].rstrip(".")))
            .issuer_name(self._ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._now - datetime.timedelta(minutes=5))
            .not_valid_after(self._now + datetime.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n.rstrip(".")) for n in names]), critical=False)
            .sign(self._ca_key, hashes.SHA256())
        )
        return Issued(
            certificate_pem=server.public_bytes(serialization.Encoding.PEM),
            key_pem=key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )

    def _write(self, file_name: str, issued: Issued) -> Path:
        path = self.work_dir / file_name
        path.write_bytes(issued.certificate_pem + issued.key_pem)
        return path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file)
        return context

    def context_for(self, certificate_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
        """A server context presenting one certificate (an HTTPS listener's, as ACM holds it)."""
        key = (certificate_pem.decode().strip(),)
        if key not in self._contexts:
            path = self._write(f"listener-{len(self._contexts)}.pem", Issued(certificate_pem, key_pem))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(path)
            self._contexts[key] = context
        return self._contexts[key]
