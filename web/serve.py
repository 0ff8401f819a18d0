"""The app for each worker of `qa serve --workers N`: settings from the QA_* environment."""

from __future__ import annotations

from fastapi import FastAPI

from qa.settings import Settings
from web.app import create_app


def app_from_env() -> FastAPI:
    """One worker's app; its model and index load in the lifespan, before it takes requests."""
    return create_app(Settings.from_env())
