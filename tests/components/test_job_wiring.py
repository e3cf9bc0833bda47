"""BatchJob's File Conventions defaults: every task persists stdout/stderr to {taskId}/$TaskLog."""

from __future__ import annotations

from pulumi_azbatch.components import with_task_logs

from pulumi_azbatch.spec import TaskSpec, resolve_output_file


def test_every_task_and_template_gets_its_logs() -> None:
    job = {
        "id": "render",
        "tasks": [{"id": "merge", "command_line": "/bin/true"}],
        "task_factories": [
            {
                "type": "parametric_sweep",
                "parameter_sets": [{"start": 1, "end": 2}],
                "repeat_task": {"command_line": "/bin/echo {0}"},
            }
        ],
    }
    out = with_task_logs(job)
    assert "output_files" not in job["tasks"][0], "the caller's mapping is not modified"
    for task in (out["tasks"][0], out["task_factories"][0]["repeat_task"]):
        logs = [(o["file_pattern"], o["kind"], o["upload_condition"]) for o in task["output_files"]]
        assert logs == [
            ("../stdout.txt", "TaskLog", "taskcompletion"),
            ("../stderr.txt", "TaskLog", "taskcompletion"),
        ]


def test_logs_land_under_the_task_log_kind() -> None:
    task = TaskSpec.model_validate(
        with_task_logs({"tasks": [{"id": "t1", "command_line": "/bin/true"}]})["tasks"][0]
    )
    url = "https://a.blob.core.windows.net/job-render?sp=cw&sig=x"
    paths = [resolve_output_file(o, task_id="t1", output_container_url=url).path for o in task.output_files]
    assert paths == ["t1/$TaskLog/stdout.txt", "t1/$TaskLog/stderr.txt"]


def test_an_existing_log_output_is_not_duplicated() -> None:
    task = {
        "id": "t",
        "command_line": "/bin/true",
        "output_files": [{"file_pattern": "../std*.txt", "kind": "TaskLog"}],
    }
    out = with_task_logs({"tasks": [task]})
    assert out["tasks"][0]["output_files"] == task["output_files"]


def test_a_wildcard_output_in_the_working_directory_does_not_swallow_the_logs() -> None:
    # `*.txt` names files in the task's working directory; stdout.txt and stderr.txt are one level up.
    task = {
        "id": "t",
        "command_line": "/bin/true",
        "output_files": [{"file_pattern": "*.txt", "kind": "TaskOutput"}],
    }
    out = with_task_logs({"tasks": [task]})["tasks"][0]["output_files"]
    assert [(o["file_pattern"], o["kind"]) for o in out] == [
        ("*.txt", "TaskOutput"),
        ("../stdout.txt", "TaskLog"),
        ("../stderr.txt", "TaskLog"),
    ]


def test_only_a_task_log_output_reaching_the_parent_directory_covers_the_logs() -> None:
    def logs_added(pattern: str, kind: str = "TaskLog") -> list[str]:
        task = {
            "id": "t",
            "command_line": "/bin/true",
            "output_files": [{"file_pattern": pattern, "kind": kind}],
        }
        return [o["file_pattern"] for o in with_task_logs({"tasks": [task]})["tasks"][0]["output_files"][1:]]

    assert logs_added("*.txt") == ["../stdout.txt", "../stderr.txt"]
    assert logs_added("**/*.txt") == ["../stdout.txt", "../stderr.txt"]
    assert logs_added("../*.txt") == []
    assert logs_added("../stdout.txt") == ["../stderr.txt"]
    # The same file to another kind is another upload; the log still goes to $TaskLog.
    assert logs_added("../*.txt", kind="TaskOutput") == ["../stdout.txt", "../stderr.txt"]


def test_secret_config_properties_come_from_the_stack_files_secure_leaves() -> None:
    from pulumi_azbatch.components.stack_config import ALL_PROPERTIES, secret_properties

    file_config = {
        "azbatch:job": {
            "id": "j",
            "common_environment_settings": {"TOKEN": {"secure": "v1:abc"}, "PLAIN": "x"},
            "tasks": [{"id": "t", "environment_settings": {"K": {"secure": "v1:def"}}}],
        },
        "azbatch:pool": {"secure": "v1:whole"},
    }
    found = secret_properties(["azbatch:job", "azbatch:pool", "azbatch:storage"], file_config)
    assert found == {
        "job": frozenset({"common_environment_settings", "tasks"}),
        # A whole value encrypted, or a secret the file does not show: everything made from it.
        "pool": frozenset({ALL_PROPERTIES}),
        "storage": frozenset({ALL_PROPERTIES}),
    }
