"""The rules engine: every cross-property rule of a job, run over a structurally valid :class:`JobSpec`.

This is the one place the job's rules that span properties live (ids, a release task needs a
preparation task, SAS permissions and expiry, dependencies, outputs that overwrite each other...).
:class:`~.job.JobSpec` runs them when constructed; :func:`~.validation.validate_job` runs them with
the paths of the input that hold Pulumi's unknown value, so a rule whose inputs are unknown is
skipped rather than reported. Single-property rules are pydantic field/model validators on the
models themselves.

May import: :mod:`.common`, :mod:`.outputs`, :mod:`.tasks`, :mod:`pulumi_azbatch.conventions`
(:class:`~.job.JobSpec` for type hints only: the job imports this module).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from pulumi_azbatch.conventions import job_output_container_name, normalize_relative_path

from .common import (
    ID_PATTERN,
    MAX_ID_LENGTH,
    Path,
    ValidationFailure,
    format_duration,
    format_path,
    invalid_id_characters,
    is_unknown,
)
from .outputs import OutputFileSpec, container_of, convention_path, has_wildcard, literal_name
from .tasks import MAX_RELEASE_WALL_CLOCK_TIME, ResourceFileSpec, TaskSpec

if TYPE_CHECKING:
    from .job import JobSpec

__all__ = ["DEFER_RULES", "Unknowns", "dedupe", "run_rules"]

#: Key into pydantic's validation context: validate_job() runs the cross-property rules itself so that
#: it can skip the ones whose inputs are unknown.
DEFER_RULES = "pulumi_azbatch.defer_rules"


def dedupe(failures: list[ValidationFailure]) -> list[ValidationFailure]:
    """``failures`` without repeats, in order."""
    return list(dict.fromkeys(failures))


class Unknowns:
    """Paths of the raw input that hold Pulumi's unknown sentinel; rules reading them are skipped."""

    def __init__(self, paths: set[Path]) -> None:
        self.exact = set(paths)
        self.ancestors: set[Path] = {p[:i] for p in paths for i in range(len(p))}

    def add(self, path: Path) -> None:
        self.exact.add(path)
        self.ancestors.update(path[:i] for i in range(len(path)))

    def affects(self, path: Path) -> bool:
        """True when the value at ``path`` is unknown, inside an unknown value, or contains one."""
        if not self.exact:
            return False
        if path in self.ancestors:
            return True
        return any(path[:i] in self.exact for i in range(len(path) + 1))

    def known(self, *paths: Path) -> bool:
        if not self.exact:
            return True
        return not any(self.affects(p) for p in paths)


@dataclass(frozen=True)
class _Sas:
    present: bool
    permissions: str | None
    expiry: datetime | None
    expiry_text: str | None


@lru_cache(maxsize=1024)
def _parse_sas(url: str) -> _Sas:
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    present = "sig" in query
    permissions = query["sp"][0] if "sp" in query else None
    expiry_text = query["se"][0] if "se" in query else None
    return _Sas(present, permissions, _parse_time(expiry_text) if expiry_text else None, expiry_text)


def _parse_time(text: str) -> datetime | None:
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _segments(pattern: str) -> list[str]:
    return pattern.split("/")


def _segment_matches_only_dotfiles(segment: str) -> bool:
    """True for a segment whose first character can only be '.', written as a wildcard class.

    Batch skips names starting with '.' unless the pattern names the dot literally, so ``[.]env``
    or ``[.]*`` can only ever match dot files and therefore never matches anything.
    """
    match = re.match(r"^\[(!?)([^\]]*)\]", segment)
    if not match or match.group(1):
        return False
    members = match.group(2)
    return bool(members) and set(members) == {"."}


