"""`edgeloop bench ...`: the benchmarks' command-line options. Each bench's logic is a plain function in
`edgeloop.bench` that prints its figures and returns the exit code; these wrappers declare the options and pass
them on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgeloop.bench import coldstart, feedback, powercap, protocols, roi, select, throughput
from edgeloop.bench.nab import evaluate
from edgeloop.bench.nab.corpus import DEFAULT_DIR, WINDOWS_FILE
from edgeloop.learn.selection import CANDIDATES

bench_app = typer.Typer(help="Benchmarks that print figures (throughput, NAB accuracy, ...).", no_args_is_help=True)


def _exit(code: int) -> None:
    if code:
        raise typer.Exit(code)


def _check_store(store: str | None) -> None:
    """A `--store` the bench can use, or a clear error (exit code 2) before any broker or agent starts."""
    if store is None:
        return
    from pydantic import ValidationError
    from rich.console import Console

    from edgeloop.io.store import StoreError
    from edgeloop.settings import StoreSettings

    try:
        StoreSettings(url=store)  # the settings' own rule for a store URL
    except ValidationError:
        Console(stderr=True).print(f"[red]error:[/red] --store takes a postgresql://… URL (leave it out for "
                                   f"SQLite), not {store!r}")  # fmt: skip
        raise typer.Exit(2) from None
    from edgeloop.io.store.postgres.schema import connect  # psycopg only when asked for

    try:
        connect(store).close()
    except StoreError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


@bench_app.command("throughput")
def throughput_command(
    broker: Annotated[
        str | None, typer.Option("--broker", help="mqtt://host:port (default: the embedded broker)")
    ] = None,
    metrics_per_message: Annotated[
        int, typer.Option("--metrics-per-message", "-k", min=1, help="metrics per message")
    ] = 1,
    seconds: Annotated[float, typer.Option(min=1, help="seconds of load per phase")] = 10.0,
    series: Annotated[int, typer.Option(min=1, help="distinct series (devices x metrics)")] = 100_000,
    json_out: Annotated[bool, typer.Option("--json", help="print the figures as one JSON object")] = False,
    rounds: Annotated[
        int,
        typer.Option(min=1, help="alternate broker-only and agent phases this many times; report the medians"),
    ] = 3,
) -> None:
    """Measure the broker-only message rate and the agent's end-to-end rate in one run, plus RSS per series
    and p99 publish-to-decision latency at half the agent's rate. QoS 0. Prints figures; asserts nothing.

    The two rates are measured in alternating phases (--rounds) and each reported as its median: the
    broker-only rate alone varies by half from run to run on a shared machine."""
    _exit(throughput.throughput(broker, metrics_per_message, seconds, series, json_out, rounds))


@bench_app.command("chaos")
def chaos_command(
    broker: Annotated[
        str | None, typer.Option("--broker", help="mqtt://host:port (default: the embedded broker)")
    ] = None,
    devices: Annotated[int, typer.Option(min=1, help="simulated factory devices")] = 20,
    speed: Annotated[float, typer.Option(min=1, help="simulated seconds per real second")] = 600.0,
    broker_down_s: Annotated[float, typer.Option(min=0, help="seconds the broker is unreachable")] = 60.0,
    disk_full_s: Annotated[float, typer.Option(min=0, help="seconds the agent's disk is full")] = 30.0,
    warmup_s: Annotated[float, typer.Option(min=1, help="seconds before the first fault and between kills")] = 15.0,
    fuzz: Annotated[int, typer.Option(min=0, help="hostile messages in the burst")] = 2000,
    redelivery_s: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="the agent's broker.redelivery_s: after a restart, telemetry is held this long and then taken in "
            "time order (default: 32 on the embedded broker, the agent's own setting on another)",
        ),
    ] = None,
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline/--no-baseline",
            help="replay what the broker delivered into an agent that never stops, and compare the scores",
        ),
    ] = True,
    keep: Annotated[
        Path | None, typer.Option("--data-dir", file_okay=False, help="keep the runs' stores and logs here")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the figures as one JSON object")] = False,
) -> None:
    """A site at QoS 1 through kill -9 (twice), the broker down, the disk full and a fuzz burst: telemetry, events,
    commands and decisions published vs kept, whether the audit log and the store verify, crashes, SIGTERM time
    and the score difference against an agent that never stopped, fed the same messages. Prints figures; asserts
    nothing."""
    from edgeloop.bench.chaos import ChaosPlan, chaos

    plan = ChaosPlan(devices=devices, speed=speed, warmup_s=warmup_s, broker_down_s=broker_down_s,
                     disk_full_s=disk_full_s, fuzz=fuzz, redelivery_s=redelivery_s)  # fmt: skip
    _exit(chaos(broker, plan, baseline, json_out, keep))


@bench_app.command("store")
def store_command(
    postgres: Annotated[
        str, typer.Option("--store", help="postgresql://… of the database to measure (a scratch schema is used)")
    ] = "postgresql://127.0.0.1:5432/test",
    broker: Annotated[
        str | None, typer.Option("--broker", help="mqtt://host:port (default: the embedded broker)")
    ] = None,
    series: Annotated[int, typer.Option(min=1, help="devices of one metric each")] = 10_000,
    seconds: Annotated[float, typer.Option(min=1, help="seconds of load per agent phase")] = 10.0,
    batches: Annotated[
        int, typer.Option(min=1, help="micro-batches of 20,000 points written in the ingest phase")
    ] = 50,
    json_out: Annotated[bool, typer.Option("--json", help="print the figures as one JSON object")] = False,
) -> None:
    """Measure PostgreSQL COPY telemetry ingest (points/s) and the agent's end-to-end rate on SQLite and on
    PostgreSQL in one run. Targets: COPY >= 300k points/s, PostgreSQL rate >= 80% of SQLite's (exit 1 if missed)."""
    from edgeloop.bench.store import bench_store  # psycopg is loaded only for this command

    _exit(bench_store(postgres, broker, series, seconds, n_batches=batches, json_out=json_out))


