"""The HTTP API and the pages: one router per resource, thin over the hub's domain."""
