"""Settings: one model with a nested model per concern, read from (highest first) explicit overrides, the
environment (`EDGELOOP_` prefix, `__` for nesting, e.g. `EDGELOOP_AGENT__AUTONOMY=3`), a site YAML file, and
the defaults below. Settings are passed in, never imported as globals.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from edgeloop.learn.catalog import AGENT_NAMES, CALIBRATED_SUFFIX
from edgeloop.learn.selection import RUNNERS_UP
from edgeloop.model import AutonomyLevel, Partition, is_valid_id, store_key

_yaml_data: ContextVar[dict[str, Any]] = ContextVar("edgeloop_yaml", default={})  # noqa: B039


class BrokerSettings(BaseModel):
    url: str | None = Field(
        None,
        description="mqtt://host:port or mqtts://host:port (TLS) of an external broker, or a comma-separated list of "
        "a cluster's nodes to fail over between; empty starts the embedded one",
    )
    qos: int = Field(
        1, ge=0, le=1, description="QoS of the agent's telemetry subscription (commands, events and acks use 1)"
    )
    persistent_session: bool = Field(
        True,
        description="the broker keeps the agent's subscriptions and queues its QoS 1 messages while it is away "
        "(MQTT clean session off, with a stable client id per site)",
    )
    ack: Literal["stored", "received"] = Field(
        "stored",
        description="when the agent acknowledges a QoS 1 message: once the store has committed what it caused "
        "(a crash or a full disk loses none: the broker sends it again), or as it arrives. With 'stored' the "
        "broker's window of unacknowledged messages bounds the rate: for QoS 1 telemetry on Mosquitto raise "
        "max_inflight_messages (20 by default) and max_queued_messages (1000) (docs/topics.md)",
    )
    redelivery_s: float = Field(
        0.0,
        ge=0,
        le=600,
        description="after a warm restart or a reconnection, hold telemetry this long, then take it in time order: "
        "NATS sends what the agent had in flight again only after its MQTT ack_wait (30 s by default) while "
        "newer messages come at once, so set it a little above that (32 s) on NATS; 0 for a broker that sends "
        "it again at once, as Mosquitto does",
    )
    username: str | None = Field(None, description="user name to log in to the broker with")
    password: SecretStr | None = Field(
        None, description="its password (EDGELOOP_BROKER__PASSWORD; never printed or logged)"
    )
    ca_file: Path | None = Field(
        None, description="PEM file of the CA that signed the broker's certificate (mqtts://); empty: the system's"
    )
    cert_file: Path | None = Field(None, description="PEM client certificate, for brokers that ask for one")
    key_file: Path | None = Field(None, description="PEM private key of the client certificate")

    @model_validator(mode="after")
    def _tls_needs_mqtts(self) -> BrokerSettings:
        tls_files = self.ca_file or self.cert_file or self.key_file
        if tls_files and not (self.url or "").startswith(("mqtts://", "ssl://")):
            raise ValueError("broker.ca_file, cert_file and key_file need an mqtts:// broker.url")
        if self.key_file and not self.cert_file:
            raise ValueError("broker.key_file needs broker.cert_file")
        return self

    def credentials(self) -> dict[str, Any]:
        """The keyword arguments of `edgeloop.io.mqtt.BrokerAuth` (the password in clear, for the client only)."""
        return {
            "username": self.username,
            "password": None if self.password is None else self.password.get_secret_value(),
            "ca_file": self.ca_file,
            "cert_file": self.cert_file,
            "key_file": self.key_file,
        }


class StoreSettings(BaseModel):
    url: str | None = Field(
        None,
        description="postgresql://user:password@host:port/database of a PostgreSQL store shared by many sites; "
        "empty: a SQLite file in the agent's data directory",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("store.url must be a postgresql:// URL (empty: SQLite in the data directory)")
        return value


class AgentSettings(BaseModel):
    site: str = Field("factory", description="this agent's site id")
    autonomy: AutonomyLevel = Field(
        AutonomyLevel.RECOMMEND, description="0 observe, 1 recommend, 2 act with approval, 3 act"
    )
    policy: Path | None = Field(
        None,
        description="policy YAML (rules, autonomy per asset type and action, guardrails); empty: the default "
        "policy at this autonomy, threshold and action",
    )
    learner: str = Field(
        "ewma_noise",
        description="the anomaly learner, by its name in edgeloop.learn.catalog; here robust_ewma and ewma_noise "
        "mean the agent's variants with memory in time (robust_ewma_timed, ewma_noise_timed)",
    )
    selection: Path | None = Field(
        None, description="selection file (edgeloop bench select): learner, threshold and sustain per asset type"
    )
    challengers: list[str] = Field(
        default_factory=list,
        max_length=2,
        description="learners that score in the shadow beside each asset type's champion ('runners_up': the "
        "selection's)",
    )
    promote_margin: float = Field(0.1, ge=0, le=1, description="F1 lead a challenger needs over the champion")
    promote_min_labels: int = Field(10, ge=1, description="labelled outcomes of an asset type before a promotion")
    label_window_s: float = Field(86_400, gt=0, description="an alarm this long before a labelled outcome counts")
    threshold: float = Field(0.9, gt=0, lt=1, description="anomaly likelihood above which a sample is anomalous")
    sustain: int = Field(4, ge=1, description="consecutive anomalous samples of a device before deciding")
    false_alarms_per_device_day: float | None = Field(
        None,
        gt=0,
        description="false-alarm budget: each device's threshold and sustain come from it (docs/settings.md); "
        "needs a calibrated learner (a name ending in _spot); empty: threshold and sustain as set",
    )
    sample_s: float = Field(15.0, gt=0, description="the devices' usual sampling period, for the false-alarm budget")
    rebase_after_h: float | None = Field(
        None,
        gt=0,
        description="a gated learner's series on hold this many data-time hours is re-based (the timeout of "
        "docs/learners.md, logged); empty: only a new_normal verdict, a repair or maintenance re-bases",
    )
    cooldown_s: float = Field(6 * 3600, ge=0, description="data-time seconds after a decision before the next")
    on_delay_max_s: float = Field(
        1800.0,
        ge=0,
        description="longest on-delay feedback may give an alarm class (asset type, leading metric) whose false "
        "alarms went away on their own; 0: alarms never wait",
    )
    on_delay_min_false: int = Field(
        3,
        ge=1,
        le=20,  # the false alarms a class keeps (`OnDelay.keep`)
        description="false alarms of an alarm class that went away on their own before its alarms wait (one "
        "wrong verdict is not enough)",
    )
    action: str = Field("schedule_maintenance", description="command sent for a sustained anomaly")
    action_args: dict[str, float] = Field(default_factory=lambda: {"within_h": 0.5})
    settle_s: float = Field(
        2 * 3600, ge=0, description="data-time seconds after a device (re)starts during which it raises no alarm"
    )
    ack_timeout_s: float = Field(10.0, gt=0, description="wall seconds to wait for a command ack")
    batch_max: int = Field(20_000, ge=1, description="most messages taken into one micro-batch")
    batch_wait_s: float = Field(0.02, gt=0, description="longest wait for a micro-batch to fill")
    max_future_s: float = Field(300.0, ge=0, description="telemetry further ahead of the wall clock is rejected")
    max_past_s: float = Field(
        10 * 365 * 86_400.0, gt=0, description="telemetry and events further behind the wall clock are rejected"
    )
    max_payload: int = Field(256 * 1024, ge=1024, description="larger payloads are rejected")
    data_dir: Path = Field(Path("var"), description="where the site's database and keys live")
    store_telemetry: bool = Field(True, description="keep raw telemetry in the store (decisions are always kept)")
    audit_fingerprint: str | None = Field(
        None,
        description="hex SHA-256 of the audit log's raw public key (edgeloop audit key prints it): the key "
        "`edgeloop audit verify` trusts; empty: the key pinned when it was made (trust on first use)",
    )
    audit_key_dir: Path | None = Field(
        None, description="a directory of its own (mode 0700) for the audit signing key; empty: the audit directory"
    )
    audit_passphrase: SecretStr | None = Field(
        None, description="keep the audit signing key encrypted with this passphrase (EDGELOOP_AGENT__AUDIT_PASSPHRASE)"
    )
    audit_pins: Path | None = Field(
        None,
        description="file of the audit keys pinned at creation; empty: $XDG_CONFIG_HOME/edgeloop/audit-pins.json",
    )
    late_window_s: float = Field(
        600.0,
        ge=0,
        le=86_400,
        description="wall seconds a late reading may come after a newer one of its series and still be put in its "
        "place: the learner goes back to a copy of itself and learns again (agent/rewind.py; copies every quarter "
        "of it, in memory and in the checkpoint); 0: late readings are stored and not learnt",
    )
    checkpoint_s: float = Field(
        60.0, ge=0, description="wall seconds between two checkpoints of the learnt state (0: only when stopping)"
    )
    stats_interval_s: float = Field(
        10.0, gt=0, description="wall seconds between two of the agent's counters on `{site}/_agent/stats`"
    )

    partition: str | None = Field(
        None,
        description="i/P: run partition i of P of the site's devices (by a stable hash of the device id), with its "
        "own data folder under the site's; empty: all of them",
    )

    @field_validator("partition")
    @classmethod
    def _partition(cls, value: str | None) -> str | None:
        if not value:
            return None
        return str(Partition.parse(value))

    @property
    def part(self) -> Partition | None:
        """The partition this agent runs, when it runs one of several."""
        if self.partition is None:
            return None
        part = Partition.parse(self.partition)
        return part if part.count > 1 else None

    @field_validator("site")
    @classmethod
    def _site_id(cls, value: str) -> str:
        if not is_valid_id(value):
            raise ValueError(f"site id {value!r} must match [a-z0-9][a-z0-9_-]{{0,63}}")
        return value

    @field_validator("learner")
    @classmethod
    def _known_learner(cls, value: str) -> str:
        if value not in AGENT_NAMES:
            raise ValueError(f"agent.learner {value!r} is not a known learner; known: {', '.join(AGENT_NAMES)}")
        return value

    @model_validator(mode="after")
    def _budget_needs_calibration(self) -> Self:
        if self.false_alarms_per_device_day is not None and not self.learner.endswith(CALIBRATED_SUFFIX):
            raise ValueError(
                f"agent.false_alarms_per_device_day needs a calibrated learner (a name ending in "
                f"{CALIBRATED_SUFFIX}), not {self.learner!r}"
            )
        return self

    @field_validator("challengers")
    @classmethod
    def _known_challengers(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in AGENT_NAMES and name != RUNNERS_UP]
        if unknown:
            raise ValueError(f"unknown challengers {unknown}; known: {RUNNERS_UP}, {', '.join(AGENT_NAMES)}")
        return value

    @property
    def site_dir(self) -> Path:
        part = self.part
        return self.data_dir / self.site if part is None else self.data_dir / self.site / part.label

    @property
    def store_site(self) -> str:
        """The site's key in a shared store (`store_key`). A partition keeps its own rows (holdout record, guard
        and learnt state, ledger, outbox, inbox), as on SQLite it keeps its own folder, so that partitions never
        overwrite each other's; a site's figures are the sum of its partitions'."""
        return store_key(self.site, self.part)

    @property
    def db_path(self) -> Path:
        return self.site_dir / "edgeloop.db"

    @property
    def audit_dir(self) -> Path:
        return self.site_dir / "audit"

    @property
    def audit_head_path(self) -> Path:
        return self.site_dir / "audit-head.json"

    @property
    def key_dir(self) -> Path:
        return self.audit_key_dir or self.audit_dir

    def audit_passphrase_bytes(self) -> bytes | None:
        return None if self.audit_passphrase is None else self.audit_passphrase.get_secret_value().encode()

    @property
    def checkpoint_path(self) -> Path:
        return self.site_dir / "checkpoint.pickle"