class _RuleRunner:
    """Runs the cross-property rules over a validated spec, skipping rules whose inputs are unknown."""

    def __init__(self, spec: JobSpec, unknowns: Unknowns, now: datetime) -> None:
        self.spec = spec
        self.unknowns = unknowns
        self.now = now
        self.failures: list[ValidationFailure] = []
        # Generated tasks report against their factory's template, once per property.
        self._template_failures: dict[str, int] = {}
        self._template_counts: dict[str, int] = {}
        # False when some task ids cannot be known yet (unknown values in tasks or factories).
        self.all_tasks_known = unknowns.known(("tasks",), ("task_factories",))
        self.saw_convention_output = False

    def fail(self, path: Path, reason: str, *inputs: Path) -> None:
        if not self.unknowns.known(path, *inputs):
            return
        self.failures.append(ValidationFailure(format_path(path), reason))

    def fail_template(self, path: Path, reason: str, *inputs: Path) -> None:
        """Like :meth:`fail`, but one failure per template property, with a count of generated tasks."""
        if not self.unknowns.known(path, *inputs):
            return
        key = format_path(path)
        if key in self._template_failures:
            self._template_counts[key] += 1
            return
        self._template_failures[key] = len(self.failures)
        self._template_counts[key] = 1
        self.failures.append(ValidationFailure(key, reason))

    def finish(self) -> list[ValidationFailure]:
        for key, index in self._template_failures.items():
            count = self._template_counts[key]
            if count > 1:
                f = self.failures[index]
                self.failures[index] = ValidationFailure(
                    f.property, f"{f.reason} (and {count - 1} more generated task(s))"
                )
        return dedupe(self.failures)


def run_rules(spec: JobSpec, unknowns: Unknowns, now: datetime) -> list[ValidationFailure]:
    r = _RuleRunner(spec, unknowns, now)
    _job_rules(r)
    tasks = _task_sources(r)
    for source in tasks:
        _task_rules(r, source)
    _cross_task_rules(r, tasks)
    url = spec.output_container_url
    if (
        r.saw_convention_output
        and url is not None
        and spec.id is not None
        and ID_PATTERN.fullmatch(spec.id)
        and not is_unknown(url)
    ):
        container = container_of(url)[1]
        expected = job_output_container_name(spec.id)
        if container != expected:
            r.fail(
                ("output_container_url",),
                f"File Conventions outputs need the job's container {expected!r}, but the URL names "
                f"{container!r}; Batch Explorer and the portal will not find the outputs",
                ("id",),
            )
    return r.finish()


def _check_id(r: _RuleRunner, value: str | None, path: Path, what: str, *, template: bool = False) -> None:
    if value is None or ID_PATTERN.fullmatch(value):
        return
    if not value:
        reason = f"{what} must not be empty"
    elif len(value) > MAX_ID_LENGTH:
        reason = f"{what} {value!r} is {len(value)} characters long; Batch allows at most {MAX_ID_LENGTH}"
    else:
        bad = invalid_id_characters(value)
        reason = (
            f"{what} {value!r} may only contain letters, digits, '-' and '_' "
            f"(found {', '.join(repr(c) for c in bad)})"
        )
    (r.fail_template if template else r.fail)(path, reason)


def _job_rules(r: _RuleRunner) -> None:
    spec = r.spec
    _check_id(r, spec.id, ("id",), "job id")
    _check_id(r, spec.pool_id, ("pool_id",), "pool id")
    prep, release = spec.job_preparation_task, spec.job_release_task
    if release is not None and prep is None:
        r.fail(
            ("job_release_task",),
            "a job release task requires a job preparation task (the service rejects the job); add "
            "job_preparation_task, even a no-op such as '/bin/true'",
            ("job_preparation_task",),
        )
    if release is not None and release.max_wall_clock_time > MAX_RELEASE_WALL_CLOCK_TIME:
        r.fail(
            ("job_release_task", "max_wall_clock_time"),
            f"a job release task may run at most 15 min; got {format_duration(release.max_wall_clock_time)}",
        )
    for name, task in (("job_preparation_task", prep), ("job_release_task", release)):
        if task is None:
            continue
        base: Path = (name,)
        _check_id(r, task.id, (*base, "id"), f"{name.replace('_', ' ')} id")
        _resource_file_rules(r, task.resource_files, base, template=False)
    if prep is not None and release is not None and prep.id.lower() == release.id.lower():
        r.fail(
            ("job_release_task", "id"),
            f"the job release task id {release.id!r} is the same as the job preparation task id; give them "
            "different ids",
            ("job_preparation_task", "id"),
        )
    if spec.output_container_url is not None:
        _sas_rules(r, spec.output_container_url, ("output_container_url",), need="w", template=False)
    conventions = spec.file_conventions
    if conventions is not None and conventions.install_library and spec.node_os == "windows":
        r.fail(
            ("file_conventions", "install_library"),
            "the library is installed with /bin/sh, flock and python3: Linux nodes only (node_os is windows)",
            ("node_os",),
        )


