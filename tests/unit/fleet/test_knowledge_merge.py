"""The fleet's merge: honest sites merge to the right prior; one site publishing garbage cannot move it far."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeloop.fleet.envelope import Trust, public_hex, seal
from edgeloop.fleet.knowledge import KnowledgeError, KnowledgeSummary, MetricSummary, merge
from edgeloop.fleet.share import FleetKnowledge, knowledge_topic
from edgeloop.learn.prior import TailPrior

HONEST = {  # site -> (devices, vibration sigma, level)
    "north": (20, 0.095, 2.4),
    "south": (30, 0.100, 2.5),
    "east": (25, 0.105, 2.6),
}


def summary(site: str, devices: int, scale: float, level: float, **over: Any) -> KnowledgeSummary:
    fields = {"devices": devices, "level": level, "scale": scale, "rel_scale": scale / abs(level), "spread_abs": 0.2,
              "spread_rel": 0.05, **over}  # fmt: skip
    return KnowledgeSummary(site, "pump", 1_700_000_000.0, {"vibration": MetricSummary(**fields)})


def honest() -> list[KnowledgeSummary]:
    return [summary(site, *v) for site, v in HONEST.items()]


def within_honest(value: float, what: str) -> bool:
    index = {"scale": 1, "level": 2}[what]
    values = [v[index] for v in HONEST.values()]
    return min(values) <= value <= max(values)


def test_honest_sites_merge_to_the_device_weighted_median() -> None:
    prior = merge(honest()).priors["vibration"]

    assert (prior.scale, prior.level, prior.devices) == (0.100, 2.5, 75)
    assert prior.relative  # spread_rel < spread_abs: the noise grows with the level


@pytest.mark.parametrize(
    ("scale", "level", "devices"),
    [(1e9, 1e9, 1_000_000), (1e-12, 2.5, 1_000_000), (0.1, -1e12, 30), (50.0, 2.5, 25), (0.1, 1e6, 1)],
    ids=["huge", "tiny-scale", "absurd-level", "noisy", "huge-level"],
)
def test_a_site_far_from_the_others_is_left_out_with_a_reason(scale: float, level: float, devices: int) -> None:
    evil = summary("evil", devices, scale, level)

    merged = merge([*honest(), evil])

    assert merged.used["vibration"] == ["east", "north", "south"]
    assert [(site, metric) for site, metric, _ in merged.rejected] == [("evil", "vibration")]
    assert "robust deviations from the fleet median" in merged.rejected[0][2]
    assert merged.priors["vibration"] == merge(honest()).priors["vibration"]


@pytest.mark.parametrize("factor", [1.2, 1.3, 0.8])
def test_a_subtle_liar_with_a_huge_fleet_stays_within_the_honest_range(factor: float) -> None:
    """Not far enough off to be rejected, claiming a million devices: its weight is capped."""
    liar = summary("liar", 1_000_000, 0.100 * factor, 2.5 * factor)

    prior = merge([*honest(), liar]).priors["vibration"]

    assert within_honest(prior.scale, "scale")
    assert within_honest(prior.level, "level")


def test_a_summary_built_in_code_with_nan_is_left_out() -> None:
    merged = merge([*honest(), summary("evil", 10, math.nan, 2.5)])

    assert merged.rejected == [("evil", "vibration", "non-finite or non-positive statistics")]
    assert merged.priors["vibration"] == merge(honest()).priors["vibration"]


def test_the_latest_summary_of_a_site_replaces_its_earlier_one() -> None:
    old = summary("north", 20, 0.5, 2.4)
    new = KnowledgeSummary("north", "pump", old.ts + 60, summary("north", 20, 0.1, 2.4).metrics)

    assert merge([new, old]).priors["vibration"].scale == pytest.approx(0.1)


GARBAGE = {
    "nan": b'{"body": {"schema": "edgeloop.knowledge/1", "level": NaN}, "key": "00", "sig": "00"}',
    "not json": b"\x00\xff garbage",
    "unsigned": orjson.dumps({"body": summary("evil", 10, 1e9, 1e9).to_json()}),
    "a list": b"[1, 2, 3]",
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_is_refused_and_the_prior_does_not_move(name: str) -> None:
    fleet = taken(honest())
    before = fleet.priors("pump")["vibration"]

    reason = fleet.take(knowledge_topic("pump", "evil"), GARBAGE[name])

    assert reason is not None
    assert fleet.priors("pump")["vibration"] == before
    assert fleet.refused[reason] == 1


def signed_by_evil(**body_over: Any) -> bytes:
    body = {**summary("evil", 10, 0.1, 2.5).to_json(), **body_over}
    return seal(body, Ed25519PrivateKey.generate())


NEGATIVE_SCALE = {"devices": 10, "level": 2.5, "scale": -1.0, "rel_scale": 1, "spread_abs": 0, "spread_rel": 0}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (lambda: signed_by_evil(schema="edgeloop.knowledge/0"), "schema"),
        (lambda: signed_by_evil(metrics={"vibration": NEGATIVE_SCALE}), "must be > 0"),
        (lambda: signed_by_evil(metrics={"vibration": {"devices": 0, "level": 2.5}}), "'devices'"),
        (lambda: signed_by_evil(metrics={}), "'metrics'"),
        (lambda: signed_by_evil(site="north"), "body names pump/north on the topic of pump/evil"),
        (lambda: signed_by_evil(ts=math.inf), "'ts'"),
        (lambda: signed_by_evil().replace(b'"devices":10', b'"devices":11'), "bad signature"),
    ],
    ids=["wrong-schema", "negative-scale", "no-devices", "no-metrics", "other-site", "infinite-ts", "tampered"],
)
def test_a_signed_but_malformed_summary_is_refused_with_its_reason(payload: Any, expected: str) -> None:
    fleet = taken(honest())

    reason = fleet.take(knowledge_topic("pump", "evil"), payload())

    assert reason is not None
    assert expected in reason
    assert "evil" not in fleet.summaries["pump"]


def test_trust_on_first_use_refuses_another_key_for_a_known_site() -> None:
    fleet = FleetKnowledge()
    first, impostor = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    fleet.take(knowledge_topic("pump", "north"), seal(summary("north", 20, 0.1, 2.4).to_json(), first))

    reason = fleet.take(knowledge_topic("pump", "north"), seal(summary("north", 20, 9.0, 2.4).to_json(), impostor))

    assert reason is not None
    assert "trust on first use" in reason
    assert fleet.priors("pump")["vibration"].scale == pytest.approx(0.1)


def test_an_allow_list_takes_only_listed_sites_with_their_keys() -> None:
    listed, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    fleet = FleetKnowledge(Trust({"north": public_hex(listed)}))

    ok = fleet.take(knowledge_topic("pump", "north"), seal(summary("north", 20, 0.1, 2.4).to_json(), listed))
    refused = fleet.take(knowledge_topic("pump", "south"), seal(summary("south", 20, 0.1, 2.4).to_json(), stranger))

    assert ok is None
    assert refused == "site south is not in the trusted keys"


def test_an_empty_retained_message_withdraws_a_site() -> None:
    fleet = taken(honest())

    fleet.take(knowledge_topic("pump", "north"), b"")

    assert sorted(fleet.summaries["pump"]) == ["east", "south"]


def test_summaries_round_trip_through_json() -> None:
    s = honest()[0]

    assert KnowledgeSummary.from_json(orjson.loads(orjson.dumps(s.to_json()))) == s


def test_a_summary_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(KnowledgeError, match="JSON object"):
        KnowledgeSummary.from_json([1, 2])


def taken(summaries: list[KnowledgeSummary]) -> FleetKnowledge:
    fleet = FleetKnowledge()
    for s in summaries:
        key = Ed25519PrivateKey.generate()
        assert fleet.take(knowledge_topic(s.asset_type, s.site), seal(s.to_json(), key)) is None
    return fleet


TAIL = TailPrior(t=0.57, mean=0.24, mad=0.23, m1=0.15, m2=0.04)


def calibrated(site: str, learner: str, t: float) -> KnowledgeSummary:
    s = summary(site, *HONEST[site], tail=TAIL._replace(t=t))
    return KnowledgeSummary(s.site, s.asset_type, s.ts, s.metrics, learner)


def test_a_calibration_round_trips_and_merges_to_the_weighted_median_of_the_sites() -> None:
    sites = [calibrated(site, "ewma_noise@spot", t) for site, t in zip(HONEST, (0.5, 0.57, 0.6), strict=True)]
    for s in sites:
        assert KnowledgeSummary.from_json(orjson.loads(orjson.dumps(s.to_json()))) == s
    prior = merge(sites).priors["vibration"]

    assert prior.tail == TAIL
    assert prior.tail_of == "ewma_noise@spot"


def test_calibrations_of_different_learners_do_not_mix() -> None:
    sites = [calibrated("north", "ewma_noise@spot", 0.5), calibrated("south", "robust_ewma@spot", 0.57)]

    prior = merge(sites).priors["vibration"]

    assert prior.tail is None
    assert prior.tail_of == ""
    assert within_honest(prior.scale, "scale")


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ({"t": 1.0}, "must be an object of t, mean, mad, m1, m2"),
        ({**TAIL._asdict(), "m1": 0.0}, "not a calibration"),
        ({**TAIL._asdict(), "t": -1.0}, "not a calibration"),
        ({**TAIL._asdict(), "t": 1e300}, "not a calibration"),
        ({**TAIL._asdict(), "mad": "0.2"}, "numbers only"),
        ({**TAIL._asdict(), "m2": True}, "numbers only"),
        ([1, 2, 3, 4, 5], "must be an object"),
    ],
)
def test_a_malformed_calibration_is_refused_with_its_reason(tail: Any, expected: str) -> None:
    doc = calibrated("north", "ewma_noise@spot", 0.5).to_json()
    doc["metrics"]["vibration"]["tail"] = tail

    with pytest.raises(KnowledgeError, match=expected):
        KnowledgeSummary.from_json(doc)
