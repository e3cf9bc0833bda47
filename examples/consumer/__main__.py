"""A consumer stack: one BatchJob on the main stack's pool, with its own File Conventions container.

The pool and its Batch account come from the main stack's outputs (a StackReference); this stack only
adds a job, so one platform team can own the pool while other teams declare their work on it.

The job installs the File Conventions library on the nodes (``file_conventions.install_library``:
the job preparation task pip-installs the wheel from the job's container into the node's shared
directory), and its ``stream`` task runs its command under the installed ``batch-outputs run``, so its
stdout reaches ``stream/$TaskLog/stdout.txt`` while it runs. ``libraryDependencies`` is
``preinstalled`` here (the emulator's nodes have no internet; their python3 has azure-storage-blob);
on Azure use ``index`` so pip fetches azure-storage-blob from PyPI.
"""

from pathlib import Path

import pulumi
from pulumi_azbatch.components import (
    BatchAccountRef,
    BatchJob,
    BatchJobArgs,
    LocalBackend,
    OutputStorage,
    OutputStorageArgs,
    PoolRef,
)

config = pulumi.Config()
main = pulumi.StackReference(config.get("mainStack") or "organization/azbatch/local")
pool = PoolRef(
    pool_id=main.require_output("pool_id"),
    account=BatchAccountRef(
        url=main.require_output("batch_account_url"),
        name=main.require_output("batch_account_name"),
        key=main.require_output("batch_account_key"),
    ),
)
job_id = config.get("jobId") or "consumer-report-job"
# What a shell task runs to use the library the preparation task installed.
library = '"$AZ_BATCH_NODE_SHARED_DIR/batch-file-conventions"'
stream = (
    f'/bin/sh -c \'export PYTHONPATH={library}; exec "$PYTHONPATH/bin/batch-outputs" run -- '
    '/bin/sh -c "echo working on $AZ_BATCH_NODE_ID; echo done"\''
)
backend = LocalBackend.from_file(Path(config.get("endpointsFile") or "../../.local/endpoints.json"))
output = OutputStorage("consumer-output", OutputStorageArgs.for_job(job_id, backend))
job = BatchJob(
    "consumer",
    BatchJobArgs(
        job={
            "id": job_id,
            "display_name": "Report job of the consumer stack",
            "tasks": [
                {
                    "id": "summarize",
                    "command_line": "/bin/sh -c 'echo summary from $AZ_BATCH_NODE_ID > summary.txt'",
                    "output_files": [{"file_pattern": "summary.txt", "kind": "TaskOutput"}],
                },
                {"id": "stream", "command_line": stream},
            ],
            "file_conventions": {
                "install_library": True,
                "library_dependencies": config.get("libraryDependencies") or "preinstalled",
            },
            "wait_for": "tasks",
            "wait_timeout": "PT5M",
        },
        pool=pool,
        output=output,
    ),
)
pulumi.export("job_id", job.job_id)
pulumi.export("job_state", job.state)
pulumi.export("task_counts", job.task_counts)
pulumi.export("output_container_url", output.container_url)
