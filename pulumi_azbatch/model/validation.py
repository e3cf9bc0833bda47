"""Validation of a raw job spec: every failure named by its property, Pulumi's unknown values tolerated.

Owns: :func:`validate_job` (the provider's ``check``), :func:`parse_job` (create/update: every value
must be known), :func:`load_stored_job` (structure only, for stored state) and
:class:`JobSpecError`. The rules themselves live on the models and in :mod:`.rules`.

May import: :mod:`.common`, the model modules, :mod:`.rules`, pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .common import (
    IdentityReferenceSpec,
    Path,
    ValidationFailure,
    error_path,
    error_reason,
    format_path,
    is_unknown,
    plain_data,
)
from .factories import ParameterSetSpec, ParametricSweepFactory, TaskPerItemFactory
from .job import JobSpec
from .outputs import OutputFileSpec
from .rules import DEFER_RULES, Unknowns, dedupe, run_rules
from .schedule import (
    JobManagerTaskSpec,
    JobScheduleSpec,
    JobSpecificationSpec,
    ScheduleSpec,
    as_job_spec,
    schedule_path,
)
from .tasks import (
    AutoUserSpec,
    BindMountSpec,
    ContainerRegistrySpec,
    ContainerSettingsSpec,
    DependsOnSpec,
    ExitCodeMappingSpec,
    ExitCodeRangeSpec,
    ExitConditionsSpec,
    ExitOptionsSpec,
    JobConstraintsSpec,
    JobPreparationTaskSpec,
    JobReleaseTaskSpec,
    ResourceFileSpec,
    TaskConstraintsSpec,
    TaskIdRangeSpec,
    TaskSpec,
    UserIdentitySpec,
)

__all__ = [
    "JobSpecError",
    "load_stored_job",
    "load_stored_schedule",
    "parse_job",
    "parse_schedule",
    "validate_job",
    "validate_schedule",
]

_M = TypeVar("_M", bound=BaseModel)


class JobSpecError(ValueError):
    """Raised by :func:`parse_job`; ``failures`` holds every :class:`ValidationFailure`."""

    def __init__(self, failures: Sequence[ValidationFailure]) -> None:
        self.failures = list(failures)
        super().__init__("invalid job spec:\n" + "\n".join(f"  {f}" for f in self.failures))


def _collect_unknowns(node: Any, path: Path, out: set[Path]) -> None:
    if isinstance(node, str):
        if is_unknown(node):
            out.add(path)
    elif isinstance(node, Mapping):
        for k, v in node.items():
            _collect_unknowns(v, (*path, str(k)), out)
    elif isinstance(node, list | tuple):
        for i, v in enumerate(node):
            _collect_unknowns(v, (*path, i), out)


def _child(node: Any, part: str | int) -> Any:
    """``node[part]`` for a dict key or list index that exists, else None."""
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _remove_at(data: Any, path: Path, unknowns: Unknowns) -> None:
    """Remove the value at ``path`` (or, when it is missing, the object holding it) from ``data``."""
    while path:
        parent: Any = data
        for part in path[:-1]:
            parent = _child(parent, part)
        last = path[-1]
        if isinstance(parent, dict) and last in parent:
            del parent[last]
            return
        if isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent):
            del parent[last]
            # Later elements moved: treat the whole list as unknown so no rule reports shifted paths.
            unknowns.add(path[:-1])
            return
        # Missing: a required value was unknown, so the object holding it is unusable.
        unknowns.add(path[:-1])
        path = path[:-1]


_ALL_FIELD_NAMES: frozenset[str] = frozenset()


def _field_names() -> frozenset[str]:
    global _ALL_FIELD_NAMES
    if not _ALL_FIELD_NAMES:
        models: list[type[BaseModel]] = [
            JobSpec,
            JobScheduleSpec,
            JobSpecificationSpec,
            JobManagerTaskSpec,
            ScheduleSpec,
            TaskSpec,
            JobPreparationTaskSpec,
            JobReleaseTaskSpec,
            OutputFileSpec,
            ResourceFileSpec,
            JobConstraintsSpec,
            TaskConstraintsSpec,
            UserIdentitySpec,
            AutoUserSpec,
            ContainerSettingsSpec,
            ContainerRegistrySpec,
            BindMountSpec,
            ExitConditionsSpec,
            ExitOptionsSpec,
            ExitCodeMappingSpec,
            ExitCodeRangeSpec,
            DependsOnSpec,
            TaskIdRangeSpec,
            ParametricSweepFactory,
            TaskPerItemFactory,
            ParameterSetSpec,
            IdentityReferenceSpec,
        ]
        _ALL_FIELD_NAMES = frozenset(name for m in models for name in m.model_fields)
    return _ALL_FIELD_NAMES


def _error_to_failure(error: Mapping[str, Any], data: Any) -> ValidationFailure:
    """A pydantic error as a ValidationFailure with a raw-input path and a readable reason."""
    path = error_path(error["loc"], data)
    return ValidationFailure(
        format_path(path), error_reason(error, path, noun="property", names=_field_names)
    )


def validate_job(raw: Mapping[str, Any] | JobSpec, *, now: datetime | None = None) -> list[ValidationFailure]:
    """Every problem with a job spec, each naming its property; an empty list means valid.

    ``raw`` is the mapping from stack config or the provider's inputs (snake_case keys), or a
    ``JobSpec``. Values holding Pulumi's unknown sentinel (:data:`UNKNOWN`, during preview) are
    tolerated: a rule whose inputs are unknown is skipped. Structural errors (types, unknown
    properties, missing values) are reported first; the cross-property rules run once the structure
    is valid. ``now`` (UTC) is for SAS expiry checks and defaults to the current time.
    """
    return _validate(raw, now or datetime.now(UTC))[1]


def _validate(
    raw: Mapping[str, Any] | JobSpec, now: datetime
) -> tuple[JobSpec | None, list[ValidationFailure]]:
    if isinstance(raw, JobSpec):
        return raw, run_rules(raw, Unknowns(set()), now)
    if not isinstance(raw, Mapping):
        return None, [ValidationFailure("", f"a job spec must be a mapping, got {type(raw).__name__}")]
    spec, failures, unknowns = _structure(JobSpec, raw)
    if spec is None:
        return None, failures
    return spec, run_rules(spec, unknowns, now)


def _structure(
    model: type[_M], raw: Mapping[str, Any]
) -> tuple[_M | None, list[ValidationFailure], Unknowns]:
    """``model`` from ``raw`` without the cross-property rules, unknown values tolerated.

    Returns the instance (None when a definite structural error was found, or everything that
    failed was unknown), the structural failures and the paths of ``raw`` that are unknown.
    """
    data = plain_data(raw)
    unknown_paths: set[Path] = set()
    _collect_unknowns(data, (), unknown_paths)
    unknowns = Unknowns(unknown_paths)
    context = {DEFER_RULES: True}
    # Each round removes the unknown values pydantic cannot accept (an int, an enum, a required
    # value...); every removal is recorded as unknown so no rule reads the defaults left behind.
    for _ in range(32):
        try:
            return model.model_validate(data, context=context), [], unknowns
        except ValidationError as exc:
            hard: list[ValidationFailure] = []
            tolerated: list[Path] = []
            for error in exc.errors():
                path = error_path(error["loc"], data)
                if unknowns.affects(path) or is_unknown(error.get("input")):
                    tolerated.append(path)
                else:
                    hard.append(_error_to_failure(error, data))
            if hard:
                return None, dedupe(hard), unknowns
            for path in sorted(tolerated, key=_path_sort_key, reverse=True):
                _remove_at(data, path, unknowns)
    return None, [], unknowns  # everything that failed was unknown: nothing definite to report


def _path_sort_key(path: Path) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, p) if isinstance(p, int) else (1, p) for p in path)


def load_stored_job(raw: Mapping[str, Any]) -> JobSpec:
    """The ``JobSpec`` of inputs stored in the state, checked for structure only.

    The cross-property rules (a SAS expiring before the job can finish, ...) were enforced when the
    job was created; re-applying them to stored inputs would let a SAS that has expired since block
    a diff or a destroy.
    """
    return JobSpec.model_validate(raw, context={DEFER_RULES: True})


def parse_job(raw: Mapping[str, Any] | JobSpec, *, now: datetime | None = None) -> JobSpec:
    """A valid ``JobSpec`` from ``raw``, or ``JobSpecError`` listing every failure.

    Unlike :func:`validate_job`, unknown values are an error here: creating or updating a job needs
    every value. This is what the provider's create/update should call.
    """
    if not isinstance(raw, JobSpec):
        _refuse_unknowns(raw)
    spec, failures = _validate(raw, now or datetime.now(UTC))
    if failures or spec is None:
        raise JobSpecError(failures)
    return spec


def _refuse_unknowns(raw: Any) -> None:
    """Raise :class:`JobSpecError` naming every unknown value of ``raw`` (create and update need all)."""
    unknown_paths: set[Path] = set()
    _collect_unknowns(raw, (), unknown_paths)
    if unknown_paths:
        raise JobSpecError(
            [
                ValidationFailure(format_path(p), "value is unknown (only allowed during preview)")
                for p in sorted(unknown_paths, key=_path_sort_key)
            ]
        )


# ---- job schedules ----------------------------------------------------------------------------------

_NO_TASK_LIST = (
    "a job schedule's job_specification has no task list (Batch's jobSpecification carries none): "
    "give it a job_manager_task that adds the run's tasks or does the work, or use a Job"
)


def validate_schedule(
    raw: Mapping[str, Any] | JobScheduleSpec, *, now: datetime | None = None
) -> list[ValidationFailure]:
    """Every problem with a job schedule spec, each naming its property; unknown values tolerated.

    The schedule's own structure (timetable, job manager flags, knobs) is checked here; its job
    specification and job manager task are checked by the job's validation and rules, run on the
    job a run of the schedule is (:func:`~.schedule.as_job_spec`), with the paths mapped back
    (``job_specification.job_manager_task.output_files[0]``).
    """
    when = now or datetime.now(UTC)
    if isinstance(raw, JobScheduleSpec):
        raw = raw.model_dump(mode="json", exclude_defaults=True)
    if not isinstance(raw, Mapping):
        return [ValidationFailure("", f"a job schedule spec must be a mapping, got {type(raw).__name__}")]
    data = plain_data(raw)
    failures: list[ValidationFailure] = []
    spec = data.get("job_specification")
    if isinstance(spec, Mapping):
        for key in ("tasks", "task_factories"):
            if key in spec:
                failures.append(ValidationFailure(f"job_specification.{key}", _NO_TASK_LIST))
        data["job_specification"] = {k: v for k, v in spec.items() if k not in ("tasks", "task_factories")}
    _, structural, _ = _structure(JobScheduleSpec, data)
    failures.extend(structural)
    job_failures = validate_job(as_job_spec(data), now=when)
    for failure in job_failures:
        reason = (
            failure.reason.replace("job id", "job schedule id")
            if failure.property == "id"
            else failure.reason
        )
        failures.append(ValidationFailure(schedule_path(failure.property), reason))
    return dedupe(failures)


def parse_schedule(raw: Mapping[str, Any], *, now: datetime | None = None) -> JobScheduleSpec:
    """A valid ``JobScheduleSpec`` from ``raw``, or ``JobSpecError`` listing every failure (no unknowns)."""
    _refuse_unknowns(raw)
    failures = validate_schedule(raw, now=now)
    if failures:
        raise JobSpecError(failures)
    return JobScheduleSpec.model_validate(plain_data(raw))


def load_stored_schedule(raw: Mapping[str, Any]) -> JobScheduleSpec:
    """The ``JobScheduleSpec`` of stored inputs, structure only (see :func:`load_stored_job`)."""
    return JobScheduleSpec.model_validate(raw, context={DEFER_RULES: True})
