"""The domain words as plain data. Imports nothing of ours."""

from edgeloop.model.decision import (
    AckStatus,
    AutonomyLevel,
    Command,
    Decision,
    DecisionStatus,
    Outcome,
)
from edgeloop.model.device import ArgSpec, CommandSpec, DeviceMeta, MetricSpec
from edgeloop.model.ids import ID_PATTERN, is_valid_id
from edgeloop.model.partition import Partition, device_slot, store_key
from edgeloop.model.points import PointBatch

__all__ = [
    "ID_PATTERN",
    "AckStatus",
    "ArgSpec",
    "AutonomyLevel",
    "Command",
    "CommandSpec",
    "Decision",
    "DecisionStatus",
    "DeviceMeta",
    "MetricSpec",
    "Outcome",
    "Partition",
    "PointBatch",
    "device_slot",
    "is_valid_id",
    "store_key",
]
