"""Helpers of the engine tests: the project's own program in a temp directory, using the repo's .venv, and
a stack of it on a private state directory that polls Batch quickly."""

from __future__ import annotations

import shutil
from pathlib import Path

from pulumi import automation as auto

from pulumi_azbatch.localdev import REPO_ROOT, engine_env, workspace_options


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


#: Provider polling for engine tests: jobs of a few seconds need not wait for the default back-off.
FAST_POLL = {"PULUMI_AZBATCH_POLL_INTERVAL": "0.2", "PULUMI_AZBATCH_POLL_MAX_INTERVAL": "0.5"}


def fast_poll_stack(tmp: Path, stack_name: str, work_dir: Path) -> auto.Stack:
    """The stack ``stack_name`` of the program in ``work_dir``, with its state and Pulumi home under ``tmp``."""
    env = engine_env(state_dir=tmp / "state", pulumi_home=tmp / "home")
    env.update(FAST_POLL)
    return auto.create_or_select_stack(stack_name, work_dir=str(work_dir), opts=workspace_options(env))
