"""Azure Resource Manager answers for `pulumi.runtime.set_mocks`: the azure-native provider cannot run
offline, so the Azure backend is tested against these. The ContainerSas runs its real provider
(signing is offline), so the SAS's permissions and protocol are what a deployment would produce."""

from __future__ import annotations

import base64
from typing import Any

import pulumi

STORAGE_KEY = base64.b64encode(b"storage-account-key-for-tests").decode()
BATCH_KEY = base64.b64encode(b"batch-account-key-for-tests").decode()
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_SIG_KEY = "4dabf18193072939515e22adb298388d"


def is_secret(value: Any) -> bool:
    """True for a mock input value wrapped as a Pulumi secret."""
    return isinstance(value, dict) and value.get(_SIG_KEY) == SECRET_SIG


def plain(value: Any) -> Any:
    """A mock input value with every secret wrapper removed."""
    if is_secret(value):
        return plain(value["value"])
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class ArmMocks(pulumi.runtime.Mocks):
    """Records registrations and invokes; answers like ARM would for the fields the program reads."""

    def __init__(self) -> None:
        self.resources: dict[str, pulumi.runtime.MockResourceArgs] = {}
        self.registered: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
        self.calls: list[pulumi.runtime.MockCallArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        from pulumi_azbatch.dynamic_providers.sas import ContainerSasProvider

        self.resources[args.name] = args
        inputs = dict(args.inputs)
        outs = plain(inputs)
        if args.typ == "azure-native:batch:BatchAccount":
            outs.update(
                accountEndpoint=f"{outs['accountName']}.westeurope.batch.azure.com", name=outs["accountName"]
            )
        elif args.typ == "azure-native:storage:StorageAccount":
            outs.update(
                primaryEndpoints={"blob": f"https://{outs['accountName']}.blob.core.windows.net/"},
                name=outs["accountName"],
            )
        elif args.typ == "azure-native:storage:BlobContainer":
            outs["name"] = outs["containerName"]
        elif args.typ == "azure-native:batch:Pool":
            outs["name"] = outs["poolName"]
            if "identity" in outs:  # input: a list of ids; output: a map keyed by id
                ids = outs["identity"]["userAssignedIdentities"]
                outs["identity"] = {**outs["identity"], "userAssignedIdentities": {i: {} for i in ids}}
        elif args.typ.endswith("azbatch:ContainerSas"):
            provider = ContainerSasProvider()
            checked = provider.check({}, {k: v for k, v in outs.items() if not k.startswith("__")})
            assert not checked.failures, checked.failures
            outs = dict(provider.create(checked.inputs).outs)
        elif args.typ.endswith("azbatch:Job"):
            outs.update(url="https://batch/jobs/x", state="active", nodes=[], task_counts={})
        self.registered.append((args.typ, args.name, inputs, outs))
        return f"{args.name}-id", outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        self.calls.append(args)
        if args.token == "azure-native:storage:listStorageAccountKeys":
            return {"keys": [{"keyName": "key1", "value": STORAGE_KEY, "permissions": "FULL"}]}, []
        if args.token == "azure-native:batch:listBatchAccountKeys":
            return {"accountName": args.args["accountName"], "primary": BATCH_KEY, "secondary": "x"}, []
        if args.token == "azure-native:batch:getBatchAccount":
            name = args.args["accountName"]
            return {
                "accountEndpoint": f"{name}.westeurope.batch.azure.com",
                "id": f"/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Batch/batchAccounts/{name}",
            }, []
        if args.token == "azure-native:storage:getStorageAccount":
            return {
                "primaryEndpoints": {"blob": f"https://{args.args['accountName']}.blob.core.windows.net/"}
            }, []
        raise AssertionError(f"unexpected invoke {args.token}")
