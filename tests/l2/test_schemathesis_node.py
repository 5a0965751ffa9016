"""schemathesis against the rollup node's OpenAPI document, every check on (issue #12).

The node runs in process over an embedded chain, with two funded accounts, and
schemathesis calls its ASGI app directly. Any server error, an answer whose
status or body the document does not describe, or a request outside the
document that the node accepts fails the test.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.node.api import create_app
from l2gpu.node.cosign_desk import CoSignDesk
from l2gpu.scenarios.embedded_rollup import embedded_rollup

ALL_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
    checks.positive_data_acceptance,
    checks.missing_required_header,
    checks.unsupported_method,
    checks.use_after_free,
    checks.ensure_resource_availability,
    checks.ignored_auth,
]


def _node_app():
    chain = start_embedded_chain()
    served = embedded_rollup(chain, chain.accounts[1:3])
    served.server.should_exit = True  # schemathesis calls the app itself
    return create_app(served.node, CoSignDesk(timeout=0.1))


# Schema-valid input may still be refused with 400 where the rule is one JSON Schema
# cannot state: an address's EIP-55 checksum (mixed case that fails it may hold a
# typo), a transaction's signature and encoding, a co-signature's pairing check.
# Every other status a route answers must be one its document declares.
# A request too large for the body limit is refused with 413 before any schema check:
# a rejection like the others.
CONFIG = schemathesis.Config.from_dict({
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "400", "404", "409", "429"]},
        "negative_data_rejection": {
            "expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "413",
                                  "415", "422", "428", "429"]},
    },
})  # fmt: skip
schema = schemathesis.openapi.from_asgi("/openapi.json", _node_app(), config=CONFIG)


@schema.parametrize()
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))  # fmt: skip
def test_the_node_api_answers_as_its_document_says(case) -> None:
    if case.query and "wait" in case.query:
        case.query["wait"] = 0  # a long-poll would wait its full time for no request
    case.call_and_validate(checks=ALL_CHECKS)
