"""The simulated factory: pumps and motors with ground-truth faults."""

from edgeloop.sim.factory.plant import FactoryPlant, StepResult

__all__ = ["FactoryPlant", "StepResult"]
