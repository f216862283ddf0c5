"""What schemathesis needs to know of our OpenAPI documents that JSON Schema cannot say.

A national ID's check digit is a mod-11 sum no `pattern` can hold, so the services declare
`format: ir-national-id` (mock_services.domain.national_id); this registers how to generate
one. The suite imports it; from the command line:

    SCHEMATHESIS_HOOKS=tests.mock_services.schemathesis_hooks \\
        schemathesis run --checks all http://127.0.0.1:PORT/openapi.json
"""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

from mock_services.domain.national_id import FORMAT, check_digit, is_valid_national_id


def _with_check_digit(first_nine: str) -> str:
    return first_nine + str(check_digit(first_nine))


NATIONAL_IDS = (st.text("0123456789", min_size=9, max_size=9).map(_with_check_digit)
                .filter(is_valid_national_id))
"""Valid national IDs: any nine digits and their check digit, all-equal ones left out."""

schemathesis.openapi.format(FORMAT, NATIONAL_IDS)
