"""The parent's episode log: model and validation, storage, doctor card and the report."""
