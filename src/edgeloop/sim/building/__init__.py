"""The simulated office building: zones, air handlers and a chiller with ground-truth faults."""

from edgeloop.sim.building.plant import BuildingPlant

__all__ = ["BuildingPlant"]
