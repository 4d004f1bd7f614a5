"""`bench fleet` and `bench scale` refuse a `--store` they cannot use before starting a broker or an agent: a URL
that is not PostgreSQL's, or a server that does not answer (exit code 2, the reason on stderr, no traceback)."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from edgeloop.cli import app


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("bench", ["fleet", "scale"])
def test_a_store_that_is_not_postgresql_is_refused_with_the_reason(bench: str) -> None:
    result = CliRunner().invoke(app, ["bench", bench, "--store", "sqlite:///x.db"])

    assert result.exit_code == 2
    assert "--store takes a postgresql://" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("bench", ["fleet", "scale"])
def test_a_postgresql_server_that_does_not_answer_is_refused_with_the_reason(bench: str) -> None:
    url = f"postgresql://nobody@127.0.0.1:{closed_port()}/test"

    result = CliRunner().invoke(app, ["bench", bench, "--store", url])

    assert result.exit_code == 2
    assert "cannot open the PostgreSQL store" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