class LedgerSettings(BaseModel):
    holdout_fraction: float = Field(0.2, ge=0, lt=1, description="share of each asset type's devices held out")
    holdout_seed: int = Field(0, description="seed of the holdout randomization (logged with every assignment)")
    holdout_draw: Literal["sequence", "device"] = Field(
        "sequence",
        description="sequence: a systematic sample per asset type in the order devices appear (holdout counts "
        "within one of the fraction); device: each device by a seeded hash of its id alone, the same whichever "
        "agent or partition sees it (needed for agent.partition)",
    )
    economics: Path | None = Field(None, description="the site's economics YAML; empty uses the shipped defaults")
    window_h: float = Field(24.0, gt=0, description="data-time hours within which an outcome links to a decision")


class ApiSettings(BaseModel):
    host: str = Field("127.0.0.1", description="address the REST API listens on")
    port: int = Field(8080, ge=0, le=65535, description="port of the REST API (0: any free port)")
    tokens: dict[str, str] = Field(
        default_factory=dict,
        description="bearer token -> role (viewer, operator or admin); set them in the site YAML or "
        "EDGELOOP_API__TOKENS as JSON, never in code",
    )

    @field_validator("tokens")
    @classmethod
    def _roles(cls, value: dict[str, str]) -> dict[str, str]:
        for token, role in value.items():
            if role not in ("viewer", "operator", "admin"):
                raise ValueError(f"role {role!r} must be viewer, operator or admin")
            if len(token) < 16:
                raise ValueError("an API token must be at least 16 characters")
        return value


