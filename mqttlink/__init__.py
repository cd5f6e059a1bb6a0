"""The layer the firmware and the hub share: settings loader, MQTT client, TLS, systemd."""
