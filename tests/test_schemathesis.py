"""Schemathesis over every operation of the OpenAPI schema, in-process: whatever the schema admits (and the
near misses it generates), no answer is a 5xx and every refusal is the one JSON error shape. Admin operations
run with the token, on a throwaway index. Fixed seed, a bounded number of cases per operation."""

from __future__ import annotations

import shutil

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from assistant.api import create_app
from assistant.build import build_index, scan_corpus
from assistant.config import Settings
from assistant.service import Assistant

from .helpers import SEED_CORPUS, HashEmbedder

TOKEN = "schemathesis-admin-token"
CASES = 60  # per operation: about a thousand requests, seconds with the stand-in embedder


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> schemathesis.BaseSchema:
    root = tmp_path_factory.mktemp("schemathesis")
    shutil.copytree(SEED_CORPUS, root / "corpus")
    configured = Settings.from_env(corpus_dir=root / "corpus", index_dir=root / "index", data_dir=root / "appdata",
                                   model="test-hash-embedder", admin_token=TOKEN)
    assistant = Assistant(configured, embedder=HashEmbedder())
    build_index(files=scan_corpus(configured.corpus_dir), store=assistant.store, embedder=assistant.embedder)
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(configured, assistant=assistant))


def test_no_operation_answers_with_a_server_error(api_schema: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15  # every route of the API, admin ones included
    statuses: dict[str, set[int]] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=CASES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case) -> None:
            response = case.call(headers={"authorization": f"Bearer {TOKEN}"})
            assert response.status_code < 500, (case.method, case.path, response.text[:300])
            statuses.setdefault(case.operation.label, set()).add(response.status_code)
            content_type = (response.headers.get("content-type") or [""])[0]  # each header: a list of values
            if response.status_code >= 400 and content_type.startswith("application/json"):
                body = response.json()
                assert body["status"] == response.status_code and isinstance(body["error"], str) and body["error"]

        call()
    assert set(statuses) == {operation.label for operation in operations}  # every operation was called
    assert sum(200 in found for found in statuses.values()) >= len(operations) // 2  # and many succeeded too
