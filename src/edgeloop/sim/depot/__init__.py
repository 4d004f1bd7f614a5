"""The simulated EV depot: chargers, buses with deadlines, and power limits with a fail-safe."""

from edgeloop.sim.depot.plant import DepotPlant, Session

__all__ = ["DepotPlant", "Session"]
