"""``pulumi_azbatch.spec``: the job model's historical import path, kept for user code and Pulumi state.

The model lives in :mod:`pulumi_azbatch.model` (one module per part: tasks, factories, job, outputs,
canonical form, validation, rules); this module re-exports its job-facing names unchanged, so
``from pulumi_azbatch.spec import JobSpec`` keeps working. New code imports from
:mod:`pulumi_azbatch.model`.

Public API: models ``JobSpec``, ``TaskSpec``, ``TaskTemplateSpec``, ``JobPreparationTaskSpec``,
``JobReleaseTaskSpec``, ``OutputFileSpec``, ``ResourceFileSpec``, ``JobConstraintsSpec``,
``TaskConstraintsSpec``, ``UserIdentitySpec``, ``AutoUserSpec``, ``ContainerSettingsSpec``,
``ExitConditionsSpec``, ``ExitOptionsSpec``, ``DependsOnSpec``, ``ParametricSweepFactory``,
``TaskPerItemFactory``, ``ParameterSetSpec``; functions ``validate_job``, ``parse_job``,
``load_stored_job``, ``resolve_output_file``, ``canonical_task``, ``task_fingerprint``,
``make_job_id``, ``is_unknown``.
"""

from pulumi_azbatch.model.canonical import canonical_task, task_fingerprint
from pulumi_azbatch.model.common import (
    ID_PATTERN,
    MAX_ID_LENGTH,
    UNKNOWN,
    IdentityReferenceSpec,
    ValidationFailure,
    format_duration,
    format_path,
    is_unknown,
)
from pulumi_azbatch.model.factories import (
    ParameterSetSpec,
    ParametricSweepFactory,
    TaskFactory,
    TaskPerItemFactory,
)
from pulumi_azbatch.model.job import JOB_FIELDS_UPDATABLE_IN_PLACE, JobSpec, make_job_id, split_job_inputs
from pulumi_azbatch.model.outputs import OutputFileSpec, convention_path, has_wildcard, resolve_output_file
from pulumi_azbatch.model.tasks import (
    DEFAULT_JOB_PREPARATION_TASK_ID,
    DEFAULT_JOB_RELEASE_TASK_ID,
    MAX_RELEASE_WALL_CLOCK_TIME,
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
    TaskTemplateSpec,
    UserIdentitySpec,
)
from pulumi_azbatch.model.validation import JobSpecError, load_stored_job, parse_job, validate_job

__all__ = [
    "DEFAULT_JOB_PREPARATION_TASK_ID",
    "DEFAULT_JOB_RELEASE_TASK_ID",
    "ID_PATTERN",
    "JOB_FIELDS_UPDATABLE_IN_PLACE",
    "MAX_ID_LENGTH",
    "MAX_RELEASE_WALL_CLOCK_TIME",
    "UNKNOWN",
    "AutoUserSpec",
    "BindMountSpec",
    "ContainerRegistrySpec",
    "ContainerSettingsSpec",
    "DependsOnSpec",
    "ExitCodeMappingSpec",
    "ExitCodeRangeSpec",
    "ExitConditionsSpec",
    "ExitOptionsSpec",
    "IdentityReferenceSpec",
    "JobConstraintsSpec",
    "JobPreparationTaskSpec",
    "JobReleaseTaskSpec",
    "JobSpec",
    "JobSpecError",
    "OutputFileSpec",
    "ParameterSetSpec",
    "ParametricSweepFactory",
    "ResourceFileSpec",
    "TaskConstraintsSpec",
    "TaskFactory",
    "TaskIdRangeSpec",
    "TaskPerItemFactory",
    "TaskSpec",
    "TaskTemplateSpec",
    "UserIdentitySpec",
    "ValidationFailure",
    "canonical_task",
    "convention_path",
    "format_duration",
    "format_path",
    "has_wildcard",
    "is_unknown",
    "load_stored_job",
    "make_job_id",
    "parse_job",
    "resolve_output_file",
    "split_job_inputs",
    "task_fingerprint",
    "validate_job",
]
