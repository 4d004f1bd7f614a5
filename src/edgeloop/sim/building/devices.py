"""What the building's devices report and accept."""

from __future__ import annotations

from edgeloop.model import ArgSpec, CommandSpec, MetricSpec

AHU_METRICS = ("zone_temp", "return_temp", "supply_temp", "fan_speed", "damper_pos", "valve_pos", "power_kw")
CHILLER_METRICS = ("chw_supply_temp", "load_kw", "power_kw", "cop", "running")
SPEC = {
    "zone_temp": MetricSpec("zone_temp", "degC", -10.0, 50.0),
    "return_temp": MetricSpec("return_temp", "degC", -10.0, 50.0),
    "supply_temp": MetricSpec("supply_temp", "degC", 0.0, 60.0),
    "fan_speed": MetricSpec("fan_speed", "fraction", 0.0, 1.0),
    "damper_pos": MetricSpec("damper_pos", "fraction", 0.0, 1.0),
    "valve_pos": MetricSpec("valve_pos", "fraction", 0.0, 1.0),
    "power_kw": MetricSpec("power_kw", "kW", 0.0, 1000.0),
    "chw_supply_temp": MetricSpec("chw_supply_temp", "degC", 0.0, 30.0),
    "load_kw": MetricSpec("load_kw", "kW", 0.0, 2000.0),
    "cop": MetricSpec("cop", "", 0.0, 10.0),
    "running": MetricSpec("running", "on/off", 0.0, 1.0),
}
MAINTENANCE = CommandSpec(
    "schedule_maintenance", (ArgSpec("within_h", 0.0, 24.0, "h"),), "maintenance within the delay; clears faults"
)
AHU_COMMANDS = (
    CommandSpec("set_setpoint", (ArgSpec("setpoint", 18.0, 28.0, "degC"),), "the zone's occupied cooling setpoint"),
    CommandSpec("set_fan_speed", (ArgSpec("fraction", 0.3, 1.0),), "the highest fan speed (less air, less capacity)"),
    CommandSpec("set_economizer", (ArgSpec("on", 0.0, 1.0),), "1: cool with outdoor air when it is cooler; 0: never"),
    MAINTENANCE,
)
CHILLER_COMMANDS = (
    CommandSpec("set_chw_setpoint", (ArgSpec("setpoint", 5.0, 10.0, "degC"),), "the chilled-water supply setpoint"),
    MAINTENANCE,
)
