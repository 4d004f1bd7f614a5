"""The simulated plants speaking other protocols than edgeloop's v1 JSON topics: each module here is a link with
the surface of `MqttClient` that `PlantRunner` drives unchanged, so the plant, its physics, faults and ground
truth stay the same whatever the protocol."""
