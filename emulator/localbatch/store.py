"""SQLite persistence: every pool, node, job, task and job preparation/release record as a JSON document.

One table keyed by (kind, key). The model writes through on every change (one transaction per API call,
so a 100-task collection is one commit) and reads everything back once at start-up. WAL mode keeps
readers and the single writer from blocking each other; `synchronous=NORMAL` is durable across a process
crash, which is the failure an emulator restart has to survive.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

KINDS = ("pool", "node", "job", "task", "prep")
# One encoder for every write (`json.dumps` with separators builds a new one per call). Records are
# plain trees built by the service, never cyclic: no cycle check.
_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


class Store:
    """A small document store on SQLite (`<data-dir>/localbatch.sqlite3`), safe to call from any thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Task documents hold SAS URLs and environment values: only the emulator's user may read the
        # database. SQLite creates the -wal and -shm files with the main file's mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(name, 0o600)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS docs (kind TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL,"
            " PRIMARY KEY (kind, key))"
        )

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        """Insert or replace one document."""
        self.write([(kind, key, doc)], [])

    def delete(self, kind: str, key: str) -> None:
        """Remove one document (no error if it is absent)."""
        self.write([], [(kind, key)])

    def write(
        self,
        puts: Iterable[tuple[str, str, dict[str, Any]]],
        deletes: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Apply puts and deletes in one transaction."""
        encode = _ENCODER.encode
        rows = [(kind, key, encode(doc)) for kind, key, doc in puts]
        gone = list(deletes)
        if not rows and not gone:
            return
        with self._lock:
            self._db.execute("BEGIN")
            try:
                if gone:
                    self._db.executemany("DELETE FROM docs WHERE kind = ? AND key = ?", gone)
                if rows:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO docs (kind, key, data) VALUES (?, ?, ?)", rows
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def load(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        """All documents of `kind` as (key, document), in key order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, data FROM docs WHERE kind = ? ORDER BY key", (kind,)
            ).fetchall()
        return [(key, json.loads(data)) for key, data in rows]

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()
