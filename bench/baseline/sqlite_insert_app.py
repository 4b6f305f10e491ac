"""The baseline for bench/api_throughput.py: a bare FastAPI endpoint that inserts one SQLite row.

WAL journal and SQLite's default ``synchronous=FULL``, as the event store
commits each command; one connection per worker thread; no authentication,
no middleware. Served by uvicorn exactly as ``vardekedja serve`` serves the API
(one worker, uvloop, httptools, access log on):

    BASELINE_SQLITE=/tmp/rows.sqlite3 python -m uvicorn --app-dir bench/baseline \\
        sqlite_insert_app:create_app --factory --loop uvloop --http httptools --port 8001
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid

from fastapi import FastAPI
from pydantic import BaseModel


class Row(BaseModel):
    name: str
    quantity: int


def create_app() -> FastAPI:
    path = os.environ["BASELINE_SQLITE"]
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE IF NOT EXISTS rows "
                      "(id TEXT PRIMARY KEY, name TEXT NOT NULL, quantity INTEGER NOT NULL)")
    local = threading.local()

    def connection() -> sqlite3.Connection:
        if not hasattr(local, "connection"):
            local.connection = sqlite3.connect(path, isolation_level=None, timeout=10)
        return local.connection

    app = FastAPI()

    @app.post("/rows", status_code=201)
    def insert(row: Row) -> dict[str, str]:
        row_id = str(uuid.uuid4())
        connection().execute("INSERT INTO rows VALUES (?, ?, ?)", (row_id, row.name, row.quantity))
        return {"id": row_id}

    return app
