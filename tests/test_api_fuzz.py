"""The JSON API fuzzed from its own OpenAPI document (schemathesis), on each listener with
the document that listener serves (issue 13: the residents' names no operator route): no
server error, and every answer has a documented status, content type and shape (issue 6).
tests/test_web_properties.py adds the hostile shapes of issue 13 on every route."""
import base64
import tempfile

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from kit.core import auth
from kit.core import config as kit_config
from kit.crypto.signing import new_key
from kit.storage.db import connect
from kit.web.app import create_app

pytestmark = pytest.mark.slow

_folder = tempfile.mkdtemp(prefix="kit-fuzz-")
new_key(f"{_folder}/mairie.key")
# Generous rate limits: the fuzzer is one client sending thousands of requests; a 429 is
# documented anyway.
_config = kit_config.build(f"{_folder}/kit", SIGNING_KEY=f"{_folder}/mairie.key",
                           RATE_LIMITS={"post": [(10_000, 60)], "lookup": [(10_000, 60)]})
resident_app = create_app(_config)
admin_app = create_app({**_config, "LISTENER": "admin"})
_password = auth.add_user(connect(_config["DATABASE"]), "fuzzer", "admin")
AUTH = {"Authorization": "Basic " + base64.b64encode(f"fuzzer:{_password}".encode()).decode()}

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
resident_schema = schemathesis.openapi.from_wsgi("/api/openapi.json", resident_app)
admin_schema = schemathesis.openapi.from_wsgi("/api/openapi.json", admin_app)
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


@resident_schema.parametrize()
@FUZZ
def test_public_api_never_fails(case):
    # identity: the WSGI transport hands schemathesis the body as sent, not un-gzipped
    case.call_and_validate(checks=CHECKS, headers={"Host": "localhost", "Accept-Encoding": "identity"})


@admin_schema.parametrize()
@FUZZ
def test_operator_api_never_fails(case):
    case.call_and_validate(checks=CHECKS, headers=AUTH | {"Accept-Encoding": "identity"})
