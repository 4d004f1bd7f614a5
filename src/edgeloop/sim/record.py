"""A factory run on disk, with its ground truth, for model selection (`edgeloop sim record` writes one).

The plant runs alone (no agent acts, so every developing fault runs to its failure) and the recording is plain
files a person can open:

| file | holds |
|---|---|
| `devices.json` | each device's description (asset type, metrics), as on its `meta` topic |
| `telemetry/<device>.csv` | `ts,<metric>,...`, one row per sample while the device runs |
| `events.jsonl` | the device events (failure, repaired, usage), one JSON object a line with `ts` and `device` |
| `truth.json` | the plant's ground truth: every fault with its start, failure or clearing time |
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from edgeloop.sim.factory import FactoryPlant
from edgeloop.sim.factory.plant import MOTOR_METRICS, PUMP_METRICS

DAY = 86_400.0
START_TS = 19_676 * DAY  # midnight UTC, 2023-11-15, as the back-tests start


def record_factory(plant: FactoryPlant, steps: int, out: Path, tick: Any = None) -> dict[str, Any]:
    """Run `plant` for `steps` samples and write the recording to `out`; returns the ground truth."""
    metrics = {m.device: (PUMP_METRICS if m.asset_type == "pump" else MOTOR_METRICS) for m in plant.metas()}
    rows: dict[str, list[str]] = {d: [] for d in metrics}
    events: list[bytes] = []
    for i in range(steps):
        step = plant.step()
        for device, values in step.telemetry:
            rows[device].append(",".join([repr(step.ts), *(repr(values[m]) for m in metrics[device])]))
        events += [orjson.dumps({"ts": step.ts, "device": d, **e}) for d, e in step.events]
        if tick is not None and i % 1000 == 999:
            tick(1000)
    events += [orjson.dumps({"ts": plant.now, "device": d, **e}) for d, e in plant.close_day()]
    (out / "telemetry").mkdir(parents=True, exist_ok=True)
    for device, lines in rows.items():
        header = ",".join(("ts", *metrics[device]))
        (out / "telemetry" / f"{device}.csv").write_text("\n".join((header, *lines)) + "\n", encoding="utf-8")
    (out / "events.jsonl").write_bytes(b"\n".join(events) + b"\n")
    (out / "devices.json").write_bytes(orjson.dumps([m.to_json() for m in plant.metas()], option=orjson.OPT_INDENT_2))
    truth = {**plant.ground_truth(), "end_ts": plant.now}
    (out / "truth.json").write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    return truth
