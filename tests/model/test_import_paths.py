"""The old import paths keep working: user code and Pulumi state refer to ``pulumi_azbatch.spec``/``config``."""

from __future__ import annotations

import pulumi_azbatch.config as config
import pulumi_azbatch.model as model
import pulumi_azbatch.spec as spec


def test_spec_re_exports_the_job_model_unchanged() -> None:
    for name in spec.__all__:
        assert getattr(spec, name) is getattr(model, name), name
    assert spec.JobSpec.__module__ == "pulumi_azbatch.model.job"


def test_config_re_exports_the_pool_and_storage_models() -> None:
    for name in ("PoolSpec", "ImageReferenceSpec", "StartTaskSpec", "PoolIdentitySpec", "StorageSpec"):
        assert getattr(config, name) is getattr(model, name), name
    assert config.canonical_permissions("wc") == "cw"
