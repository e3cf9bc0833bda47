"""Each operation of the Batch data plane 2025-06-01 (deprecated certificate operations excluded), from outside.

Table: data/operations-2025-06-01.json (see spec_operations.py for its source). Request bodies come from the
spec's x-ms-examples where it has one (data/examples-2025-06-01.json). Two tests per operation:
- status: the emulator routes the request and answers with the status the spec declares for success;
- headers: the answer carries the declared response headers (request-id always, client-request-id echoed
  when asked, ETag/Last-Modified/DataServiceId where declared for a non-list success), and one `Date`.
"""

from __future__ import annotations

import pytest
from spec_operations import load
from spec_probe import Verdict

OPERATIONS = [op["operationId"] for op in load()["operations"]]


@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_status(verdicts: dict[str, Verdict], operation_id: str) -> None:
    verdict = verdicts[operation_id]
    op = verdict.operation
    assert verdict.setup_error is None, f"{op['method']} {op['path']}: {verdict.summary()}"
    assert verdict.status_ok, (
        f"{op['method']} {op['path']}: expected {verdict.expected_code or verdict.expected_status}, "
        f"got {verdict.summary()}"
    )


@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_headers(verdicts: dict[str, Verdict], operation_id: str) -> None:
    verdict = verdicts[operation_id]
    assert verdict.answer is not None, verdict.summary()
    assert verdict.header_problems() == [], f"{verdict.operation['method']} {verdict.operation['path']}"


def test_table_covers_the_spec() -> None:
    """72 = the 77 operations of BatchService.json 2025-06-01 less its 5 deprecated certificate operations."""
    table = load()
    assert len(OPERATIONS) == len(set(OPERATIONS)) == 72
    assert not [o for o in OPERATIONS if o.startswith("Certificates_")]
    assert {(o["method"], o["path"]) for o in table["operations"]} >= {
        ("POST", "/pools"), ("GET", "/nodecounts"), ("PUT", "/jobs/{jobId}/tasks/{taskId}"),
        ("POST", "/jobs/{jobId}/addtaskcollection"), ("GET", "/supportedimages"),
    }  # fmt: skip