@dataclass
class _TaskSource:
    """One expanded task with where its properties live in the input."""

    task: TaskSpec
    base: Path  # ("tasks", i) or ("task_factories", i, "repeat_task")
    id_path: Path
    generated: bool


def _task_sources(r: _RuleRunner) -> list[_TaskSource]:
    spec = r.spec
    sources: list[_TaskSource] = []
    for i, task in enumerate(spec.tasks):
        base: Path = ("tasks", i)
        sources.append(_TaskSource(task, base, (*base, "id"), False))
    for i, factory in enumerate(spec.task_factories):
        fbase: Path = ("task_factories", i)
        if not r.unknowns.known(fbase):
            continue  # cannot expand what is not known yet
        template = factory.repeat_task
        try:
            expanded = factory.expand()
        except ValueError as exc:
            r.fail(fbase, str(exc))
            continue
        base = (*fbase, "repeat_task")
        id_path = (*base, "id") if template.id is not None else (*fbase, "id_prefix")
        sources.extend(_TaskSource(t, base, id_path, True) for t in expanded)
    return sources


def _resource_file_rules(
    r: _RuleRunner, files: Sequence[ResourceFileSpec], base: Path, *, template: bool
) -> None:
    fail = r.fail_template if template else r.fail
    for i, rf in enumerate(files):
        p: Path = (*base, "resource_files", i)
        sources = [
            n
            for n in ("http_url", "storage_container_url", "auto_storage_container_name")
            if getattr(rf, n) is not None
        ]
        if len(sources) != 1:
            fail(
                p,
                "set exactly one of http_url, storage_container_url or auto_storage_container_name"
                + (f" (found {', '.join(sources)})" if sources else ""),
            )
        if rf.http_url is not None and not rf.file_path:
            fail(
                (*p, "file_path"),
                "file_path is required with http_url (it is the full path of the downloaded file)",
            )
        if rf.http_url is not None and rf.blob_prefix is not None:
            fail(
                (*p, "blob_prefix"),
                "blob_prefix only applies to storage_container_url or auto_storage_container_name",
            )
        if rf.file_path is not None and not is_unknown(rf.file_path):
            parts = rf.file_path.replace("\\", "/").split("/")
            if ".." in parts:
                fail(
                    (*p, "file_path"),
                    f"file_path {rf.file_path!r} may not contain '..' (it must stay inside the task's working directory)",
                )
            elif rf.file_path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rf.file_path):
                fail(
                    (*p, "file_path"),
                    f"file_path {rf.file_path!r} must be relative to the task's working directory",
                )
        if rf.file_mode is not None and not re.fullmatch(r"0?[0-7]{3}", rf.file_mode):
            fail(
                (*p, "file_mode"), f"file_mode {rf.file_mode!r} must be an octal mode such as '0770' or '755'"
            )
        if rf.storage_container_url is not None:
            _sas_rules(
                r,
                rf.storage_container_url,
                (*p, "storage_container_url"),
                need="rl",
                template=template,
                require_sas=False,
            )
        if rf.http_url is not None:
            _sas_rules(r, rf.http_url, (*p, "http_url"), need="r", template=template, require_sas=False)


