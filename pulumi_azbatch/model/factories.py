"""Task factories: many tasks from one template (parametric sweep, task per item), as the az batch CLI has.

Owns: placeholder substitution (``{0}``, ``{0:4}``, ``{{``), :class:`ParametricSweepFactory`,
:class:`TaskPerItemFactory` and their expansion into :class:`~.tasks.TaskSpec` with stable ids
(kept per process for the most recent factories: the Job provider parses the same job in check,
diff and create).

May import: :mod:`.common`, :mod:`.tasks`, pydantic.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import product
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PrivateAttr, ValidationError, model_validator

from .common import RecentValues, SpecModel, error, error_path, error_reason, format_path
from .tasks import TaskSpec, TaskTemplateSpec

__all__ = ["ParameterSetSpec", "ParametricSweepFactory", "TaskFactory", "TaskPerItemFactory"]

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{(\d+)(?::(\d+))?\}")


def _substitute(text: str, values: Sequence[str]) -> str:
    """Replace ``{N}`` / ``{N:W}`` with ``values[N]`` (zero-padded to W); ``{{``/``}}`` are braces."""
    if "{" not in text and "}" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        index = int(match.group(1))
        if index >= len(values):
            raise ValueError(f"placeholder {token} but the factory gives only {len(values)} value(s)")
        value = values[index]
        width = match.group(2)
        return value.zfill(int(width)) if width else value

    return _PLACEHOLDER.sub(replace, text)


def _substitute_tree(node: Any, values: Sequence[str]) -> Any:
    if isinstance(node, str):
        return _substitute(node, values)
    if isinstance(node, dict):
        return {k: _substitute_tree(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute_tree(v, values) for v in node]
    return node


#: Template properties whose substituted values need no validation of their own: plain strings of
#: :class:`TaskSpec` (``command_line`` must only not be empty); environment values (strings) too.
_PLAIN_STRING_PATHS = frozenset({("command_line",), ("display_name",)})
#: Expansions of the most recent factories, by the factory's JSON form. The Job provider builds the
#: job model again in check, diff and create from the same inputs; a 100,000-task sweep would be
#: expanded (and validated) each time. A few entries: a change compares the old and new expansions.
_RECENT: RecentValues[list[TaskSpec]] = RecentValues(4)


def _placeholder_paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The paths of the string values of a template that may hold a placeholder (a brace)."""
    if isinstance(node, str):
        if "{" in node or "}" in node:
            yield path
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _placeholder_paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _placeholder_paths(v, (*path, i))


def _copyable(paths: Iterable[tuple[Any, ...]]) -> bool:
    """Whether tasks differing only at ``paths`` can be copies of one validated task (no validator
    reads those values except ``command_line``'s non-empty rule, checked by :meth:`_FactoryBase.expand`)."""
    return all(p in _PLAIN_STRING_PATHS or (len(p) == 2 and p[0] == "environment_settings") for p in paths)


def _problem(error: Any, data: Any) -> str:
    """One pydantic error of a generated task as ``path: reason``."""
    path = error_path(error["loc"], data)
    reason = error_reason(error, path, noun="property", names=lambda: TaskSpec.model_fields)
    return f"{format_path(path)}: {reason}" if path else reason


