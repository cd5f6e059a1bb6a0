"""The MQTT wire contract between the firmware and the hub; standard library only."""
