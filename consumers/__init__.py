"""Kafka consumer entry points: each wires settings to a loop in `engine/`."""
