"""ContainerSas: a container SAS signed with the account key, stable across ``pulumi up`` runs.

A SAS computed in the program (or by a Terraform data source) changes on every run, because its
start and expiry move with the clock: every ``up`` then shows a diff and re-submits whatever uses it
(terraform-provider-azurerm#15786). Here the signing window is part of the resource's state:

* ``check`` carries the stored window (``start``/``expiry``) forward unless an input that shapes the
  SAS changed (container, account, key, permissions, lifetime, margin) or ``now`` is within
  ``rotation_margin`` of the stored expiry; only then does it open a new window (start 15 minutes
  back against clock skew, expiry ``lifetime`` ahead).
* ``diff`` compares the checked inputs, window included, so an unchanged window means no change;
  a new window is an in-place update that re-signs.
* Signing is deterministic for a given window, so the stored SAS and a re-signed one are equal.

Permissions default to ``cw`` (create + write: what Batch output files need, nothing to read or
list). The SAS is https-only when the blob endpoint is https (Azure); Azurite's http endpoint gets
no protocol restriction. With ``blob_name`` the SAS grants access to that one blob only and
``sas_url`` is the blob's URL (the File Conventions library wheel handed to job preparation tasks).
``sas_url``/``sas_token`` are secret outputs. Deleting the resource cannot
revoke a SAS (only rotating the account key does); it just forgets it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from pulumi_azbatch.model.storage import canonical_permissions, container_url

from .base import ProviderBase, changed_keys, contains_unknown, is_unknown, public_inputs, trace

#: Inputs that shape the SAS: a change to any of them re-signs it.
_SHAPE_KEYS = (
    "blob_url",
    "account_name",
    "account_key",
    "container_name",
    "blob_name",
    "permissions",
    "lifetime_seconds",
    "rotation_margin_seconds",
)
_WINDOW_KEYS = ("start", "expiry")
_INPUTS = (*_SHAPE_KEYS, *_WINDOW_KEYS)
#: How far back the SAS starts, so a node whose clock runs behind still accepts it.
START_BACK = timedelta(minutes=15)
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _now() -> datetime:
    return datetime.now(UTC)


def _parse(text: str) -> datetime:
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def needs_rotation(expiry: str | None, margin_seconds: float, now: datetime | None = None) -> bool:
    """True when there is no stored expiry, or ``now`` is within ``margin_seconds`` of it."""
    if not expiry or is_unknown(expiry):
        return True
    try:
        moment = _parse(expiry)
    except ValueError:
        return True
    return (now or _now()) >= moment - timedelta(seconds=margin_seconds)


def sign(props: dict[str, Any]) -> str:
    """The SAS token (query string without ``?``) for the inputs' container (or blob), permissions and window."""
    from azure.storage.blob import (
        BlobSasPermissions,
        ContainerSasPermissions,
        generate_blob_sas,
        generate_container_sas,
    )

    https = urlsplit(props["blob_url"]).scheme == "https"
    window: dict[str, Any] = {
        "account_name": props["account_name"],
        "container_name": props["container_name"],
        "account_key": props["account_key"],
        "start": _parse(props["start"]),
        "expiry": _parse(props["expiry"]),
        # Azure: https only. Azurite listens on http, which an https-only SAS would refuse.
        "protocol": "https" if https else None,
    }
    if props.get("blob_name"):
        permission = BlobSasPermissions.from_string(props["permissions"])
        return generate_blob_sas(blob_name=props["blob_name"], permission=permission, **window)
    return generate_container_sas(
        permission=ContainerSasPermissions.from_string(props["permissions"]), **window
    )


