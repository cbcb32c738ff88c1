"""The unit room: no models and no servers, so `make unit` stays under a minute.

A unit test that asks for the tiny models or the S3 server fails at once; such a test belongs in
`tests/e2e` or `tests/storage`.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny() -> None:
    pytest.fail("tests/unit uses no models: move a test that needs the tiny models to tests/e2e")


@pytest.fixture(scope="session")
def s3_server() -> None:
    pytest.fail("tests/unit uses no servers: move a test that needs S3 to tests/storage")
