"""Microsoft's clients this project did not write, installed from the package registries on first use.

Owns locating (and, when missing, installing) the JavaScript SDK `@azure/batch` (pinned in package.json,
installed by `npm ci` in scripts/bootstrap.sh), running a client script, and reading its step outcomes.
Standard library only. (The Azure CLI was measured but is not part of the suite: `pip install azure-cli`
took 380 s and 733 MB on the shared 2-core machine.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
JS_SDK = ROOT / "node_modules" / "@azure" / "batch" / "package.json"


def ensure_js_sdk() -> str:
    """The installed @azure/batch version; installs the locked packages first if it is missing."""
    if not JS_SDK.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                "npm is required (Node.js 18 or newer) for the JavaScript SDK conformance tests"
            )
        # `npm install` (not `npm ci`) adds what is missing without removing the Azurite a session may be running.
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT, check=True)
    return str(json.loads(JS_SDK.read_text())["version"])


def run_node(script: Path, env: dict[str, str], timeout: float = 300) -> dict[str, Any]:
    """Run a Node script that prints one JSON document on stdout; fail with its stderr otherwise."""
    done = subprocess.run(
        ["node", str(script)],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
    except (ValueError, IndexError) as err:
        raise AssertionError(
            f"{script.name} printed no result (exit {done.returncode}): {done.stderr[-2000:]}"
        ) from err


def scenario_step(result: dict[str, Any], name: str) -> Any:
    """The value a scenario step returned; fails with the step's recorded error when it did not succeed."""
    step = result["steps"].get(name)
    assert step is not None, f"step {name} did not run: {result.get('fatal')}"
    assert step["ok"], f"step {name} failed: {step}"
    return step["value"]