_PERMISSION_NAMES = {"r": "read", "l": "list", "w": "write", "c": "create", "a": "add"}


def _sas_rules(
    r: _RuleRunner,
    url: str,
    path: Path,
    *,
    need: str,
    template: bool,
    require_sas: bool = True,
    identity: bool = False,
) -> None:
    """A SAS in ``url`` must grant ``need`` and must not expire before the job can finish."""
    if is_unknown(url) or not r.unknowns.known(path):
        return
    fail = r.fail_template if template else r.fail
    sas = _parse_sas(url)
    if not sas.present:
        if require_sas and not identity:
            fail(
                path,
                "the container URL has no SAS (no 'sig' parameter) and the output has no identity_reference; "
                "the upload will be denied. Use a container SAS with write permission or an identity_reference",
            )
        return
    if sas.permissions is not None:
        missing = [c for c in need if c not in sas.permissions]
        if missing:
            names = ", ".join(f"{c} ({_PERMISSION_NAMES[c]})" for c in missing)
            advice = " (grant at least 'cw' for output files)" if "w" in missing else ""
            fail(path, f"the SAS grants '{sas.permissions}' but lacks {names}{advice}")
    if sas.expiry_text is not None:
        if sas.expiry is None:
            fail(path, f"the SAS expiry se={sas.expiry_text!r} is not an ISO-8601 time")
            return
        if sas.expiry <= r.now:
            fail(path, f"the SAS expired at {sas.expiry_text}")
            return
        limit = r.spec.constraints.max_wall_clock_time
        if (
            limit is not None
            and sas.expiry < r.now + limit
            and r.unknowns.known(("constraints", "max_wall_clock_time"))
        ):
            fail(
                path,
                f"the SAS expires at {sas.expiry_text}, before the job can finish (constraints."
                f"max_wall_clock_time is {format_duration(limit)} from now); use a later expiry",
            )


def _task_rules(r: _RuleRunner, source: _TaskSource) -> None:
    spec, task, base = r.spec, source.task, source.base
    template = source.generated
    fail = r.fail_template if template else r.fail
    _check_id(r, task.id, source.id_path, "task id", template=template)
    _resource_file_rules(r, task.resource_files, base, template=template)
    if task.depends_on is not None and not spec.uses_task_dependencies:
        fail(
            (*base, "depends_on"),
            f"task {task.id!r} has depends_on, but the job does not set uses_task_dependencies: true "
            "(the service rejects the task)",
            ("uses_task_dependencies",),
        )
    if task.depends_on is not None:
        for i, dep in enumerate(task.depends_on.task_ids):
            if dep.lower() == task.id.lower():
                fail((*base, "depends_on", "task_ids", i), f"task {task.id!r} depends on itself")
    if task.exit_conditions is not None and spec.on_task_failure != "performexitoptionsjobaction":
        for sub, options in task.exit_conditions.iter_options():
            if options.job_action is not None:
                fail(
                    (*base, "exit_conditions", *sub, "job_action"),
                    "job_action needs the job's on_task_failure to be 'performexitoptionsjobaction' "
                    "(otherwise the service rejects the task)",
                    ("on_task_failure",),
                )
                break
    for i, output in enumerate(task.output_files):
        _output_rules(r, task, output, (*base, "output_files", i), template)


