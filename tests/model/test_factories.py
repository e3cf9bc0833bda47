"""Task factories: parametric sweeps and task per item, substitution, stable ids, scale."""

from __future__ import annotations

from job_samples import NOW, RAW_URL, base_job, check, sweep

from pulumi_azbatch.model import (
    TaskSpec,
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


def test_generated_tasks_are_the_tasks_their_substituted_templates_validate_to() -> None:
    # Placeholders only in plain strings: the expansion builds later tasks from the first one; each
    # must be the very task that validating its substituted template gives.
    template = {
        "command_line": "/bin/sh -c 'run --x {0} --y {1:3} > ${HOME}/out{{0}}'",
        "display_name": "cell {0}/{1}",
        "environment_settings": {"X": "{0}", "FIXED": "same", "Y": "{1}"},
        "constraints": {"max_task_retry_count": 2},
        "resource_files": [{"http_url": "https://h/shared.bin", "file_path": "shared.bin"}],
    }
    job = base_job()
    job["task_factories"] = [
        {
            "type": "parametric_sweep",
            "parameter_sets": [{"start": 1, "end": 3}, {"start": 20, "end": 0, "step": -10}],
            "repeat_task": template,
        }
    ]
    generated = parse_job(job, now=NOW).expand_tasks()[2:]
    expected = [
        TaskSpec.model_validate(
            {
                **template,
                "id": f"task-{i:05d}",
                "command_line": f"/bin/sh -c 'run --x {x} --y {y:03d} > ${{HOME}}/out{{0}}'",
                "display_name": f"cell {x}/{y}",
                "environment_settings": {"X": str(x), "FIXED": "same", "Y": str(y)},
            }
        )
        for i, (x, y) in enumerate((x, y) for x in (1, 2, 3) for y in (20, 10, 0))
    ]
    assert generated == expected
    assert [t.model_dump(mode="json", exclude_unset=True) for t in generated] == [
        t.model_dump(mode="json", exclude_unset=True) for t in expected
    ]


def test_a_generated_task_whose_command_line_substitutes_to_nothing_is_refused() -> None:
    job = base_job()
    job["task_factories"] = [
        {"type": "task_per_item", "items": ["a", "", "c"], "repeat_task": {"command_line": "{0}"}}
    ]
    [failure] = check(job)
    assert failure.property == "task_factories[0]"
    assert "generated task 1 (values '') is invalid: command_line" in failure.reason
    # A later item without a value for a placeholder the first item filled: named like any other.
    job["task_factories"][0].update(items=[["a", "b"], "c"], repeat_task={"command_line": "{0} {1}"})
    [failure] = check(job)
    assert "generated task 1 (values 'c') is invalid: placeholder {1}" in failure.reason


def test_a_changed_factory_expands_to_its_own_tasks() -> None:
    # Expansions are reused across parses of the same factory: a factory that differs in any way
    # (here only the command line) must never get the tasks of another.
    def commands(command: str, end: int = 4) -> list[str]:
        job = base_job()
        job["task_factories"] = [
            sweep(parameter_sets=[{"start": 0, "end": end}], repeat_task={"command_line": command})
        ]
        return [t.command_line for t in parse_job(job, now=NOW).expand_tasks()[2:]]

    assert commands("a {0}") == ["a 0", "a 1", "a 2", "a 3", "a 4"]
    assert commands("b {0}") == ["b 0", "b 1", "b 2", "b 3", "b 4"]
    assert commands("a {0}", end=2) == ["a 0", "a 1", "a 2"]
    assert commands("a {0}") == ["a 0", "a 1", "a 2", "a 3", "a 4"]
