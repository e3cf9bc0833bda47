"""A blob container managed through the Storage data plane (Azurite locally, or an account key on Azure)."""

from __future__ import annotations

import contextlib
from typing import Any

import pulumi
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, ReadResult, Resource, UpdateResult

from pulumi_azbatch.model.storage import container_name_problem, container_url

from .base import ProviderBase, contains_unknown, is_unknown, public_inputs, say, trace
from .ownership import (
    ADOPT_INPUT,
    OWNER_INPUTS,
    Verdict,
    announce_adoption,
    foreign_left_alone,
    mark_of_inputs,
    mark_of_metadata,
    owner_inputs,
    owner_text,
    refusal,
    user_metadata,
    verdict,
    with_mark,
    with_nonce,
)

_INPUTS = ("blob_url", "account_name", "account_key", "name", "metadata", *OWNER_INPUTS, ADOPT_INPUT)


def _service(props: dict[str, Any]) -> Any:
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient(
        account_url=props["blob_url"],
        credential={"account_name": props["account_name"], "account_key": props["account_key"]},
    )


class BlobContainerProvider(ProviderBase):
    """Creates, reads, updates (metadata) and deletes one blob container."""

    input_keys = frozenset(_INPUTS) - {ADOPT_INPUT}
    replace_keys = frozenset({"blob_url", "account_name", "name"})

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        news = with_nonce(olds, news)
        failures = []
        name = news.get("name")
        problem = None if is_unknown(name) else container_name_problem(name)
        if problem:
            failures.append(CheckFailure("name", problem))
        for key in ("blob_url", "account_name", "account_key"):
            if not news.get(key):
                failures.append(CheckFailure(key, f"{key} is required"))
        if not failures and not olds and not contains_unknown(news):
            # A new resource: refuse another owner's container at preview (one call; errors: create decides).
            try:
                problem = self._refusal(news)
            except Exception:  # noqa: BLE001
                problem = None
            if problem:
                failures.append(CheckFailure("name", problem))
        return CheckResult(news, failures)

    def _refusal(self, props: dict[str, Any]) -> str | None:
        """Why the existing container of this name may not be used (None: absent, ours, or adopted)."""
        mark = mark_of_inputs(props)
        if mark is None:
            return None
        try:
            found = mark_of_metadata(
                _service(props).get_container_client(props["name"]).get_container_properties().metadata
            )
        except ResourceNotFoundError:
            return None
        if verdict(found, mark) is not Verdict.FOREIGN:
            return None
        if props.get(ADOPT_INPUT):
            say(
                f"warning: container {props['name']} exists and belongs to {owner_text(found)}; adopt: true takes it over"
            )
            return None
        return refusal("container", props["name"], found, mark)

    def _outs(self, props: dict[str, Any]) -> dict[str, Any]:
        outs = {k: props.get(k) for k in _INPUTS}
        outs["url"] = container_url(props["blob_url"], props["name"])
        return outs

    def create(self, props: dict[str, Any]) -> CreateResult:
        trace(self, "create")
        client = _service(props).get_container_client(props["name"])
        metadata = with_mark(props.get("metadata"), mark_of_inputs(props))
        try:
            client.create_container(metadata=metadata or None)
        except ResourceExistsError:
            # Left by an interrupted deployment of this resource (its mark), or adopted on purpose.
            problem = self._refusal(props)
            if problem:
                raise RuntimeError(problem) from None
            say(f"container {props['name']} already exists (this resource's, or adopt: true); adopting it")
            client.set_container_metadata(metadata)
        return CreateResult(id_=props["name"], outs=self._outs(public_inputs(props)))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        trace(self, "read")
        client = _service(props).get_container_client(id_)
        try:
            metadata = dict(client.get_container_properties().metadata or {})
        except ResourceNotFoundError:
            return ReadResult(id_="", outs={})
        mark = mark_of_inputs(props)
        if mark is not None and verdict(mark_of_metadata(metadata), mark) is not Verdict.OURS:
            say(
                f"warning: container {id_} now belongs to {owner_text(mark_of_metadata(metadata))}; removed from the stack"
            )
            return ReadResult(id_="", outs={})
        outs = {
            **self._outs({**public_inputs(props), "name": id_}),
            "metadata": user_metadata(metadata) or None,
        }
        return ReadResult(id_=id_, outs=outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        trace(self, "update")
        _service(news).get_container_client(news["name"]).set_container_metadata(
            with_mark(news.get("metadata"), mark_of_inputs(news))
        )
        return UpdateResult(outs=self._outs(public_inputs(news)))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        trace(self, "delete")
        client = _service(props).get_container_client(id_)
        mark = mark_of_inputs(props)
        with contextlib.suppress(ResourceNotFoundError):
            if mark is not None:
                found = mark_of_metadata(client.get_container_properties().metadata)
                if verdict(found, mark) is not Verdict.OURS:
                    say(foreign_left_alone("container", id_, found, mark))
                    return
            client.delete_container()


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
        adopt: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "blob_url": blob_url,
            "account_name": account_name,
            "account_key": pulumi.Output.secret(account_key),
            "name": name,
            "metadata": metadata,
            "url": None,
            **owner_inputs("azbatch:BlobContainer", resource_name),
            ADOPT_INPUT: adopt,
        }
        super().__init__(BlobContainerProvider(), resource_name, props, opts)
        if adopt:
            announce_adoption(self, "container", resource_name)