class FleetSettings(BaseModel):
    share_knowledge: bool = Field(
        False, description="publish this site's learnt summaries and seed new series from the fleet's merged prior"
    )
    trusted_keys: dict[str, str] = Field(
        default_factory=dict,
        description="site id -> hex Ed25519 public key of the sites whose knowledge is taken; empty: trust on "
        "first use (the first key seen for a site is pinned)",
    )
    publish_every_s: float = Field(300.0, gt=0, description="wall seconds between publications of the summary")
    prior_settle_s: float | None = Field(
        None, ge=0, description="settle period of a device (re)started with a fleet prior; empty: agent.settle_s"
    )


class _YamlSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return _yaml_data.get().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_yaml_data.get())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EDGELOOP_", env_nested_delimiter="__", extra="forbid")

    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    fleet: FleetSettings = Field(default_factory=FleetSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)

    @model_validator(mode="after")
    def _partitions_draw_by_device(self) -> Settings:
        part = self.agent.part
        if part is not None and self.ledger.holdout_draw != "device":
            raise ValueError(
                f"agent.partition {part} needs ledger.holdout_draw: device (EDGELOOP_LEDGER__HOLDOUT_DRAW=device), so "
                "that the holdout is drawn for the site, not per partition: each device's arm then depends on the "
                "seed and its id only, whichever partition runs it"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls))


class SettingsError(ValueError):
    """Settings that cannot be used; the message names the file and field."""


def load_settings(config: Path | None = None, **overrides: dict[str, Any]) -> Settings:
    """Settings from a site YAML file (optional), the environment, and overrides like ``agent={"site": "x"}``."""
    data: dict[str, Any] = {}
    if config is not None:
        try:
            data = yaml.safe_load(config.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise SettingsError(f"cannot read settings file {config}: {exc}") from exc
        if not isinstance(data, dict):
            raise SettingsError(f"settings file {config} must hold a mapping at the top level")
    token = _yaml_data.set(data)
    try:
        build: Any = Settings  # BaseSettings' own keyword arguments hide the field names from mypy
        return build(**{k: v for k, v in overrides.items() if v})  # type: ignore[no-any-return]
    except ValidationError as exc:
        where = f" (file {config})" if config else ""
        raise SettingsError(f"invalid settings{where}:\n{exc}") from exc
    finally:
        _yaml_data.reset(token)
