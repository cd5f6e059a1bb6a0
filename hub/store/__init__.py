"""The hub's history in one SQLite file: readings, rollups, incidents, rooms, migrations."""
