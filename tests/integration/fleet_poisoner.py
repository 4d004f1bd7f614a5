"""A site that publishes garbage knowledge, run as its own process by test_fleet_knowledge.py.

Usage: python fleet_poisoner.py <broker url> <site prefix>. Publishes, retained: a validly signed summary with
absurd statistics, a payload with NaN, a tampered summary, and a summary of an unknown schema version.
"""

from __future__ import annotations

import asyncio
import sys

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeloop.fleet.envelope import seal
from edgeloop.fleet.knowledge import KnowledgeSummary, MetricSummary
from edgeloop.fleet.share import knowledge_topic
from edgeloop.io.mqtt import MqttClient

ABSURD = MetricSummary(devices=1_000_000, level=1e9, scale=1e6, rel_scale=1e3, spread_abs=0.0, spread_rel=0.0)
METRICS = ("speed", "current", "vibration", "bearing_temp", "flow", "pressure")


def garbage(prefix: str) -> dict[str, bytes]:
    key = Ed25519PrivateKey.generate()
    evil = KnowledgeSummary(f"{prefix}-evil", "pump", 0.0, dict.fromkeys(METRICS, ABSURD)).to_json()
    tampered = seal(KnowledgeSummary(f"{prefix}-forged", "pump", 0.0, {"vibration": ABSURD}).to_json(), key)
    return {
        f"{prefix}-evil": seal(evil, key),
        f"{prefix}-nan": b'{"body": {"schema": "edgeloop.knowledge/1", "scale": NaN}, "key": "", "sig": ""}',
        f"{prefix}-forged": tampered.replace(b'"devices":1000000', b'"devices":999999'),
        f"{prefix}-schema": seal({**evil, "schema": "edgeloop.knowledge/0", "site": f"{prefix}-schema"}, key),
    }


async def main(url: str, prefix: str) -> None:
    async with MqttClient(url, f"poisoner-{prefix}") as client:
        for site, payload in garbage(prefix).items():
            client.publish(knowledge_topic("pump", site), payload, qos=1, retain=True)
        if not await client.flush(timeout=10.0):
            raise SystemExit("not acknowledged")
    sys.stdout.write(orjson.dumps(sorted(garbage(prefix))).decode() + "\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
