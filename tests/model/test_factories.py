"""Task factories: parametric sweeps and task per item, substitution, stable ids, scale."""

from __future__ import annotations

from job_samples import NOW, RAW_URL, base_job, check, sweep

from pulumi_azbatch.model import (
    ValidationFailure,
    parse_job,
    task_fingerprint,
)

# --------------------------------------------------------------------------------------------------
# Task factories
# --------------------------------------------------------------------------------------------------


def test_parametric_sweep_expands_with_substitution_everywhere() -> None:
    job = base_job()
    job["task_factories"] = [
        {
            "type": "parametric_sweep",
            "parameter_sets": [{"start": 1, "end": 2}, {"start": 10, "end": 0, "step": -5}],
            "id_prefix": "render",
            "repeat_task": {
                "display_name": "frame {0} quality {1}",
                "command_line": "/bin/sh -c 'render --frame {0:4} --q {1} > ${HOME}/f{0}.png && echo {{0}}'",
                "environment_settings": {"FRAME": "{0}"},
                "resource_files": [{"http_url": "https://h/scene-{0}.blend", "file_path": "scene.blend"}],
                "output_files": [
                    {"file_pattern": "f{0}.png", "kind": "TaskOutput", "relative_path": "q{1}/f{0:3}.png"},
                    {"file_pattern": "f{0}.png", "container_url": RAW_URL, "path": "frames/{0}-{1}.png"},
                ],
            },
        }
    ]
    spec = parse_job(job, now=NOW)
    tasks = spec.expand_tasks()
    generated = tasks[2:]
    assert [t.id for t in generated] == [
        "render-00000",
        "render-00001",
        "render-00002",
        "render-00003",
        "render-00004",
        "render-00005",
    ]
    first = generated[0]
    assert first.command_line == "/bin/sh -c 'render --frame 0001 --q 10 > ${HOME}/f1.png && echo {0}'"
    assert first.display_name == "frame 1 quality 10"
    assert first.environment_settings == {"FRAME": "1"}
    assert first.resource_files[0].http_url == "https://h/scene-1.blend"
    # The last parameter set varies fastest.
    assert [t.environment_settings["FRAME"] for t in generated] == ["1", "1", "1", "2", "2", "2"]
    assert [t.output_files[1].path for t in generated][:3] == [
        "frames/1-10.png",
        "frames/1-5.png",
        "frames/1-0.png",
    ]
    wire = spec.to_batch_task_creates()[2].as_dict()
    assert [o["destination"]["container"]["path"] for o in wire["outputFiles"]] == [
        "render-00000/$TaskOutput/q10/f001.png",
        "frames/1-10.png",
    ]
    assert spec.task_count() == 8


def test_id_template_and_task_per_item() -> None:
    job = base_job()
    job["task_factories"] = [
        {
            "type": "task_per_item",
            "items": ["alpha", ["beta", "b"], 7],
            "repeat_task": {"id": "item-{0}", "command_line": "process {0} {1}"},
        }
    ]
    # "alpha" and 7 have no {1}: the placeholder error names the factory.
    failures = check(job)
    assert failures == [
        ValidationFailure(
            "task_factories[0]",
            failures[0].reason,
        )
    ]
    assert "generated task 0 (values 'alpha') is invalid" in failures[0].reason
    assert "placeholder {1} but the factory gives only 1 value(s)" in failures[0].reason
    job["task_factories"][0]["repeat_task"]["command_line"] = "process {0}"
    spec = parse_job(job, now=NOW)
    assert [(t.id, t.command_line) for t in spec.expand_tasks()[2:]] == [
        ("item-alpha", "process alpha"),
        ("item-beta", "process beta"),
        ("item-7", "process 7"),
    ]


def test_factory_ids_are_stable_when_the_sweep_grows() -> None:
    def ids(end: int) -> list[str]:
        job = base_job()
        job["task_factories"] = [sweep(parameter_sets=[{"start": 0, "end": end}])]
        return [t.id for t in parse_job(job, now=NOW).expand_tasks()[2:]]

    small, large = ids(9), ids(99)
    assert large[: len(small)] == small
    assert ids(9) == small  # deterministic


def test_ten_thousand_tasks_expand_validate_and_map() -> None:
    job = base_job()
    job["task_factories"] = [
        {
            "type": "parametric_sweep",
            "parameter_sets": [{"start": 0, "end": 99}, {"start": 0, "end": 99}],
            "repeat_task": {
                "command_line": "simulate --x {0} --y {1}",
                "output_files": [
                    {"file_pattern": "result.csv", "kind": "TaskOutput"},
                    {"file_pattern": "../std*.txt", "kind": "TaskLog", "upload_condition": "taskcompletion"},
                ],
            },
        }
    ]
    assert check(job) == []
    spec = parse_job(job, now=NOW)
    tasks = spec.expand_tasks()
    assert len(tasks) == 10_002
    assert len({t.id.lower() for t in tasks}) == 10_002
    assert tasks[-1].id == "task-09999" and tasks[-1].command_line == "simulate --x 99 --y 99"
    fingerprints = [task_fingerprint(t) for t in tasks]
    creates = spec.to_batch_task_creates()
    assert creates[-1].output_files[0].destination.container.path == "task-09999/$TaskOutput/result.csv"
    assert len(set(fingerprints)) == 10_002