class ContainerSasProvider(ProviderBase):
    """Signs a container SAS with the account key; keeps it until inputs change or expiry is near."""

    input_keys = frozenset(_INPUTS)
    replace_keys = frozenset()

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        trace(self, "check")
        failures: list[CheckFailure] = []
        inputs = {k: v for k, v in public_inputs(news).items() if k not in _WINDOW_KEYS}
        for key in ("blob_url", "account_name", "account_key", "container_name"):
            if not inputs.get(key):
                failures.append(CheckFailure(key, f"{key} is required"))
        permissions = inputs.get("permissions") or "cw"
        if not is_unknown(permissions):
            try:
                # A container SAS is for output files (create + write); a blob's SAS may only read.
                require = "" if inputs.get("blob_name") else "cw"
                inputs["permissions"] = canonical_permissions(permissions, require)
            except ValueError as exc:
                failures.append(CheckFailure("permissions", str(exc)))
        lifetime = inputs.get("lifetime_seconds")
        margin = inputs.get("rotation_margin_seconds")
        if not contains_unknown([lifetime, margin]):
            if not isinstance(lifetime, int | float) or lifetime <= 0:
                failures.append(
                    CheckFailure("lifetime_seconds", f"must be a positive number, got {lifetime!r}")
                )
            elif not isinstance(margin, int | float) or not 0 <= margin < lifetime:
                failures.append(
                    CheckFailure(
                        "rotation_margin_seconds",
                        f"must be at least 0 and less than lifetime_seconds ({lifetime}), got {margin!r}",
                    )
                )
        if failures or contains_unknown(inputs):
            return CheckResult(inputs, failures)
        olds = public_inputs(olds)
        same_shape = all(olds.get(k) == inputs.get(k) for k in _SHAPE_KEYS)
        if same_shape and not needs_rotation(olds.get("expiry"), float(margin or 0)):
            inputs.update(start=olds["start"], expiry=olds["expiry"])
        else:
            now = _now()
            inputs.update(
                start=_format(now - START_BACK), expiry=_format(now + timedelta(seconds=float(lifetime or 0)))
            )
        return CheckResult(inputs, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        trace(self, "diff")
        changed = changed_keys(olds, news, self.input_keys)
        # Also rotate when check was skipped (e.g. an engine that diffs stored inputs directly).
        if not changed and needs_rotation(
            olds.get("expiry"), float(olds.get("rotation_margin_seconds") or 0)
        ):
            changed = ["expiry"]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def _outs(self, props: dict[str, Any]) -> dict[str, Any]:
        token = sign(props)
        url = container_url(props["blob_url"], props["container_name"])
        outs = {k: props.get(k) for k in _INPUTS}
        target = f"{url}/{quote(props['blob_name'])}" if props.get("blob_name") else url
        outs.update(sas_token=token, sas_url=f"{target}?{token}", container_url=url)
        return outs

    def create(self, props: dict[str, Any]) -> CreateResult:
        trace(self, "create")
        props = public_inputs(props)
        return CreateResult(
            id_=f"{props['account_name']}/{props['container_name']}/sas", outs=self._outs(props)
        )

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        trace(self, "update")
        return UpdateResult(outs=self._outs(public_inputs(news)))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        trace(self, "read")
        # Nothing lives in the service: the stored SAS is the truth.
        return ReadResult(id_=id_, outs=props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        trace(self, "delete")


class ContainerSas(Resource, module="azbatch", name="ContainerSas"):
    """A container SAS URL (secret) signed with the account key, re-signed only near its expiry."""

    sas_url: pulumi.Output[str]
    sas_token: pulumi.Output[str]
    container_url: pulumi.Output[str]
    start: pulumi.Output[str]
    expiry: pulumi.Output[str]
    permissions: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        blob_url: pulumi.Input[str],
        account_name: pulumi.Input[str],
        account_key: pulumi.Input[str],
        container_name: pulumi.Input[str],
        permissions: str = "cw",
        lifetime: timedelta = timedelta(days=30),
        rotation_margin: timedelta | None = None,
        blob_name: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``blob_url`` is the account's blob endpoint (``https://<account>.blob.core.windows.net``).

        ``rotation_margin`` defaults to a quarter of ``lifetime``, as in the stack config. With
        ``blob_name``, a SAS of that blob only.
        """
        if rotation_margin is None:
            rotation_margin = lifetime / 4
        props = {
            "blob_url": blob_url,
            "account_name": account_name,
            "account_key": pulumi.Output.secret(account_key),
            "container_name": container_name,
            "blob_name": blob_name,
            "permissions": permissions,
            "lifetime_seconds": int(lifetime.total_seconds()),
            "rotation_margin_seconds": int(rotation_margin.total_seconds()),
            "start": None,
            "expiry": None,
            "sas_url": None,
            "sas_token": None,
            "container_url": None,
        }
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["sas_url", "sas_token"])
        )
        super().__init__(ContainerSasProvider(), resource_name, props, opts)
