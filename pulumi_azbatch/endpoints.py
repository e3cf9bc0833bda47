"""Where the local emulators listen: :class:`Endpoints`, the contents of ``.local/endpoints.json``.

Owns: the endpoints file's shape (Batch emulator URL, account and key; Azurite blob URL, account and
key) and reading/writing it. The components read it for the local backend; the dev tooling
(:mod:`pulumi_azbatch.localdev`, which starts the emulators) writes it. Lives apart from the dev
tooling so that the library (models, components, providers) never imports it.

May import: the standard library only.
"""

from __future__ import annotations

import json
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["DEFAULT_ENDPOINTS_FILE", "Endpoints", "EndpointsUnreachableError", "unreachable"]

#: Where ``make emulators`` writes the endpoints: ``.local/endpoints.json`` of the checkout.
DEFAULT_ENDPOINTS_FILE = Path(__file__).resolve().parent.parent / ".local" / "endpoints.json"


@dataclass(frozen=True)
class Endpoints:
    """Where the local emulators listen and the credentials to reach them (`.local/endpoints.json`)."""

    batch_url: str
    batch_account_name: str
    batch_account_key: str
    blob_url: str
    storage_account_name: str
    storage_account_key: str
    #: The container runtime the local Batch emulator runs container tasks with (``podman 4.3.1
    #: (runc)``); None: it has none and refuses container tasks, and so does preview (docs/containers.md).
    container_runtime: str | None = None

    @property
    def storage_connection_string(self) -> str:
        return (
            "DefaultEndpointsProtocol=http;"
            f"AccountName={self.storage_account_name};AccountKey={self.storage_account_key};"
            f"BlobEndpoint={self.blob_url};"
        )

    def check_reachable(self, timeout: float = 2.0) -> None:
        """Raise :class:`EndpointsUnreachableError` unless both emulators accept a connection now.

        A deployment against stopped emulators would otherwise spend its whole retry budget (a minute
        and more) before failing; a TCP connect answers in milliseconds.
        """
        down = [
            f"{name} at {url} ({reason})"
            for name, url in (("the Batch emulator", self.batch_url), ("Azurite (blob)", self.blob_url))
            if (reason := unreachable(url, timeout)) is not None
        ]
        if down:
            raise EndpointsUnreachableError(
                f"cannot reach {' and '.join(down)}: start the emulators with `make emulators` "
                "(it rewrites .local/endpoints.json with their ports)"
            )

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path | None = None) -> Endpoints:
        path = path or DEFAULT_ENDPOINTS_FILE
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: start the emulators first with `make emulators`")
        return cls(**json.loads(path.read_text()))


class EndpointsUnreachableError(ConnectionError):
    """An endpoint does not accept connections; the message names it and what to do."""


def unreachable(url: str, timeout: float = 2.0) -> str | None:
    """Why nothing accepts a TCP connection at ``url``'s host and port, or None when something does."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__
