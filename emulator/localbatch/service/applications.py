"""Applications and application packages, from a directory the emulator is given.

The Batch management plane uploads packages; the data plane only lists them and installs them on
nodes. The emulator reads them from `applications_dir` (default `<data-dir>/applications`, option
`--applications-dir`): `<applicationId>/<version>/` is one package version (its files, already
unpacked), and an optional `<applicationId>/application.json` gives `displayName` and
`defaultVersion` (without it, an application with a single version defaults to it). A package
reference (on a pool: every task and the start task; on a task: that task) is linked into the node at
`<node root>/applications/<applicationId>_<version>` and announced as Azure does on Linux:
`AZ_BATCH_APP_PACKAGE_<applicationId>_<version>` (periods, hyphens and number signs become
underscores, case kept), or `AZ_BATCH_APP_PACKAGE_<applicationId>` when the reference names no version.
May import: `entities`, `exceptions`, `wire`, and `.base`. Not HTTP or the portal.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..entities import Node, Pool
from ..exceptions import BatchError, not_found
from ..wire import Doc
from .base import ServiceBase


def _package_variable(app_id: str, version: str | None) -> str:
    name = app_id if version is None else f"{app_id}_{version}"
    return "AZ_BATCH_APP_PACKAGE_" + re.sub(r"[.#-]", "_", name)


class ApplicationsPart(ServiceBase):
    """Applications (`BatchService` mixin)."""

    def list_applications(self) -> list[Doc]:
        """Every application of `applications_dir`, by id."""
        root = self.applications_dir
        if not root.is_dir():
            return []
        return [
            self._application(p) for p in sorted(root.iterdir(), key=lambda p: p.name.lower()) if p.is_dir()
        ]

    def get_application(self, application_id: str) -> Doc:
        """One application (404 `ApplicationNotFound`)."""
        path = self._application_dir(application_id)
        if path is None:
            raise not_found("ApplicationNotFound", "application")
        return self._application(path)

    def _application_dir(self, application_id: str) -> Path | None:
        root = self.applications_dir
        if not root.is_dir() or "/" in application_id or application_id in ("", ".", ".."):
            return None
        return next(
            (p for p in root.iterdir() if p.is_dir() and p.name.lower() == application_id.lower()),
            None,
        )

    @staticmethod
    def _settings(path: Path) -> Doc:
        file = path / "application.json"
        try:
            data = json.loads(file.read_text()) if file.is_file() else {}
        except ValueError:
            data = {}
        return data if isinstance(data, dict) else {}

    def _application(self, path: Path) -> Doc:
        versions = sorted(p.name for p in path.iterdir() if p.is_dir())
        return {
            "id": path.name,
            "displayName": self._settings(path).get("displayName") or path.name,
            "versions": versions,
        }

    def _resolve_package(self, ref: Doc) -> tuple[str, str, Path] | None:
        """(application id, version, directory) of a package reference, or None if unsatisfiable."""
        path = self._application_dir(str(ref.get("applicationId", "")))
        if path is None:
            return None
        versions = sorted(p.name for p in path.iterdir() if p.is_dir())
        version = ref.get("version") or self._settings(path).get("defaultVersion")
        if version is None and len(versions) == 1:
            version = versions[0]
        if version not in versions:
            return None
        return path.name, str(version), path / str(version)

    def _check_package_references(self, refs: list[Doc]) -> None:
        """400 `InvalidApplicationPackageReferences` naming the first reference that cannot be satisfied."""
        for ref in refs:
            if self._resolve_package(ref) is None:
                raise BatchError(
                    400,
                    "InvalidApplicationPackageReferences",
                    "One or more of the specified application package references are invalid.",
                    [
                        ("applicationId", str(ref.get("applicationId"))),
                        ("version", str(ref.get("version") or "(default)")),
                        (
                            "Reason",
                            f"No such package under the emulator's applications directory {self.applications_dir}.",
                        ),
                    ],
                )

    def _app_package_environment(self, pool: Pool, node: Node, spec: Doc) -> dict[str, str]:
        """Link the pool's and the task's packages into the node; their AZ_BATCH_APP_PACKAGE_* variables."""
        env: dict[str, str] = {}
        refs = list(pool.doc.get("applicationPackageReferences") or []) + list(
            spec.get("applicationPackageReferences") or []
        )
        for ref in refs:
            resolved = self._resolve_package(ref)
            if resolved is None:
                continue  # removed from the directory since it was checked: nothing to announce
            app_id, version, source = resolved
            target = node.root / "applications" / f"{app_id}_{version}"
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(source.resolve(), target_is_directory=True)
            env[_package_variable(app_id, ref.get("version"))] = str(target)
        return env
