"""MQTT in: each message checked against the contract, stored, and only then acknowledged."""
