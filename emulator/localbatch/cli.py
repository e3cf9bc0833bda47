"""`localbatch serve`: run the local Azure Batch emulator.

Account name and key come from `--account-name` and `--account-key-file` (a file, or `-` for
standard input, which is how `localdev` passes it), else `LOCALBATCH_ACCOUNT_NAME` /
`LOCALBATCH_ACCOUNT_KEY`, else the documented well-known development account below (like Azurite's
`devstoreaccount1`). `--account-key` still works but puts the key in `/proc/<pid>/cmdline`, which
every local process (tasks included) can read; the environment variable is removed from the
emulator's environment once read, and tasks never inherit the emulator's environment.
The server binds to loopback unless told otherwise.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from .server import make_server
from .service import BatchService
from .timing import MODES, make_timing

# The well-known development account (documented; never a secret, like Azurite's key).
DEV_ACCOUNT_NAME = "devbatchaccount1"
DEV_ACCOUNT_KEY = "wC4mWSU17Cyc+9pKOp9dPJNqQb9Dq8uVWkrghNzxw7B9j9iIqiswEqDvv+BkCBgK37W4PN/zmQhTjVWiXu7gWg=="
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="localbatch", description="A local emulator of the Azure Batch service."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the emulator")
    serve.add_argument("--host", default=os.environ.get("LOCALBATCH_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("LOCALBATCH_PORT", "8090")))
    serve.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("LOCALBATCH_DATA_DIR", ".localbatch"))
    )
    serve.add_argument("--account-name", default=os.environ.get("LOCALBATCH_ACCOUNT_NAME", DEV_ACCOUNT_NAME))
    serve.add_argument(
        "--account-key", default=None, help="visible to local processes; prefer --account-key-file"
    )
    serve.add_argument(
        "--account-key-file", default=None, help="file holding the account key, or - for stdin"
    )
    cap = os.environ.get("LOCALBATCH_MAX_NODES")
    serve.add_argument(
        "--max-nodes",
        type=int,
        default=int(cap) if cap else None,
        help="cap on the total number of nodes across pools (default: no cap)",
    )
    apps = os.environ.get("LOCALBATCH_APPLICATIONS_DIR")
    serve.add_argument(
        "--applications-dir",
        type=Path,
        default=Path(apps) if apps else None,
        help="application packages as <applicationId>/<version>/ folders (default: <data-dir>/applications)",
    )
    serve.add_argument(
        "--timing",
        choices=MODES,
        default=os.environ.get("LOCALBATCH_TIMING", "fast"),
        help="fast (default): nodes join at once; realistic: nodes are allocated and boot as on Azure",
    )
    serve.add_argument(
        "--timing-scale",
        type=float,
        default=float(os.environ.get("LOCALBATCH_TIMING_SCALE", "1")),
        help="multiply every realistic duration (and resizeTimeout) by this factor, e.g. 0.01 in tests",
    )
    serve.add_argument(
        "--clock-control",
        action="store_true",
        default=os.environ.get("LOCALBATCH_CLOCK_CONTROL", "") in ("1", "true", "yes"),
        help="let POST /_localbatch/clock move the emulator's clock forward (tests of job schedules)",
    )
    serve.add_argument("--verbose", action="store_true", help="log every request to stderr")
    # Where the portal reads File Conventions containers (Azurite locally); optional.
    serve.add_argument(
        "--blob-url",
        default=os.environ.get("LOCALBATCH_BLOB_URL"),
        help="blob endpoint the portal lists job output containers from",
    )
    serve.add_argument("--storage-account-name", default=os.environ.get("LOCALBATCH_STORAGE_ACCOUNT_NAME"))
    serve.add_argument("--storage-account-key", default=os.environ.get("LOCALBATCH_STORAGE_ACCOUNT_KEY"))
    return parser


def account_key(args: argparse.Namespace) -> str:
    """The key from `--account-key-file`, `--account-key`, `LOCALBATCH_ACCOUNT_KEY` or the dev key."""
    from_env = os.environ.pop("LOCALBATCH_ACCOUNT_KEY", None)
    if args.account_key_file == "-":
        return sys.stdin.readline().strip()
    if args.account_key_file:
        return Path(args.account_key_file).read_text().strip()
    return args.account_key or from_env or DEV_ACCOUNT_KEY


def serve(args: argparse.Namespace) -> int:
    """Start the service and the HTTP server; stop cleanly on SIGTERM / Ctrl-C."""
    args.account_key = account_key(args)
    try:
        base64.b64decode(args.account_key, validate=True)
    except (binascii.Error, ValueError):
        print("localbatch: --account-key must be base64 (like a real Batch account key)", file=sys.stderr)
        return 2
    if args.host not in LOOPBACK:
        print(
            f"localbatch: warning: listening on {args.host}, not loopback; anyone who can reach it "
            "can run commands on this machine with the development key",
            file=sys.stderr,
        )
    try:
        timing = make_timing(args.timing, args.timing_scale)
    except ValueError as exc:
        print(f"localbatch: {exc}", file=sys.stderr)
        return 2
    service = BatchService(
        args.data_dir,
        account_name=args.account_name,
        max_nodes=args.max_nodes,
        applications_dir=args.applications_dir,
        timing=timing,
    )
    if args.blob_url:
        from .portal import StorageConfig, configure_storage

        configure_storage(
            service, StorageConfig(args.blob_url, args.storage_account_name, args.storage_account_key)
        )
    server = make_server(
        service,
        host=args.host,
        port=args.port,
        account_name=args.account_name,
        account_key=args.account_key,
        verbose=args.verbose,
        clock_control=args.clock_control,
    )
    service.start()

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(
        f"localbatch: account {args.account_name} at {service.base_url} (data in {service.data_dir})",
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        service.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `localbatch` console script and `python -m localbatch`."""
    args = _parser().parse_args(argv)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
