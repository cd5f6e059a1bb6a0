"""The watch over the rooms: pure rules, the alert lifecycle and every word a parent reads."""