def _output_rules(r: _RuleRunner, task: TaskSpec, output: OutputFileSpec, p: Path, template: bool) -> None:
    spec = r.spec
    fail = r.fail_template if template else r.fail
    pattern = output.file_pattern
    if spec.node_os == "linux" and "\\" in pattern and not is_unknown(pattern):
        fail(
            (*p, "file_pattern"),
            f"file pattern {pattern!r} contains a backslash, which is not a path separator on Linux nodes, "
            f"so it can never match; use {pattern.replace(chr(92), '/')!r}",
            ("node_os",),
        )
    elif not is_unknown(pattern):
        for segment in _segments(pattern.replace("\\", "/") if spec.node_os == "windows" else pattern):
            if _segment_matches_only_dotfiles(segment):
                fail(
                    (*p, "file_pattern"),
                    f"file pattern {pattern!r}: segment {segment!r} can only match names starting with '.', "
                    "and Batch skips those unless the pattern spells the dot literally; write "
                    f"{('.' + segment[segment.index(']') + 1 :])!r} instead",
                )
                break
    if output.by_convention:
        if spec.output_container_url is None:
            fail(
                p,
                "a File Conventions output (kind) needs the job's output_container_url",
                ("output_container_url",),
            )
        if output.relative_path is not None and not is_unknown(output.relative_path):
            try:
                normalize_relative_path(output.relative_path)
            except ValueError as exc:
                fail((*p, "relative_path"), str(exc))
        elif not has_wildcard(pattern) and not is_unknown(pattern):
            try:
                literal_name(pattern)
            except ValueError as exc:
                fail(
                    (*p, "file_pattern"),
                    f"cannot derive a blob name from the pattern: {exc}; set relative_path",
                )
        r.saw_convention_output = True
    elif output.container_url is not None:
        _sas_rules(
            r,
            output.container_url,
            (*p, "container_url"),
            need="w",
            template=template,
            identity=output.identity_reference is not None,
        )


@dataclass(frozen=True)
class _Destination:
    container: str
    literal: str | None  # the exact blob name, or None for a wildcard pattern
    prefix: str  # the virtual directory of a wildcard pattern ("" = container root)
    glob: str | None  # last pattern segment for a wildcard pattern without "**"
    condition: str
    task_id: str
    path: Path


def _destination(
    r: _RuleRunner, task: TaskSpec, output: OutputFileSpec, p: Path, id_path: Path
) -> _Destination | None:
    """Where an output writes, or None when that cannot be told before the task runs."""
    if is_unknown(output.file_pattern) or not r.unknowns.known(p):
        return None
    if output.by_convention and not r.unknowns.known(id_path):
        return None  # the blob path contains the (unknown) task id
    if output.by_convention:
        if r.spec.output_container_url is None:
            return None
        container = "<output_container_url>"  # conventions outputs all share the job's container
        try:
            blob_path = convention_path(output, task.id)
        except ValueError:
            return None
    else:
        if output.container_url is None or is_unknown(output.container_url):
            return None
        container = container_of(output.container_url)[0]
        blob_path = output.path or ""
    pattern = output.file_pattern.replace("\\", "/") if r.spec.node_os == "windows" else output.file_pattern
    if "$" in pattern or "%" in pattern:
        return None  # environment variables are expanded on the node
    path = blob_path.strip("/")
    if has_wildcard(pattern):
        last = pattern.rsplit("/", 1)[-1]
        glob = None if "**" in pattern else last
        return _Destination(container, None, path, glob, output.upload_condition, task.id, p)
    name = path or pattern.rsplit("/", 1)[-1]
    return _Destination(container, name, "", None, output.upload_condition, task.id, p)


def _exclusive(a: _Destination, b: _Destination) -> bool:
    """Two outputs of one task whose conditions can never both hold (success vs failure)."""
    return a.task_id == b.task_id and {a.condition, b.condition} == {"tasksuccess", "taskfailure"}