class _FactoryBase(SpecModel):
    repeat_task: TaskTemplateSpec
    id_prefix: str = Field(default="task", min_length=1, description="Task ids are <id_prefix>-<index>.")
    id_width: int = Field(default=5, ge=1, le=20, description="Zero-padding of the index in generated ids.")

    # Expansion is cached per (immutable) factory instance; it is deterministic.
    _expanded: list[TaskSpec] | None = PrivateAttr(default=None)

    def value_sets(self) -> Iterable[Sequence[str]]:  # pragma: no cover - overridden
        raise NotImplementedError

    def task_count(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def task_id(self, index: int, values: Sequence[str]) -> str:
        """The id of the ``index``-th generated task: the ``repeat_task.id`` template or ``<prefix>-<index>``."""
        if self.repeat_task.id is not None:
            return _substitute(self.repeat_task.id, values)
        return f"{self.id_prefix}-{index:0{self.id_width}d}"

    def expand(self) -> list[TaskSpec]:
        """The tasks this factory stands for, in a stable order with stable ids.

        Raises ``ValueError`` naming the generated task when a substituted task is invalid.
        """
        if self._expanded is not None:
            return self._expanded
        key = self.model_dump_json()
        cached = _RECENT.get(key)
        if cached is None:
            # The cyclic collector would rescan the growing list at every threshold while 100,000
            # acyclic models are built (half the expansion's time); it runs again afterwards.
            enabled = gc.isenabled()
            gc.disable()
            try:
                cached = self._expand()
            finally:
                if enabled:
                    gc.enable()
            _RECENT.put(key, cached)
        self._expanded = cached
        return cached

    def _expand(self) -> list[TaskSpec]:
        template = self.repeat_task.model_dump(exclude_defaults=True, exclude={"id"})
        variable = list(_placeholder_paths(template))
        # Validating 100,000 generated tasks one by one takes seconds: when the placeholders sit only
        # in plain strings, every task after the first is a copy of the first with those strings
        # substituted (the same model validation would give).
        copyable = _copyable(variable)
        first: TaskSpec | None = None
        tasks: list[TaskSpec] = []
        validate = TaskSpec.model_validate
        for index, values in enumerate(self.value_sets()):
            task_id = self.task_id(index, values) if first is not None else ""
            if first is not None and copyable and task_id:
                try:
                    update: dict[str, Any] | None = _copy_update(first, template, variable, values)
                except ValueError:
                    update = None  # (a placeholder without a value) validated below, naming the task
                if update is not None and update.get("command_line", first.command_line):
                    update["id"] = task_id
                    tasks.append(first.model_copy(update=update))
                    continue
            try:
                data = _substitute_tree(template, values)
                data["id"] = self.task_id(index, values)
                task = validate(data)
            except ValidationError as exc:
                problems = "; ".join(_problem(e, data) for e in exc.errors())
                raise ValueError(
                    f"generated task {index} (values {', '.join(map(repr, values))}) is invalid: {problems}"
                ) from None
            except ValueError as exc:
                raise ValueError(
                    f"generated task {index} (values {', '.join(map(repr, values))}) is invalid: {exc}"
                ) from None
            tasks.append(task)
            first = first or task
        return tasks


def _copy_update(
    first: TaskSpec, template: dict[str, Any], paths: list[tuple[Any, ...]], values: Sequence[str]
) -> dict[str, Any]:
    """The fields of a generated task that differ from ``first``'s, substituted with ``values``."""
    update: dict[str, Any] = {}
    for path in paths:
        if path[0] == "environment_settings":
            env = update.setdefault("environment_settings", dict(first.environment_settings))
            env[path[1]] = _substitute(template["environment_settings"][path[1]], values)
        else:
            update[path[0]] = _substitute(template[path[0]], values)
    return update


class ParameterSetSpec(SpecModel):
    """An inclusive integer range ``start..end`` by ``step`` (negative steps count down), as in the az batch CLI."""

    start: int
    end: int
    step: int = 1

    @model_validator(mode="after")
    def _direction(self) -> ParameterSetSpec:
        if self.step == 0:
            raise error("step must not be 0")
        if (self.end - self.start) * self.step < 0:
            sign = "negative" if self.end < self.start else "positive"
            raise error(
                f"step {self.step} never reaches end {self.end} from start {self.start}; use a {sign} step"
            )
        return self

    def values(self) -> range:
        """The values of this parameter, end included."""
        return range(self.start, self.end + (1 if self.step > 0 else -1), self.step)


class ParametricSweepFactory(_FactoryBase):
    """One task per combination of integer parameters (the az batch CLI's ``parametricSweep``).

    ``parameter_sets`` are combined as nested loops, the last one varying fastest; ``{0}`` is the
    first parameter's value, ``{1}`` the second's. Generated ids ``<id_prefix>-<index>`` follow that
    order, so they are stable while the sweep is unchanged and when a single range grows at its end;
    set ``repeat_task.id`` to a template such as ``frame-{0}-{1}`` for ids that never shift.
    """

    type: Literal["parametric_sweep"]
    parameter_sets: list[ParameterSetSpec] = Field(min_length=1)

    def value_sets(self) -> Iterable[Sequence[str]]:
        """Each task's placeholder values as strings, in expansion order."""
        ranges = [[str(v) for v in p.values()] for p in self.parameter_sets]
        return product(*ranges)

    def task_count(self) -> int:
        """How many tasks the sweep expands to, without expanding it."""
        count = 1
        for p in self.parameter_sets:
            count *= len(p.values())
        return count


def _item_to_values(value: Any) -> Any:
    """A plain item is a one-value list, so ``{0}`` is the item itself; numbers become strings."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, list):
        return [str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in value]
    return value


class TaskPerItemFactory(_FactoryBase):
    """One task per item of a list; an item is a string (``{0}``) or a list of strings (``{0}``, ``{1}``...)."""

    type: Literal["task_per_item"]
    items: list[Annotated[list[str], BeforeValidator(_item_to_values)]] = Field(min_length=1)

    def value_sets(self) -> Iterable[Sequence[str]]:
        """Each task's placeholder values, in list order."""
        return self.items

    def task_count(self) -> int:
        """How many tasks the factory expands to."""
        return len(self.items)


TaskFactory = Annotated[ParametricSweepFactory | TaskPerItemFactory, Field(discriminator="type")]
