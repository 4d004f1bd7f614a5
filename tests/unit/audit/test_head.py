"""Signed chain heads: published by the agent, checked by `audit verify --checkpoint`, so a cut tail is found."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.unit.audit.builders import lines, rewrite
from typer.testing import CliRunner

from edgeloop.agent.service import make_learner, make_policy, site_key
from edgeloop.agent.site import SiteAgent
from edgeloop.audit import AuditError, AuditLog
from edgeloop.audit.head import read_head, sign_head
from edgeloop.cli.audit import audit_app
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import SqliteStore
from edgeloop.settings import load_settings

runner = CliRunner()


def test_a_head_signed_by_another_key_is_refused(key: Ed25519PrivateKey) -> None:
    forged = sign_head("s1", 3, "ab" * 32, 1.0, Ed25519PrivateKey.generate())

    with pytest.raises(AuditError, match="signature"):
        read_head(orjson.dumps(forged), key.public_key())


def test_a_head_whose_count_was_edited_is_refused(key: Ed25519PrivateKey) -> None:
    doc = {**sign_head("s1", 30, "ab" * 32, 1.0, key), "records": 3}

    with pytest.raises(AuditError, match="signature"):
        read_head(orjson.dumps(doc), key.public_key())


@pytest.fixture
def published(tmp_path: Path) -> tuple[Path, Path, Loopback]:
    """A site agent whose log has 12 records, and the head it published then (the file and the broker copy)."""
    cfg = load_settings(None, agent={"site": "s1", "data_dir": tmp_path}).agent
    store = SqliteStore(cfg.db_path, "s1")
    link = Loopback()
    with AuditLog.open(cfg.audit_dir, site_key(cfg), checkpoint_every=5) as log:
        agent = SiteAgent(cfg, link, store, make_learner(), make_policy(cfg), None, log)
        log.append_many([("decision", {"i": i}, float(i)) for i in range(10)])
        asyncio.run(agent.publish_audit_head())
    store.close()
    kept = tmp_path / "kept-head.json"
    kept.write_bytes(cfg.audit_head_path.read_bytes())
    return cfg.audit_dir, kept, link


def test_the_agent_publishes_its_signed_head_retained(published: tuple[Path, Path, Loopback]) -> None:
    _, kept, link = published

    [message] = [m for m in link.sent if m.topic == "edgeloop/v1/s1/_agent/audit/head"]

    assert message.retain
    assert message.payload == kept.read_bytes()
    assert orjson.loads(kept.read_bytes())["records"] == 12  # 10 decisions and 2 checkpoints


def test_verify_with_a_kept_head_catches_records_cut_from_the_end(published: tuple[Path, Path, Loopback]) -> None:
    audit_dir, kept, _ = published
    whole = runner.invoke(
        audit_app,
        [
            "verify",
            "--data-dir",
            str((audit_dir).parent.parent),
            "--site",
            (audit_dir).parent.name,
            "--checkpoint",
            str(kept),
        ],
    )
    rewrite(audit_dir, lines(audit_dir)[:9])  # a cut tail: what remains still chains and verifies alone

    alone = runner.invoke(
        audit_app, ["verify", "--data-dir", str(audit_dir.parent.parent), "--site", audit_dir.parent.name]
    )
    cut = runner.invoke(
        audit_app,
        [
            "verify",
            "--data-dir",
            str((audit_dir).parent.parent),
            "--site",
            (audit_dir).parent.name,
            "--checkpoint",
            str(kept),
        ],
    )

    assert whole.exit_code == 0, whole.output
    assert alone.exit_code == 0
    assert cut.exit_code == 1
    assert "missing" in cut.stdout


def test_verify_refuses_a_head_not_signed_by_the_trusted_key(
    published: tuple[Path, Path, Loopback], tmp_path: Path
) -> None:
    audit_dir, _, _ = published
    forged = tmp_path / "forged.json"
    forged.write_bytes(orjson.dumps(sign_head("s1", 1, "ab" * 32, 1.0, Ed25519PrivateKey.generate())))

    result = runner.invoke(
        audit_app,
        [
            "verify",
            "--data-dir",
            str((audit_dir).parent.parent),
            "--site",
            (audit_dir).parent.name,
            "--checkpoint",
            str(forged),
        ],
    )

    assert result.exit_code == 2
    assert "signature" in result.stderr
