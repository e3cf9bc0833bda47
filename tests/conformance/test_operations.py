"""Each operation of the Batch data plane 2025-06-01 (deprecated certificate operations excluded), from outside.

Table: data/operations-2025-06-01.json (see spec_operations.py for its source). Request bodies come from the
spec's x-ms-examples where it has one (data/examples-2025-06-01.json). Two tests per operation:
- status: the emulator routes the request and answers with the status the spec declares for success;
- headers: the answer carries the declared response headers (request-id always, client-request-id echoed
  when asked, ETag/Last-Modified/DataServiceId where declared for a non-list success), and one `Date`.
Operations not routed yet are listed in `NOT_YET_ROUTED` and checked to be exactly that.
"""

from __future__ import annotations

import pytest
from spec_operations import load
from spec_probe import Verdict

OPERATIONS = [op["operationId"] for op in load()["operations"]]
# Operations the emulator does not route yet. Their probe must still answer "not routed" (404
# ResourceNotFound / 405) or be blocked by a prerequisite of that kind, so this set stays true: an operation
# that becomes routed fails here until it is taken out, and from then on its status and headers are graded
# like every other. Empty since job schedules were routed.
NOT_YET_ROUTED: frozenset[str] = frozenset()


@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_status(verdicts: dict[str, Verdict], operation_id: str) -> None:
    verdict = verdicts[operation_id]
    op = verdict.operation
    if operation_id in NOT_YET_ROUTED:
        assert verdict.setup_error or not verdict.routed, (
            f"{op['method']} {op['path']} is routed now ({verdict.summary()}): take it out of NOT_YET_ROUTED"
        )
        return
    assert verdict.setup_error is None, f"{op['method']} {op['path']}: {verdict.summary()}"
    assert verdict.status_ok, (
        f"{op['method']} {op['path']}: expected {verdict.expected_code or verdict.expected_status}, "
        f"got {verdict.summary()}"
    )


@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_headers(verdicts: dict[str, Verdict], operation_id: str) -> None:
    verdict = verdicts[operation_id]
    if verdict.answer is None and operation_id in NOT_YET_ROUTED:
        return  # blocked by a prerequisite that is not routed yet (test_status checks that it is so)
    assert verdict.answer is not None, verdict.summary()
    assert verdict.header_problems() == [], f"{verdict.operation['method']} {verdict.operation['path']}"


def test_table_covers_the_spec() -> None:
    """72 = the 77 operations of BatchService.json 2025-06-01 less its 5 deprecated certificate operations."""
    table = load()
    assert len(OPERATIONS) == len(set(OPERATIONS)) == 72
    assert not [o for o in OPERATIONS if o.startswith("Certificates_")]
    assert {(o["method"], o["path"]) for o in table["operations"]} >= {
        ("POST", "/pools"),
        ("GET", "/nodecounts"),
        ("PUT", "/jobs/{jobId}/tasks/{taskId}"),
        ("POST", "/jobs/{jobId}/addtaskcollection"),
        ("GET", "/supportedimages"),
    }
