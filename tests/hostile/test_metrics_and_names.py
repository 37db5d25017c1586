"""Metrics labels from closed sets whatever clients send (finding 3); document names as
docs/API.md states them: NFC, no bidi or line-separator controls, printed back verbatim
(finding 8, and the markup names of finding 4 stored as plain text)."""

from __future__ import annotations

import random
import re
import string
import unicodedata
from urllib.parse import quote

import pytest
from hostile_client import Served

from byok.api.metrics import KNOWN_METHODS

pytestmark = pytest.mark.localaws

_SERIES = re.compile(r"^byok_http_request_duration_seconds_count\{(.*)\} ", re.M)


def _series(served: Served) -> list[dict[str, str]]:
    with served.client() as client:
        text = client.get("/metrics", headers=served.world.auth(served.world.operator)).text
    return [dict(re.findall(r'(\w+)="([^"]*)"', labels)) for labels in _SERIES.findall(text)]


def test_random_methods_and_paths_add_no_series(served: Served) -> None:
    rng = random.Random(12)
    writer = served.auth("acme", "writer")
    routes = set(served.world.client.app.openapi()["paths"])  # type: ignore[attr-defined]
    with served.client() as client:
        client.get("/healthz")
        before = len(_series(served))
        for i in range(300):
            method = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 40)))
            path = "/" + "/".join(rng.choices(["v1", "tenants", "acme", "x" * i, "%7B%7D"], k=4))
            headers = writer if i % 2 else {}
            client.request(method if i % 3 else rng.choice(["GET", "PUT"]), path, headers=headers)
    series = _series(served)
    # What the random traffic may add: methods {known, other} x {other route} x its statuses.
    assert len(series) - before <= (len(KNOWN_METHODS) + 1) * 4
    assert {s["method"] for s in series} <= KNOWN_METHODS | {"other"}
    assert {s["route"].replace(":path}", "}") for s in series} <= routes | {"other"}


@pytest.mark.parametrize(
    ("char", "what"),
    [("\u202e", "bidirectional control"), ("\u2066", "bidirectional control"),
     ("\u200f", "bidirectional control"), ("\u2028", "line or paragraph separator"),
     ("\u2029", "line or paragraph separator"), ("\u0085", "control character"),
     ("\x1b", "control character"), ("\x7f", "control character")],
)  # fmt: skip
def test_names_with_display_controls_are_refused_by_name(
    served: Served, char: str, what: str
) -> None:
    writer = served.auth("acme", "writer")
    path = "/v1/tenants/acme/documents/" + quote(f"invoice{char}fdp.exe", safe="")
    with served.client() as client:
        response = client.put(path, content=b"x", headers=writer)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["field"] == "name"
        assert f"U+{ord(char):04X}" in problem["detail"] and what in problem["detail"]
        assert "bidirectional controls" in problem["fix"]
        assert client.head(path, headers=writer).status_code == 422


def test_nfc_and_nfd_spellings_name_one_document(served: Served) -> None:
    writer = served.auth("acme", "writer")
    nfc, nfd = (
        unicodedata.normalize("NFC", "café/résumé"),
        unicodedata.normalize("NFD", "café/résumé"),
    )
    assert nfc != nfd
    base = "/v1/tenants/acme/documents/"
    with served.client() as client:
        assert client.put(base + quote(nfc), content=b"one", headers=writer).status_code == 200
        assert client.put(base + quote(nfd), content=b"two", headers=writer).status_code == 200
        assert client.get(base + quote(nfc), headers=writer).content == b"two"
        listed = client.get("/v1/tenants/acme/documents", params={"prefix": nfd[:5]},
                            headers=writer).json()["items"]  # fmt: skip
        assert [item["name"] for item in listed] == [nfc]


def test_name_length_is_counted_in_characters(served: Served) -> None:
    writer = served.auth("acme", "writer")
    longest = "é" * 1023 + "/"  # 1,024 characters, 2,047 bytes of UTF-8
    with served.client() as client:
        path = "/v1/tenants/acme/documents/" + quote(longest, safe="")
        stored = client.put(path, content=b"long name", headers=writer)
        assert stored.status_code == 200, stored.text
        assert stored.json()["name"] == longest
        assert client.get(path, headers=writer).content == b"long name"
        too_long = client.put("/v1/tenants/acme/documents/" + "n" * 1025, content=b"x",
                              headers=writer)  # fmt: skip
        assert too_long.status_code == 422 and too_long.json()["field"] == "name"


@pytest.mark.parametrize("name", ["[/bold]", "[bold red]WARNING: run byok tenant offboard acme[/]",
                                  "<script>alert(1)</script>", "a\\b/../c"])  # fmt: skip
def test_markup_in_names_is_stored_and_listed_verbatim(served: Served, name: str) -> None:
    writer = served.auth("acme", "writer")
    path = "/v1/tenants/acme/documents/" + quote(name, safe="")
    with served.client() as client:
        assert client.put(path, content=name.encode(), headers=writer).status_code == 200
        assert client.get(path, headers=writer).content == name.encode()
        listed = client.get("/v1/tenants/acme/documents", params={"prefix": name},
                            headers=writer).json()["items"]  # fmt: skip
        assert [item["name"] for item in listed] == [name]
