"""Placeholder replaced by the dashboard work."""

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    return None