def _cross_task_rules(r: _RuleRunner, sources: list[_TaskSource]) -> None:
    spec = r.spec
    all_known = r.all_tasks_known
    # Duplicate ids, case-insensitively, including the preparation and release task ids.
    seen: dict[str, _TaskSource] = {}
    reserved = spec.reserved_task_ids()
    for source in sources:
        tid = source.task.id
        key = tid.lower()
        fail = r.fail_template if source.generated else r.fail
        if key in reserved:
            which = "job preparation" if reserved[key].startswith("job_preparation") else "job release"
            code = (
                "TaskIdSameAsJobPreparationTask"
                if which == "job preparation"
                else "TaskIdSameAsJobReleaseTask"
            )
            fail(
                source.id_path,
                f"task id {tid!r} is the {which} task's id ({reserved[key]}); the service rejects it with "
                f"{code}. Rename the task or set {reserved[key]}",
                (reserved[key].split(".")[0], "id"),
            )
            continue
        first = seen.get(key)
        if first is None:
            seen[key] = source
            continue
        same_case = first.task.id == tid
        fail(
            source.id_path,
            f"task id {tid!r} is used twice (also at {format_path(first.id_path)}"
            + ("" if same_case else f" as {first.task.id!r}; task ids are compared case-insensitively")
            + ")",
            first.id_path,
        )
    # Dependencies on tasks the job does not have.
    if all_known:
        ids = set(seen)
        for source in sources:
            deps = source.task.depends_on
            if deps is None:
                continue
            fail = r.fail_template if source.generated else r.fail
            for i, dep in enumerate(deps.task_ids):
                if dep.lower() not in ids and dep.lower() != source.task.id.lower():
                    suggestion = (
                        difflib.get_close_matches(dep.lower(), list(ids), n=1, cutoff=0.8)
                        if len(ids) < 5000
                        else []
                    )
                    hint = f"; did you mean {seen[suggestion[0]].task.id!r}?" if suggestion else ""
                    fail(
                        (*source.base, "depends_on", "task_ids", i),
                        f"task {source.task.id!r} depends on {dep!r}, which is not a task of this job{hint}",
                    )
    _same_blob_rule(r, sources)


def _same_blob_rule(r: _RuleRunner, sources: list[_TaskSource]) -> None:
    literals: dict[tuple[str, str], _Destination] = {}
    globs: dict[tuple[str, str, str], _Destination] = {}
    by_dir: dict[tuple[str, str], list[_Destination]] = {}
    for source in sources:
        for i, output in enumerate(source.task.output_files):
            p: Path = (*source.base, "output_files", i)
            dest = _destination(r, source.task, output, p, source.id_path)
            if dest is None:
                continue
            fail = r.fail_template if source.generated else r.fail
            if dest.literal is not None:
                key = (dest.container, dest.literal)
                other = literals.get(key)
                if other is not None and not _exclusive(other, dest):
                    fail(
                        p,
                        f"task {dest.task_id!r} writes blob {dest.literal!r}, which task {other.task_id!r} "
                        f"also writes ({format_path(other.path)}); one upload overwrites the other. Put the task "
                        "id in the path, or use a File Conventions kind",
                        other.path,
                    )
                    continue
                literals.setdefault(key, dest)
                directory = dest.literal.rsplit("/", 1)[0] if "/" in dest.literal else ""
                by_dir.setdefault((dest.container, directory), []).append(dest)
            elif dest.glob is not None:
                key3 = (dest.container, dest.prefix, dest.glob)
                other = globs.get(key3)
                if other is not None and not _exclusive(other, dest):
                    where = dest.prefix or "the container root"
                    fail(
                        p,
                        f"task {dest.task_id!r} uploads files matching {dest.glob!r} into {where!r}, as "
                        f"task {other.task_id!r} does ({format_path(other.path)}); files with the same name "
                        "overwrite each other. Put the task id in the path, or use a File Conventions kind",
                        other.path,
                    )
                    continue
                globs.setdefault(key3, dest)
    # A literal blob that a wildcard output of another task may also produce.
    for (container, prefix, glob), dest in globs.items():
        for lit in by_dir.get((container, prefix), []):
            name = lit.literal.rsplit("/", 1)[-1] if lit.literal else ""
            if fnmatchcase(name, glob) and lit.task_id != dest.task_id:
                fail = r.fail_template if dest.path[0] == "task_factories" else r.fail
                fail(
                    dest.path,
                    f"files matching {glob!r} from task {dest.task_id!r} may overwrite blob "
                    f"{lit.literal!r} written by task {lit.task_id!r} ({format_path(lit.path)})",
                    lit.path,
                )
                break
