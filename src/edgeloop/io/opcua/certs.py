"""Our application certificate for Basic256Sha256, generated on first use and kept in the data dir."""

from __future__ import annotations

import socket
from pathlib import Path

from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography.x509.oid import ExtendedKeyUsageOID

APP_URI = "urn:edgeloop:client"


async def client_certificate(directory: Path, app_uri: str = APP_URI, server: bool = False) -> tuple[Path, Path]:
    """(certificate, private key) in `directory`, made (valid one year) when missing or invalid."""
    directory.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, at connect
    name = "server" if server else "client"
    cert, key = directory / f"{name}-cert.der", directory / f"{name}-key.pem"
    use = [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
    await setup_self_signed_certificate(key, cert, app_uri, socket.gethostname(), use,
                                        {"commonName": f"edgeloop {name}", "organizationName": "edgeloop"})  # fmt: skip
    return cert, key
