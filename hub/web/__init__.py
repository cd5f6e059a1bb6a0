"""The hub's HTTP edge: host check, body and connection limits, security headers."""
