"""The local console's admin token is kept and reused, not minted at each start; the files that hold secrets
are readable only by their owner."""

from __future__ import annotations

import stat
from pathlib import Path

from edgeloop.api import tokens
from edgeloop.api.serve import RENEW_BEFORE_S, console_token
from edgeloop.io.store import SqliteOperatorStore
from edgeloop.settings import Settings


def _site(tmp_path: Path) -> Settings:
    settings = Settings(agent={"site": "plant1", "data_dir": tmp_path})
    SqliteOperatorStore.open(settings.agent.db_path).close()
    return settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_second_start_reuses_the_kept_token(tmp_path: Path) -> None:
    settings = _site(tmp_path)
    first = console_token(settings, "edgeloop serve", now=1000.0)
    again = console_token(settings, "edgeloop serve", now=2000.0)
    assert first.fresh
    assert not again.fresh
    assert again.token == first.token
    assert _mode(first.path) == 0o600
    with SqliteOperatorStore.open(settings.agent.db_path) as store:
        assert len(tokens.listing(store)) == 1


def test_a_token_near_its_expiry_or_revoked_is_replaced(tmp_path: Path) -> None:
    settings = _site(tmp_path)
    first = console_token(settings, "edgeloop serve", now=0.0)
    late = console_token(settings, "edgeloop serve", now=tokens.TTL_S - RENEW_BEFORE_S + 1)
    assert late.fresh
    assert late.token != first.token
    with SqliteOperatorStore.open(settings.agent.db_path) as store:
        assert tokens.holder(store, first.token, now=tokens.TTL_S - RENEW_BEFORE_S + 2) is None  # the old one ended
        tokens.revoke(store, tokens.id_of(late.token), now=10.0)
    assert console_token(settings, "edgeloop serve", now=20.0).fresh


def test_the_store_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "site" / "edgeloop.db"
    SqliteOperatorStore.open(path).close()
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    path.chmod(0o644)
    SqliteOperatorStore.open(path).close()
    assert _mode(path) == 0o600
