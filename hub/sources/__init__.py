"""Rooms fed by other systems' sensors over MQTT: one pure translator per system."""
