"""A blob container managed through the Storage data plane (Azurite locally, or an account key on Azure)."""

from __future__ import annotations

import contextlib
from typing import Any

import pulumi
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, ReadResult, Resource, UpdateResult

from pulumi_azbatch.model.storage import container_name_problem, container_url

from .base import ProviderBase, is_unknown, public_inputs, say, trace

_INPUTS = ("blob_url", "account_name", "account_key", "name", "metadata")


def _service(props: dict[str, Any]) -> Any:
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient(
        account_url=props["blob_url"],
        credential={"account_name": props["account_name"], "account_key": props["account_key"]},
    )


class BlobContainerProvider(ProviderBase):
    """Creates, reads, updates (metadata) and deletes one blob container."""

    input_keys = frozenset(_INPUTS)
    replace_keys = frozenset({"blob_url", "account_name", "name"})

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        name = news.get("name")
        problem = None if is_unknown(name) else container_name_problem(name)
        if problem:
            failures.append(CheckFailure("name", problem))
        for key in ("blob_url", "account_name", "account_key"):
            if not news.get(key):
                failures.append(CheckFailure(key, f"{key} is required"))
        return CheckResult(news, failures)

    def _outs(self, props: dict[str, Any]) -> dict[str, Any]:
        outs = {k: props.get(k) for k in _INPUTS}
        outs["url"] = container_url(props["blob_url"], props["name"])
        return outs

    def create(self, props: dict[str, Any]) -> CreateResult:
        trace(self, "create")
        client = _service(props).get_container_client(props["name"])
        try:
            client.create_container(metadata=props.get("metadata") or None)
        except ResourceExistsError:
            # A container left by an interrupted update is adopted rather than failing the update.
            say(f"container {props['name']} already exists; adopting it")
            if props.get("metadata"):
                client.set_container_metadata(props["metadata"])
        return CreateResult(id_=props["name"], outs=self._outs(public_inputs(props)))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        trace(self, "read")
        client = _service(props).get_container_client(id_)
        try:
            metadata = dict(client.get_container_properties().metadata or {})
        except ResourceNotFoundError:
            return ReadResult(id_="", outs={})
        outs = {**self._outs({**public_inputs(props), "name": id_}), "metadata": metadata or None}
        return ReadResult(id_=id_, outs=outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        trace(self, "update")
        _service(news).get_container_client(news["name"]).set_container_metadata(news.get("metadata") or {})
        return UpdateResult(outs=self._outs(public_inputs(news)))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        trace(self, "delete")
        with contextlib.suppress(ResourceNotFoundError):
            _service(props).get_container_client(id_).delete_container()


class BlobContainer(Resource, module="azbatch", name="BlobContainer"):
    """A blob container created through the Storage data plane with an account key."""

    name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        blob_url: pulumi.Input[str],
        account_name: pulumi.Input[str],
        account_key: pulumi.Input[str],
        name: pulumi.Input[str],
        metadata: pulumi.Input[dict[str, str]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "blob_url": blob_url,
            "account_name": account_name,
            "account_key": pulumi.Output.secret(account_key),
            "name": name,
            "metadata": metadata,
            "url": None,
        }
        super().__init__(BlobContainerProvider(), resource_name, props, opts)
