"""Schemathesis extensions for tests/contract/run-fuzz.sh.

Organization archives (`application/x-tar`, `POST /organizations/import`):
random bytes, and an empty tar (two zero blocks), which the service must
refuse with 422 `invalid_archive`, never a server error.
"""

from hypothesis import strategies as st

import schemathesis

schemathesis.openapi.media_type(
    "application/x-tar",
    st.one_of(st.binary(max_size=4096), st.just(b"\0" * 1024)),
)
