"""``python -m pulumi_azbatch.cli``: offline checks of the committed stack configs (GitOps PR checks).

``validate [DIR_OR_FILES...]`` validates every ``Pulumi.*.yaml`` in ``stacks/`` (or the given
directories and files) without Pulumi, credentials or network, prints one line per problem naming
its YAML key, and exits 1 when any file is invalid (2 when there was nothing to validate).
``schema`` prints the JSON Schema of a stack file (``make schema`` writes ``stacks/schema.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pulumi_azbatch.config import StackConfigError, load_stack_file, stack_file_schema
from pulumi_azbatch.model.common import format_duration


def _stack_files(targets: list[str]) -> list[Path]:
    files: list[Path] = []
    for target in targets:
        path = Path(target)
        if path.is_dir():
            files.extend(sorted(path.glob("Pulumi.*.yaml")) + sorted(path.glob("Pulumi.*.yml")))
        else:
            files.append(path)
    return files


def _validate(args: argparse.Namespace) -> int:
    files = _stack_files(args.targets or ["stacks"])
    if not files:
        print(f"no Pulumi.<stack>.yaml files in {', '.join(args.targets or ['stacks'])}", file=sys.stderr)
        return 2
    bad = 0
    for path in files:
        if not path.exists():
            print(f"{path}: file not found", file=sys.stderr)
            bad += 1
            continue
        try:
            config = load_stack_file(path)
        except StackConfigError as exc:
            bad += 1
            print(f"{path}: {len(exc.failures)} problem(s)")
            for failure in exc.failures:
                print(f"  {failure}")
            continue
        pools = ", ".join(f"pool {p.id} {p.scale_summary}" for p in config.pools.values())
        jobs = ", ".join(
            f"job {j.id}, {j.task_count()} task(s), container {config.container_name(name)}"
            for name, j in config.jobs.items()
        )
        schedules = "".join(
            f", schedule {s.id} every {format_duration(s.schedule.recurrence_interval)}"
            if s.schedule.recurrence_interval
            else f", schedule {s.id} (one run)"
            for s in config.schedules.values()
        )
        print(
            f"{path}: ok (backend {config.backend}, {pools or 'no pools of its own'}, {jobs or 'no jobs'}{schedules})"
        )
    if bad:
        print(f"{bad} of {len(files)} stack file(s) invalid", file=sys.stderr)
    return 1 if bad else 0


def _schema(args: argparse.Namespace) -> int:
    text = json.dumps(stack_file_schema(), indent=2, sort_keys=False) + "\n"
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m pulumi_azbatch.cli`` and the ``azbatch-stacks`` script."""
    parser = argparse.ArgumentParser(prog="python -m pulumi_azbatch.cli", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    validate = sub.add_parser("validate", help="validate stack files offline (default: stacks/)")
    validate.add_argument("targets", nargs="*", help="directories (Pulumi.*.yaml inside) or files")
    validate.set_defaults(func=_validate)
    schema = sub.add_parser("schema", help="print the JSON Schema of a stack file")
    schema.add_argument("-o", "--output", help="write to this file instead of stdout")
    schema.set_defaults(func=_schema)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
