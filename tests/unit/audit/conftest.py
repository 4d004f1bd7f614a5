"""Keys for the audit tests: generated in memory, one per test."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def public_key(key: Ed25519PrivateKey) -> Ed25519PublicKey:
    return key.public_key()
