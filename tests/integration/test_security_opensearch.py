"""OpenSearch with TLS on HTTP and basic auth: the shared checks of tests/security_checks.py."""

from __future__ import annotations

import pytest

from tests.security_checks import *  # noqa: F401,F403 - the same tests for each engine
from tests.security_checks import pipeline_runs, secured  # noqa: F401 - module fixtures

pytestmark = pytest.mark.integration
ENGINE = "opensearch"
