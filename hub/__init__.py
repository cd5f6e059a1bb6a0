"""The hub: ingest, store, monitor, notify, episodes, discovery and the HTTP API, in one process."""
