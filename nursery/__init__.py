"""The one `nursery` command: the demo, the hub, the firmware and the tools around them."""
