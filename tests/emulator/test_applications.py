"""Applications and application packages from `--applications-dir` (service/applications.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError
from emulator_helpers import Emulator, pool_options, wait_task


def test_packages_are_listed_and_reach_tasks(tmp_path: Path) -> None:
    apps = tmp_path / "apps"
    (apps / "blender" / "2.7").mkdir(parents=True)
    (apps / "blender" / "2.7" / "VERSION").write_text("blender 2.7")
    (apps / "tools" / "1.0").mkdir(parents=True)
    (apps / "tools" / "1.0" / "tool.sh").write_text("echo tool")
    (apps / "tools" / "application.json").write_text('{"displayName": "Team tools", "defaultVersion": "1.0"}')
    emulator = Emulator(tmp_path / "batch", ["--applications-dir", str(apps)])
    try:
        c = emulator.client
        listed = {a.id: (a.display_name, a.versions) for a in c.list_applications()}
        assert listed == {"blender": ("blender", ["2.7"]), "tools": ("Team tools", ["1.0"])}
        assert c.get_application("TOOLS").versions == ["1.0"]
        with pytest.raises(HttpResponseError) as err:
            c.create_pool(
                pool_options(
                    "bad",
                    application_package_references=[
                        m.BatchApplicationPackageReference(application_id="absent")
                    ],
                )
            )
        assert err.value.error.code == "InvalidApplicationPackageReferences"
        c.create_pool(
            pool_options(
                "apps",
                application_package_references=[
                    m.BatchApplicationPackageReference(application_id="blender", version="2.7")
                ],
            )
        )
        c.create_job(m.BatchJobCreateOptions(id="j", pool_info=m.BatchPoolInfo(pool_id="apps")))
        c.create_task(
            "j",
            m.BatchTaskCreateOptions(
                id="t",
                command_line="/bin/sh -c 'cat $AZ_BATCH_APP_PACKAGE_blender_2_7/VERSION; echo; cat $AZ_BATCH_APP_PACKAGE_tools/tool.sh'",
                application_package_references=[m.BatchApplicationPackageReference(application_id="tools")],
            ),
        )
        task = wait_task(c, "j", "t", timeout=30)
        assert task.execution_info.exit_code == 0, task.execution_info
        assert b"".join(c.download_task_file("j", "t", "stdout.txt")) == b"blender 2.7\necho tool"
    finally:
        emulator.stop()
