"""No request may produce a 500: requests generated from the service's own OpenAPI document
(valid and invalid parameters and bodies, with a valid write key) sent to a real server."""

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import SERVER_KEY, prepared_database, serve

EXAMPLES_PER_OPERATION = 40


def check_operation(operation, failures: list[str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        response = case.call(headers={"Authorization": f"Bearer {SERVER_KEY}"})
        where = f"{case.method} {case.formatted_path} {case.query} {case.body!r:.200}"
        content_type = response.headers.get("content-type", [""])[0]  # each header is a list of values
        if response.status_code >= 500:
            failures.append(f"{where} -> {response.status_code}: {response.text[:300]}")
        elif response.status_code >= 400 and content_type != "application/problem+json":
            failures.append(f"{where} -> {response.status_code} without a problem body")

    run()


async def test_no_request_is_a_server_error(fresh_database):
    url = await prepared_database(fresh_database, "kaltim_fuzz", cell_m=1000)
    with serve(url) as base:
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 15
        failures: list[str] = []
        for operation in operations:
            check_operation(operation, failures)
    assert not failures, "\n".join(failures[:20])
