"""Device simulators that speak the real protocols, with ground-truth faults and outcomes."""
