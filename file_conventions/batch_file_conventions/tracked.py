"""Tracked saves: mirror a growing local file into an append blob while a task runs.

This module owns :class:`TrackedFile`, the Python counterpart of the .NET library's ``TrackedFile``
(``SaveTrackedAsync``). It imports the standard library and ``azure-storage-blob`` only.

Behaviour kept from .NET: the blob is an append blob; a background timer appends only the bytes the
file gained since the last flush; the first flush happens at once; a tick is skipped while a flush
still runs; closing (leaving the ``with`` block) stops the timer and runs a final flush whose errors
are raised; errors of background flushes go to a callback instead.

Flaws fixed:

* **No duplication on a retried or restarted task.** .NET starts every tracker at offset 0 and
  appends the whole file to an existing blob, so a task that runs again duplicates (or mixes) its
  log. Here the invariant is *the blob mirrors the file*: before the first append to a blob that
  already existed, the tracker compares it with the file. If the blob is a prefix of the file (the
  same log, re-tracked after a restart) appending resumes after it; otherwise (a retry that wrote a
  new log, a truncated or rotated file, a blob that is not an append blob, or a SAS that cannot read
  the blob back) the blob is recreated empty and the file is uploaded from its start. The previous
  attempt's log is therefore replaced, exactly as Batch's own ``outputFiles`` upload replaces a
  retried task's ``stdout.txt``.
* **No duplication on a retried request.** Every append carries the append-position condition
  (``x-ms-blob-condition-appendpos``), so an append that the SDK retries after it had in fact
  succeeded fails instead of writing twice; the tracker then reconciles with the blob as above.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobClient, ContentSettings

__all__ = ["DEFAULT_FLUSH_INTERVAL", "MAX_APPEND_BLOCK", "TrackedFile"]

_log = logging.getLogger(__name__)

#: The .NET library's default flush interval (one minute), in seconds.
DEFAULT_FLUSH_INTERVAL = 60.0
#: The largest block a tracker appends in one request by default. Azure accepts 100 MiB since service
#: version 2022-11-02 (4 MiB before); 16 MiB keeps the memory of a flush small while a large backlog
#: still goes in few requests. Appends are sequential by nature, so request count is what costs.
MAX_APPEND_BLOCK = 16 * 1024 * 1024
# Reading the blob back to compare it with the file, in pieces of this size.
_COMPARE_CHUNK = 4 * 1024 * 1024

FlushErrorHandler = Callable[[BaseException], None]


def _log_flush_error(error: BaseException) -> None:
    _log.warning("tracked save: a background flush failed (the next flush retries): %s", error)


class TrackedFile:
    """Mirror of one local file into one append blob, flushed on a timer until closed.

    Build it with ``TaskOutputStorage.track(...)`` rather than directly. Use it as a context manager
    (``with storage.track(kind, "progress.log"): ...``) or call :meth:`close`. :meth:`flush` flushes
    now (waiting for a running flush). ``bytes_appended`` and ``flushes`` count the work done; after
    :meth:`close` the blob holds exactly the file's bytes.
    """

    def __init__(
        self,
        blob: BlobClient,
        source: str | os.PathLike[str],
        *,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        on_flush_error: FlushErrorHandler | None = None,
        content_type: str = "text/plain; charset=utf-8",
        max_block: int = MAX_APPEND_BLOCK,
    ) -> None:
        if not flush_interval > 0:
            raise ValueError(f"flush_interval must be a positive number of seconds, not {flush_interval!r}")
        if not 0 < max_block <= 100 * 1024 * 1024:
            raise ValueError(f"max_block must be between 1 byte and 100 MiB, not {max_block!r}")
        self.max_block = max_block
        self.blob = blob
        self.source = Path(source)
        self.flush_interval = float(flush_interval)
        self.on_flush_error: FlushErrorHandler = on_flush_error or _log_flush_error
        self._content = ContentSettings(content_type=content_type)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._offset = 0  # bytes of the file known to be in the blob, which is also the blob's length
        self._reconciled = False
        self.bytes_appended = 0
        self.flushes = 0
        self.restarts = 0
        self.last_error: BaseException | None = None
        self._closed = False
        try:
            # Create only if missing: works with a create+write SAS and tells a fresh blob (nothing to
            # reconcile) from one left by an earlier run. The blob is listed from now on.
            self.blob.create_append_blob(content_settings=self._content, if_none_match="*")
            self._reconciled = True
        except ResourceExistsError:
            self._reconciled = False
        except HttpResponseError as error:
            # Some services answer 412 rather than 409 to If-None-Match: * on an existing blob.
            if error.status_code != 412:
                raise
        self._thread = threading.Thread(
            target=self._run, name=f"tracked-save:{self.source.name}", daemon=True
        )
        self._thread.start()

    # ---- public -----------------------------------------------------------------------------------
    @property
    def offset(self) -> int:
        """How many bytes of the file the blob holds."""
        return self._offset

    def flush(self) -> None:
        """Append what the file gained since the last flush; waits for a flush in progress. Raises on error."""
        with self._lock:
            self._flush_locked()

    def close(self) -> None:
        """Stop the timer and run the final flush; its errors are raised (as .NET's ``Dispose`` does)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join()
        self.flush()

    def __enter__(self) -> TrackedFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # A failing final flush is raised even when the block failed too; Python chains the block's
        # exception as its context, so neither is lost.
        self.close()

    # ---- timer ------------------------------------------------------------------------------------
    def _run(self) -> None:
        next_tick = time.monotonic()  # the first flush happens at once
        while not self._stop.is_set():
            # Skip the tick if a flush (an explicit flush() from another thread) is still running.
            if self._lock.acquire(blocking=False):
                try:
                    self._flush_locked()
                except Exception as error:  # every failure goes to the handler
                    self.last_error = error
                    try:
                        self.on_flush_error(error)
                    except Exception:  # a broken handler must not stop the tracking
                        _log.exception("tracked save: the on_flush_error handler failed")
                finally:
                    self._lock.release()
            # Ticks keep a fixed rate; ticks missed during a slow flush are skipped, not queued.
            now = time.monotonic()
            next_tick += self.flush_interval
            if next_tick <= now:
                next_tick = now + self.flush_interval - ((now - next_tick) % self.flush_interval)
            self._stop.wait(next_tick - now)

    # ---- flushing (called with the lock held) -----------------------------------------------------
    def _flush_locked(self) -> None:
        try:
            size = self.source.stat().st_size
        except FileNotFoundError:
            return  # nothing to mirror yet (.NET waits the same way)
        if not self._reconciled:
            self._reconcile(size)
        if size < self._offset:
            # Truncated or replaced: keep the blob a mirror of what the file now holds.
            self._restart()
        if size > self._offset:
            self._append_range(size)
        self.flushes += 1

    def _append_range(self, size: int) -> None:
        with open(self.source, "rb") as stream:
            stream.seek(self._offset)
            # Read only up to the size seen at the start of this flush, so a fast writer cannot keep
            # one flush going for ever.
            while self._offset < size:
                chunk = stream.read(min(self.max_block, size - self._offset))
                if not chunk:
                    break  # truncated while we read; the next flush restarts
                try:
                    self.blob.append_block(chunk, appendpos_condition=self._offset)
                except HttpResponseError as error:
                    if error.status_code == 404 or _is_append_position_mismatch(error):
                        # The blob is gone, or not as long as we thought (a retried request had
                        # already landed, or someone else wrote): compare again at the next flush.
                        self._reconciled = False
                    raise
                self._offset += len(chunk)
                self.bytes_appended += len(chunk)

    def _reconcile(self, size: int) -> None:
        """Decide where appending continues for a blob this tracker did not create empty."""
        try:
            properties = self.blob.get_blob_properties()
        except ResourceNotFoundError:
            self._restart()
            return
        except (ClientAuthenticationError, HttpResponseError) as error:
            if error.status_code not in (401, 403):
                raise
            # A write-only SAS cannot read the blob back: start it again from the file.
            self._restart()
            return
        length = int(properties.size or 0)
        is_append = str(properties.blob_type).lower().endswith("appendblob")
        if is_append and length <= size and self._blob_is_prefix_of_file(length):
            self._offset = length
            self._reconciled = True
        else:
            self._restart()

    def _blob_is_prefix_of_file(self, length: int) -> bool:
        if length == 0:
            return True
        compared = 0
        with open(self.source, "rb") as stream:
            downloader = self.blob.download_blob(offset=0, length=length, max_concurrency=1)
            for piece in downloader.chunks():
                if stream.read(len(piece)) != piece:
                    return False
                compared += len(piece)
        return compared == length

    def _restart(self) -> None:
        self.blob.create_append_blob(content_settings=self._content)  # overwrites
        self._offset = 0
        self._reconciled = True
        self.restarts += 1


def _is_append_position_mismatch(error: HttpResponseError) -> bool:
    return error.status_code == 412 and getattr(error, "error_code", None) == "AppendPositionConditionNotMet"
