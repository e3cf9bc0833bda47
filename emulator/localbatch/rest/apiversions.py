"""The api-versions the emulator serves: exactly those Azure Batch has published for its data plane.

Owns `PUBLISHED` and `check_api_version`. The list is the set of version folders of the Batch data-plane
specification (Azure/azure-rest-api-specs, `specification/batch/data-plane/Microsoft.Batch/stable/*` and
`Azure.Batch/stable/*`): every version a Microsoft client was ever generated from, so older clients that
are still in use (the JavaScript SDK `@azure/batch` 10.x sends `2022-10-01.16.0`, azure-batch 14.x
`2024-07-01.20.0`) keep working, while a wrongly pinned or misspelt version is refused with the 400 the
service answers. Requests are served the same way whatever the version (the emulator implements the
newest behaviour); the check only refuses versions the service does not know.
May import: `exceptions`.
"""

from __future__ import annotations

from ..exceptions import BatchError, invalid_query

PUBLISHED = frozenset(
    {
        "2015-12-01.2.2",
        "2016-02-01.3.0",
        "2016-07-01.3.1",
        "2017-01-01.4.0",
        "2017-05-01.5.0",
        "2017-06-01.5.1",
        "2017-09-01.6.0",
        "2018-03-01.6.1",
        "2018-08-01.7.0",
        "2018-12-01.8.0",
        "2019-06-01.9.0",
        "2019-08-01.10.0",
        "2020-03-01.11.0",
        "2020-09-01.12.0",
        "2021-06-01.14.0",
        "2022-01-01.15.0",
        "2022-10-01.16.0",
        "2023-05-01.17.0",
        "2023-11-01.18.0",
        "2024-02-01.19.0",
        "2024-07-01.20.0",
        "2025-06-01",
    }
)


def check_api_version(value: str | None) -> None:
    """400 `MissingRequiredQueryParameter` without an api-version, `InvalidQueryParameterValue` for an
    api-version Batch never published."""
    if not value:
        raise BatchError(
            400,
            "MissingRequiredQueryParameter",
            "A query parameter that's mandatory for this request is not specified.",
            [("QueryParameterName", "api-version")],
        )
    if value not in PUBLISHED:
        raise invalid_query("api-version", value, "The api-version is not one the Batch service supports.")
