"""Helpers of the engine tests: the project's own program in a temp directory, using the repo's .venv."""

from __future__ import annotations

import shutil
from pathlib import Path

from pulumi_azbatch.localdev import REPO_ROOT


def project_copy(tmp: Path) -> Path:
    """``<tmp>/azbatch`` with the project's ``__main__.py``, its ``Pulumi.yaml`` and an empty ``stacks/``."""
    project = tmp / "azbatch"
    (project / "stacks").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "__main__.py", project / "__main__.py")
    pulumi_yaml = (REPO_ROOT / "Pulumi.yaml").read_text()
    assert "virtualenv: .venv" in pulumi_yaml
    (project / "Pulumi.yaml").write_text(
        pulumi_yaml.replace("virtualenv: .venv", f"virtualenv: {REPO_ROOT / '.venv'}")
    )
    return project