@bench_app.command("protocols")
def protocols_command(
    only: Annotated[
        list[str] | None, typer.Option("--only", help="run only these sections (repeat: --only mqtt --only modbus)")
    ] = None,
    devices: Annotated[int, typer.Option(min=1, help="simulated devices (Modbus: 200 units per server)")] = 1000,
    registers: Annotated[int, typer.Option(min=1, max=120, help="registers (metrics) per device")] = 20,
    seconds: Annotated[float, typer.Option(min=2, help="seconds of the Modbus load phase")] = 20.0,
    broker: Annotated[
        str | None, typer.Option("--broker", help="mqtt://host:port for the MQTT reference (default: embedded)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the figures as one JSON object")] = False,
) -> None:
    """Each plant protocol into the real agent next to the plain MQTT path, in one run: Modbus polls (missed,
    jitter), registers/s, points/s, RSS per series, and source-to-decision latency. Prints figures; asserts nothing.
    """
    _exit(protocols.protocols(only, devices, registers, seconds, broker, json_out))


@bench_app.command("roi")
def roi_command(
    seeds: Annotated[str, typer.Option(help="comma-separated simulator seeds, one back-test pair each")] = "0,1,2",
    devices: Annotated[int, typer.Option(min=10, help="simulated pumps and motors")] = 600,
    days: Annotated[int, typer.Option(min=1, help="simulated days per run")] = 14,
    interval: Annotated[float, typer.Option(min=1, help="seconds between a device's samples")] = 30.0,
    holdout_fraction: Annotated[
        float,
        typer.Option(
            "--holdout-fraction",
            min=0.05,
            max=0.95,
            help="share of devices held out: half gives the most precise estimate for a fleet's size",
        ),
    ] = 0.5,
    config: Annotated[
        Path | None, typer.Option("--config", help="site settings YAML (agent and ledger sections)", exists=True)
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object, nothing else on stdout")] = False,
) -> None:
    """Check the ROI ledger against ground truth: the plant with and without the agent, same seed.

    Targets: unplanned downtime cut by at least 30% against the holdout, the ledger's uplift estimate within 10%
    of the true uplift, and its 95% interval excluding zero, for every seed. Exit code 1 when a target is missed.
    """
    _exit(roi.roi(seeds, devices, days, interval, config, json_out, holdout_fraction))


@bench_app.command("feedback")
def feedback_command(
    weeks: Annotated[int, typer.Option(min=2, help="simulated weeks")] = 4,
    devices: Annotated[int, typer.Option(min=10, help="simulated pumps and motors")] = 100,
    seed: Annotated[int, typer.Option(help="simulator and operator seed")] = 0,
    mistakes: Annotated[float, typer.Option(min=0, max=0.5, help="share of operator answers that are wrong")] = 0.1,
    control: Annotated[bool, typer.Option(help="also run without feedback, for comparison")] = True,
    config: Annotated[Path | None, typer.Option("--config", help="site settings YAML", exists=True)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object, nothing else on stdout")] = False,
    upsets: Annotated[
        float, typer.Option(min=0, max=10, help="process upsets per device-day: demand dips, no fault")
    ] = feedback.UPSETS,
) -> None:
    """Alarm precision and recall per simulated week, with a simulated operator's verdicts fed back.

    The factory has process upsets (--upsets): demand dips with nothing wrong, the nuisance alarms to take away.

    Target: false alarms per week fall by at least 50% from week 1 to the last week, recall stays >= 90%.
    Exit code 1 when missed.
    """
    _exit(feedback.feedback(weeks, devices, seed, mistakes, control, config, json_out, upsets))


@bench_app.command("nab")
def nab_command(
    data: Annotated[Path, typer.Option(help="NAB corpus folder (data/, labels/, config/)")] = DEFAULT_DIR,
    windows: Annotated[str, typer.Option(help="windows file, relative to --data")] = WINDOWS_FILE,
    learner: Annotated[
        list[str] | None, typer.Option("--learner", help="only these learners of the registry (repeatable)")
    ] = None,
    check_rows: Annotated[
        int, typer.Option(help="rows per file to re-score point by point and compare with the batch path; -1: all")
    ] = 2000,
    hst_rows: Annotated[int, typer.Option(min=0, help="rows per file for River's HalfSpaceTrees speed; 0: skip")] = 500,
    wide: Annotated[int, typer.Option(min=0, help="also time N copies of the corpus side by side; 0: skip")] = 64,
    wide_rows: Annotated[int, typer.Option(min=1, help="rows per file for --wide")] = 300,
    plot: Annotated[Path | None, typer.Option(help="write PNGs of --series to this folder")] = None,
    series: Annotated[
        list[str] | None, typer.Option("--series", help="series to plot, by file name (repeatable)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print a JSON list, nothing else on stdout")] = False,
) -> None:
    """Score every learner of the registry on NAB (all three profiles) and time their batch path."""
    _exit(evaluate.nab(data, windows, learner, check_rows, hst_rows, wide, wide_rows, plot, series, json_out))


CORPUS_HELP = (
    "tep, nab (../shared/benchmarks/nab), nab:FOLDER, batadal:FILE_OR_FOLDER (BATADAL's CSV files, "
    "fetched as docs/learners.md says), or a folder of CSV files, one a run"
)


@bench_app.command("detect")
def detect_command(
    corpus: Annotated[
        str,
        typer.Argument(help=CORPUS_HELP),
    ] = "tep",
    learner: Annotated[
        list[str] | None,
        typer.Option("--learner", help="a catalog name, or NAME@spot for it calibrated and gated (repeatable)"),
    ] = None,
    budget: Annotated[float, typer.Option(min=1e-6, help="false alarms per device-day (calibrated learners)")] = 1.0,
    label: Annotated[
        list[str] | None, typer.Option("--label", help="label column of a CSV folder (repeatable)")
    ] = None,
    ts_column: Annotated[str, typer.Option(help="timestamp column of a CSV folder (unix s or ISO 8601)")] = "timestamp",
    warmup: Annotated[
        int, typer.Option(min=0, help="rows of each CSV run (or BATADAL's dataset 2 alone) learnt but not scored")
    ] = 0,
    runs: Annotated[int | None, typer.Option(min=1, help="only the first N runs (a short bench)")] = None,
    plot: Annotated[Path | None, typer.Option(help="write a PNG per run and learner to this folder")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON document, nothing else on stdout")] = False,
    rebase_after_h: Annotated[
        float | None,
        typer.Option(
            min=1e-6,
            help="re-base a gated series after this many hours on hold (as the "
            "agent's agent.rebase_after_h); default: never",
        ),
    ] = None,
) -> None:
    """Learners on a labelled corpus: P/R/F1, events, delay, false alarms per device-day, calibration."""
    from edgeloop.bench.detect import detect

    _exit(detect(corpus, learner, budget, label or [], ts_column, warmup, runs, plot, json_out, rebase_after_h))


@bench_app.command("powercap")
def powercap_command(
    json_out: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
    seed: Annotated[int, typer.Option(help="seed of the buildings and the buses")] = 0,
    hours: Annotated[float, typer.Option(min=1, help="simulated hours per run")] = 48.0,
    cap_kw: Annotated[float, typer.Option("--cap-kw", min=1, help="the feeder's cap, kW")] = 500.0,
    chargers: Annotated[int, typer.Option(min=1, help="chargers at the depot (50 kW, one bus each)")] = 12,
    kill: Annotated[str, typer.Option(help="the site whose agent is killed midway")] = "depot",
    kill_at_h: Annotated[float | None, typer.Option(help="when, simulated hours (default: midway)")] = None,
    restart_after_h: Annotated[float, typer.Option(min=0, help="restart it this many hours later")] = 1.0,
    quiet: Annotated[bool, typer.Option(help="no progress lines")] = False,
) -> None:
    """Three buildings and an EV depot under one feeder cap: peer-to-peer leases against no coordination."""
    _exit(powercap.powercap(json_out, seed, hours, cap_kw, chargers, kill, kill_at_h, restart_after_h, quiet))


@bench_app.command("select")
def select_command(
    data: Annotated[list[Path], typer.Option("--data", help="a factory recording or NAB-format corpus (repeatable)")],
    out: Annotated[Path, typer.Option("--out", help="the selection file to write")] = Path("selection.yaml"),
    learners: Annotated[str, typer.Option(help="comma-separated candidates (default: all)")] = ",".join(CANDIDATES),
    sustain: Annotated[str, typer.Option(help="sustains to sweep, comma-separated")] = "1,2,4",
    settle_s: Annotated[float, typer.Option(help="quiet seconds after a device restarts, as agent.settle_s")] = 7200.0,
    lead_s: Annotated[float, typer.Option(help="a developing fault is caught this long before failure")] = 1800.0,
    cooldown_s: Annotated[float, typer.Option(help="quiet seconds after an alarm, as agent.cooldown_s")] = 21600.0,
    json_out: Annotated[bool, typer.Option("--json", help="print the selection as JSON only")] = False,
) -> None:
    """Score every learner per asset type on labelled data; write the best learner, threshold and sustain."""
    _exit(select.select(data, out, learners, sustain, settle_s, lead_s, cooldown_s, json_out))


@bench_app.command("coldstart")
def coldstart_command(
    devices: Annotated[
        int,
        typer.Option(min=10, help="simulated pumps and motors per site (enough caught faults to resolve 1.3x)"),
    ] = coldstart.DEVICES,
    sites: Annotated[int, typer.Option(min=1, help="sites in the fleet before the new one")] = 3,
    fleet_days: Annotated[int, typer.Option(min=1, help="simulated days the fleet runs before sharing")] = 2,
    seed: Annotated[int, typer.Option(help="fleet sites use seed+1..seed+sites, the new site seed+100")] = 0,
    learner: Annotated[
        str, typer.Option(help="every site's learner (a calibrated one, name ending in _spot, for a budget)")
    ] = coldstart.LEARNER,
    budget: Annotated[
        float, typer.Option(min=0, help="false alarms per device-day for every site; 0: the learner's threshold")
    ] = coldstart.BUDGET,
    fault_free_h: Annotated[
        float, typer.Option(min=0, help="hours before the new site's first fault may start (the fleet's: 4)")
    ] = 0.0,
    running_h: Annotated[
        float, typer.Option(min=0, help="hours the new site's plant ran before its agent starts: faults under way")
    ] = coldstart.RUNNING_S / 3600.0,
    prior_settle_s: Annotated[
        float | None, typer.Option(min=0, help="settle after a restart with the prior (default: fleet setting)")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="site settings YAML", exists=True)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object, nothing else on stdout")] = False,
) -> None:
    """A new site's first simulated day with and without the fleet's prior: developing faults caught, false alarms.

    The fleet's sites run `--fleet-days` and share what their learners know (normal model and calibration); the
    new site's faults may start from its first minute. Target: with the prior it catches >= 1.3x the developing
    faults it catches without, with no more false alarms. Exit code 1 when missed, 2 on bad settings.
    """
    _exit(coldstart.coldstart(devices, sites, fleet_days, seed, prior_settle_s, config, json_out, learner,
                              budget or None, fault_free_h * 3600.0, running_h * 3600.0))  # fmt: skip


@bench_app.command("scale")
def scale_command(
    sites: Annotated[int, typer.Option(min=1, help="sites, one publisher process each")] = 4,
    devices: Annotated[int, typer.Option(min=1, help="devices per site (one metric each)")] = 100,
    agents: Annotated[str, typer.Option(help="comma-separated agent process counts to run, one phase each")] = "1,2,4",
    seconds: Annotated[float, typer.Option(min=1, help="seconds each publisher publishes per phase")] = 10.0,
    rate: Annotated[float, typer.Option(min=0, help="messages/s per publisher (0: as fast as it can)")] = 0.0,
    json_out: Annotated[bool, typer.Option("--json", help="print the figures as one JSON object")] = False,
    store: Annotated[
        str | None, typer.Option("--store", help="postgresql://… to store in (default: SQLite per agent)")
    ] = None,
    kill: Annotated[
        bool, typer.Option("--kill/--no-kill", help="a last phase at QoS 1 that SIGKILLs a node and restarts it")
    ] = True,
    ack_wait: Annotated[
        float | None,
        typer.Option(
            "--ack-wait", min=1, help="seconds the cluster waits for a PUBACK before sending again (default: NATS's 30)"
        ),
    ] = None,
) -> None:
    """On a three-node NATS cluster started for the run: S sites x D devices over A agent processes (A = 1, 2, 4),
    a publisher per site. Prints aggregate points/s per A, p50/p99 decision latency and the cluster's own rate in
    the same run; with `--kill`, what was lost when a node is SIGKILLed, and how long the agents went without a
    connection and without a point. Asserts nothing."""
    from edgeloop.bench.scale import scale

    counts = tuple(int(a) for a in agents.split(",") if a.strip())
    _check_store(store)
    _exit(scale(sites, devices, counts, seconds, rate, json_out, store, kill, ack_wait))


@bench_app.command("fleet")
def fleet_command(
    sites: Annotated[int, typer.Option(min=1, help="sites, each its own seeded factory and publisher")] = 20,
    devices: Annotated[int, typer.Option(min=1, help="devices per site")] = 50,
    agents: Annotated[int, typer.Option(min=1, help="agent processes the sites are dealt to")] = 2,
    hours: Annotated[float, typer.Option(min=0.5, help="hours of plant data per site (a step a minute)")] = 6.0,
    json_out: Annotated[bool, typer.Option("--json", help="print the figures as one JSON object")] = False,
    store: Annotated[
        str | None, typer.Option("--store", help="postgresql://… to store in, a fresh schema per run (default: SQLite)")
    ] = None,
    records: Annotated[
        Path | None, typer.Option("--records", help="write each run's decisions and ledger rows per site here")
    ] = None,
) -> None:
    """The same fleet through one broker and through a three-node NATS cluster, at QoS 1: prints the sites whose
    decisions or ledger differ between the two runs, and each run's fleet ROI report against the sum of its
    sites' reports. Exit code 1 when anything differs."""
    from edgeloop.bench.scale_fleet import fleet

    _check_store(store)
    _exit(fleet(sites, devices, agents, hours, store, json_out, records))
