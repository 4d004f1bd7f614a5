"""A site's economics: what failures, maintenance, inspections, false alarms and energy cost, per asset type.

The models are pure and validated; `load_economics` is the one function here that reads (a string or a file),
and it names the field and the YAML line of every error.

>>> eco = parse_economics('''
... currency: EUR
... agent_running_cost_per_day: 20
... assets:
...   pump: {repair_cost: 8000, production_value_per_hour: 1000, typical_failure_downtime_h: 16,
...          planned_maintenance_cost: 1500, inspection_cost: 150, false_alarm_cost: 300,
...          energy_price_per_kwh: 0.17, failure_modes: [bearing_wear]}
... ''')
>>> eco.asset("pump").failure_cost(downtime_h=10)
Decimal('18000.00')
"""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edgeloop.ledger.money import money
from edgeloop.model.yamldoc import YamlFieldError, validate_yaml

Cost = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
DEFAULT_FILE = "economics_default.yaml"


class EconomicsError(YamlFieldError):
    """A bad economics file or value. `field` is the dotted path, `line` the 1-based YAML line when known."""

    def __init__(self, field: str, reason: str, line: int | None = None, source: str = "economics") -> None:
        super().__init__(field, reason, line, source)


class AssetEconomics(BaseModel):
    """The money of one asset type. All amounts are in the site's currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repair_cost: Cost = Field(description="unplanned repair of a failure: parts, labour, expediting")
    production_value_per_hour: Cost = Field(description="value of production lost per hour the device is down")
    typical_failure_downtime_h: Decimal = Field(gt=0, le=24 * 365, description="expected downtime of a failure")
    planned_maintenance_cost: Cost = Field(description="a planned maintenance job, its planned downtime included")
    inspection_cost: Cost = Field(description="one inspection of one device")
    false_alarm_cost: Cost = Field(description="cost of a needless intervention beyond the work itself")
    energy_price_per_kwh: Cost = Field(description="price of one kWh")
    failure_modes: tuple[str, ...] = Field(
        default=(), description="fault kinds that end in a failure if left; finding one means a failure avoided"
    )

    def failure_cost(self, downtime_h: float | Decimal | None = None) -> Decimal:
        """Repair plus the production lost while down (`typical_failure_downtime_h` when not known)."""
        hours = self.typical_failure_downtime_h if downtime_h is None else Decimal(repr(downtime_h))
        return money(self.repair_cost + hours * self.production_value_per_hour)


class SiteEconomics(BaseModel):
    """A site's economics: its currency (stated once), the agent's running cost, and each asset type's money."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR")
    agent_running_cost_per_day: Cost = Field(description="what running the agent costs per site per day")
    assets: dict[str, AssetEconomics] = Field(min_length=1)

    @field_validator("assets")
    @classmethod
    def _asset_names(cls, value: dict[str, AssetEconomics]) -> dict[str, AssetEconomics]:
        for name in value:
            if not name or not name.replace("_", "").isalnum():
                raise ValueError(f"asset type {name!r} must be a plain word")
        return value

    def asset(self, asset_type: str) -> AssetEconomics:
        try:
            return self.assets[asset_type]
        except KeyError:
            known = ", ".join(sorted(self.assets))
            raise EconomicsError(f"assets.{asset_type}", f"no economics for this asset type (known: {known})") from None


def parse_economics(text: str, source: str = "economics") -> SiteEconomics:
    """Validate economics from YAML text; errors are `EconomicsError`s naming the field and line."""
    shape = "a mapping with currency, agent_running_cost_per_day, assets"
    return validate_yaml(text, SiteEconomics, source, shape, EconomicsError)


def load_economics(path: Path | None = None) -> SiteEconomics:
    """Read a site's economics file; without a path, the shipped illustrative defaults (pump, motor)."""
    if path is None:
        text = resources.files("edgeloop.ledger").joinpath(DEFAULT_FILE).read_text(encoding="utf-8")
        return parse_economics(text, DEFAULT_FILE)
    return parse_economics(path.read_text(encoding="utf-8"), path.name)
