"""A one-resource program: a blob container on Azurite through a dynamic provider of the installed package."""

import pulumi
from pulumi_azbatch.dynamic_providers.storage import BlobContainer

config = pulumi.Config()
container = BlobContainer(
    "smoke",
    blob_url=config.require("blobUrl"),
    account_name=config.require("accountName"),
    account_key=config.require_secret("accountKey"),
    name=config.require("containerName"),
    metadata={"purpose": "engine-smoke"},
)
pulumi.export("container_url", container.url)
