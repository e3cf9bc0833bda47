"""The models of this package: the job, the pool and the output storage, with their SDK and ARM mappings.

Everything that describes a job lives here, once: the job's own properties, its job preparation and
job release tasks, its tasks (explicit or expanded from task factories), their output files (raw or by
File Conventions kind) and the provider knobs that belong with the job (``on_destroy``, ``wait_for``).
The pool and the output storage sit beside it. Stack config (``config.py``), the components and the
dynamic providers all use these models, so defaults and rules are defined in one place.

==================  ===========================================================================
module              owns
==================  ===========================================================================
``common``          unknown values, ids, enum normaliser, durations, URLs, plain data, paths,
                    pydantic-error conversion, the model base, the identity reference
``outputs``         output files, File Conventions resolution
``tasks``           tasks, task template, job preparation/release tasks and their parts
``factories``       parametric sweep, task per item
``job``             ``JobPropertiesSpec`` (shared with schedules), ``JobSpec``, in-place updatable
                    fields, ``make_job_id``
``schedule``        ``JobScheduleSpec``: timetable, job specification (the job's properties plus a
                    job manager task), in-place updatable fields
``rules``           the one rules engine (cross-property rules of a job)
``validation``      ``validate_job``, ``parse_job``, ``load_stored_job``, ``JobSpecError``; the same
                    for schedules (``validate_schedule``...)
``canonical``       ``canonical_task``, ``task_fingerprint``
``pool``            ``PoolSpec`` and its parts, SDK and ARM mapping
``storage``         ``StorageSpec``, container names, SAS permissions, ARM mapping
==================  ===========================================================================

Conventions
-----------
* **Property names are snake_case everywhere**: in Python, in stack YAML and in the dynamic
  provider's inputs. There are no camelCase aliases; the camelCase REST wire shape only exists in the
  SDK models returned by the ``to_batch_*``/``to_sdk`` methods (``.as_dict()`` gives the wire JSON).
  A camelCase key in YAML is rejected with a did-you-mean (``commandLine`` -> ``command_line``).
* Lists of name/value pairs in the REST API (environment settings, metadata, upload headers) are
  mappings here (``{"NAME": "value"}``), mapped back to lists in insertion order.
* Enumerations accept any case and are stored in the service's spelling
  (``TaskCompletion`` -> ``taskcompletion``). Durations accept ``timedelta``, ISO-8601 strings
  (``PT15M``) or seconds.
* ``None`` means "not set, the service default applies"; where the reference gives a default for the
  job preparation and job release tasks, the model carries it explicitly.
* Models are frozen (immutable); use ``model_copy(update=...)`` to derive a changed spec.

May import: pydantic, ``azure.batch.models``, :mod:`pulumi_azbatch.conventions` (azure-native's
argument types only inside the ``to_arm_*`` methods). Must not import the pulumi runtime, stack
config, components, providers or dev tooling.
"""

from .canonical import canonical_task, task_fingerprint
from .common import (
    ID_PATTERN,
    MAX_ID_LENGTH,
    UNKNOWN,
    IdentityReferenceSpec,
    ValidationFailure,
    contains_unknown,
    format_duration,
    format_path,
    is_unknown,
)
from .factories import ParameterSetSpec, ParametricSweepFactory, TaskFactory, TaskPerItemFactory
from .job import JOB_FIELDS_PATCHED, JOB_FIELDS_UPDATABLE_IN_PLACE, JobSpec, make_job_id, split_job_inputs
from .outputs import OutputFileSpec, convention_path, has_wildcard, resolve_output_file
from .pool import ImageReferenceSpec, PoolIdentitySpec, PoolSpec, StartTaskSpec
from .schedule import JobManagerTaskSpec, JobScheduleSpec, JobSpecificationSpec, ScheduleSpec
from .storage import StorageSpec, canonical_permissions, container_name_problem, container_url
from .tasks import (
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
from .validation import (
    JobSpecError,
    load_stored_job,
    load_stored_schedule,
    parse_job,
    parse_schedule,
    validate_job,
    validate_schedule,
)

__all__ = [
    "JobManagerTaskSpec",
    "JobScheduleSpec",
    "JobSpecificationSpec",
    "ScheduleSpec",
    "load_stored_schedule",
    "parse_schedule",
    "validate_schedule",
    "DEFAULT_JOB_PREPARATION_TASK_ID",
    "DEFAULT_JOB_RELEASE_TASK_ID",
    "ID_PATTERN",
    "JOB_FIELDS_PATCHED",
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
    "ImageReferenceSpec",
    "JobConstraintsSpec",
    "JobPreparationTaskSpec",
    "JobReleaseTaskSpec",
    "JobSpec",
    "JobSpecError",
    "OutputFileSpec",
    "ParameterSetSpec",
    "ParametricSweepFactory",
    "PoolIdentitySpec",
    "PoolSpec",
    "ResourceFileSpec",
    "StartTaskSpec",
    "StorageSpec",
    "TaskConstraintsSpec",
    "TaskFactory",
    "TaskIdRangeSpec",
    "TaskPerItemFactory",
    "TaskSpec",
    "TaskTemplateSpec",
    "UserIdentitySpec",
    "ValidationFailure",
    "canonical_permissions",
    "canonical_task",
    "container_name_problem",
    "container_url",
    "contains_unknown",
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
