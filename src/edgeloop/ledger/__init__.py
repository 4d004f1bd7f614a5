"""The ROI ledger: economics, attribution of outcomes to decisions, the randomized holdout, the measured uplift
and the report. Pure: no I/O except `load_economics`, no wall clock (time is always an argument).
"""

from edgeloop.ledger.attribution import Attribution, Usage, attribute, outcome_ref
from edgeloop.ledger.economics import (
    AssetEconomics,
    EconomicsError,
    SiteEconomics,
    load_economics,
    parse_economics,
)
from edgeloop.ledger.entries import Draft, Entry, EntryKind, Ledger
from edgeloop.ledger.headline import GLOSSARY, Headline, headline
from edgeloop.ledger.holdout import Arm, Assignment, HoldoutDesign, HoldoutRecord
from edgeloop.ledger.money import money
from edgeloop.ledger.observations import DeviceDay, device_days
from edgeloop.ledger.report import ArmSummary, RoiReport, build_report
from edgeloop.ledger.site_ledger import (
    LedgerRows,
    ReportError,
    SiteLedger,
    day_label,
    parse_since,
    roi_summary,
    site_ledger,
)
from edgeloop.ledger.uplift import Uplift, estimate_uplift

__all__ = [
    "GLOSSARY",
    "Arm",
    "ArmSummary",
    "AssetEconomics",
    "Assignment",
    "Attribution",
    "DeviceDay",
    "Draft",
    "EconomicsError",
    "Entry",
    "EntryKind",
    "Headline",
    "HoldoutDesign",
    "HoldoutRecord",
    "Ledger",
    "LedgerRows",
    "ReportError",
    "RoiReport",
    "SiteEconomics",
    "SiteLedger",
    "Uplift",
    "Usage",
    "attribute",
    "build_report",
    "day_label",
    "device_days",
    "estimate_uplift",
    "headline",
    "load_economics",
    "money",
    "outcome_ref",
    "parse_economics",
    "parse_since",
    "roi_summary",
    "site_ledger",
]
