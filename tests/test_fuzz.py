"""Property-based fuzzing of every JSON route in-process: whatever arrives, the answer is never a 5xx,
and every error is the one JSON shape. Fixed seed (derandomized), a bounded number of cases per route."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.api import create_app
from assistant.service import Assistant

CASES = 120
RUN = settings(max_examples=CASES, derandomize=True, deadline=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# any text, lone surrogates and invisible characters included
TEXT = st.text(alphabet=st.characters(blacklist_categories=()), max_size=40)
SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10**18, max_value=10**30)
           | st.floats(allow_nan=True, allow_infinity=True) | TEXT)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8)
KNOWN_FILTERS = st.sampled_from(["theme", "area", "type", "year_from", "year_to"])
FILTERS = (st.dictionaries(KNOWN_FILTERS, JSON_VALUES, max_size=3)
           | st.dictionaries(KNOWN_FILTERS | TEXT, JSON_VALUES, max_size=3) | JSON_VALUES)


@pytest.fixture
def client(built: Assistant) -> TestClient:
    return TestClient(create_app(built.settings, assistant=built), raise_server_exceptions=False)


def check(response: Any) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert body["status"] == response.status_code and isinstance(body["error"], str) and body["error"]


def post(client: TestClient, path: str, body: Any) -> Any:
    return client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})


@settings(RUN, max_examples=3 * CASES)
@given(body=st.fixed_dictionaries({"question": st.sampled_from(["neglect", "early help"]) | TEXT | JSON_VALUES},
                                  optional={
    "history": st.lists(st.fixed_dictionaries({"question": TEXT}, optional={"answer": TEXT | JSON_VALUES}),
                        max_size=3) | JSON_VALUES,
    "filters": FILTERS,
    "k": JSON_VALUES,
}))
def test_ask(client: TestClient, body: dict[str, Any]) -> None:
    check(post(client, "/api/ask", body))


PARAM_VALUES = TEXT | st.integers().map(str) | st.integers(10**15, 10**30).map(str)


@RUN
@given(params=st.fixed_dictionaries({"q": st.sampled_from(["neglect", "housing"]) | TEXT}, optional={
    name: PARAM_VALUES for name in ("k", "theme", "area", "type", "year_from", "year_to")}))
def test_search(client: TestClient, params: dict[str, str]) -> None:
    check(client.get("/api/search", params=params))


@RUN
@given(body=st.fixed_dictionaries({}, optional={
    "chunk_ids": st.lists(TEXT | st.from_regex(r"[a-z0-9-]{1,30}#[0-9]{1,30}", fullmatch=True)
                          | st.integers(0, 10**30).map(lambda n: f"2016-luton-child-f-scr-response#{n}"), max_size=4)
    | JSON_VALUES,
    "format": st.sampled_from(["md", "csv", "docx"]) | TEXT,
}))
def test_export(client: TestClient, body: dict[str, Any]) -> None:
    check(post(client, "/api/export", body))


@RUN
@given(segment=TEXT.filter(lambda text: "/" not in text and text not in ("", ".", "..")))
def test_documents_and_themes_by_id(client: TestClient, segment: str) -> None:
    for path in ("/api/documents/", "/api/themes/", "/documents/"):
        check(client.get(path + quote(segment, safe="", errors="surrogatepass")))
