"""The alarm stage: scores to alarms per device (threshold, sustain, cooldown, settling, on-delays, watches)
and what answers teach it. Pure: no I/O, no wall clock."""

from edgeloop.learn.alarm.feedback import AlarmFeedback, Note
from edgeloop.learn.alarm.runs import run_lengths
from edgeloop.learn.alarm.stage import Alarm, AlarmStage, BatchAlarms
from edgeloop.learn.alarm.watches import Doubt, Watch, Watches

__all__ = ["Alarm", "AlarmFeedback", "AlarmStage", "BatchAlarms", "Doubt", "Note", "Watch", "Watches", "run_lengths"]
