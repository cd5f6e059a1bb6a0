"""The Pi's side: read the sensor, publish over MQTT, show the room on LEDs (docs/firmware.md)."""
