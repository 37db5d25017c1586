"""Files the CLI writes are all-or-nothing and private; the hand-over file round-trips.

* ``doc get -o`` on a damaged document exits 30 and leaves nothing behind (no ``.partial``,
  an existing file keeps its content); a good one is written 0600 whatever the umask.
* ``customer setup --handover-out`` writes the file ``tenant configure --handover`` reads
  (the same field names); options may fill gaps but not contradict it.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_world import onboard_with_handover, run, run_json, vendor_env

from byok.cli.files import atomic_output
from byok.errors import StorageError


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_atomic_output_removes_the_temporary_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_output(target) as sink:
        sink.write(b"half of the new")
        raise RuntimeError("integrity failure in frame 3")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_atomic_output_to_a_missing_folder_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot write"), atomic_output(tmp_path / "no" / "x"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_is_private_whatever_the_umask(tmp_path: Path, umask_022: None) -> None:
    with atomic_output(tmp_path / "a.txt", "w") as sink:
        sink.write("text")
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o600


@pytest.mark.localaws
def test_doc_get_leaves_nothing_behind_on_a_damaged_document(
    local_aws: Any, tmp_path: Path, umask_022: None
) -> None:
    env = vendor_env(local_aws, tmp_path / "home")
    acme = onboard_with_handover(local_aws, env, tmp_path, "acme")  # configure --handover
    handed = json.loads(acme.handover.read_text())
    assert set(handed) == {"tenant", "mode", "key_arn", "region", "client_role_arn", "external_id"}
    source = tmp_path / "small.txt"
    source.write_bytes(os.urandom(4096))
    run(env, "doc", "put", "acme", "small.txt", str(source))
    out = tmp_path / "out"
    out.mkdir()
    good = out / "good.txt"
    run(env, "doc", "get", "--reason", "service", "acme", "small.txt", "-o", str(good))
    assert good.read_bytes() == source.read_bytes()
    assert stat.S_IMODE(good.stat().st_mode) == 0o600

    blobs = [p for p in (tmp_path / "home" / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    damaged = bytearray(blobs[0].read_bytes())
    damaged[len(damaged) // 2] ^= 0x01  # a flipped bit in the body
    blobs[0].write_bytes(bytes(damaged))

    fresh = out / "fresh.txt"
    failed = run(
        env, "doc", "get", "--reason", "service", "acme", "small.txt", "-o", str(fresh), code=30
    )
    assert "integrity" in failed.output.lower()
    run(env, "doc", "get", "--reason", "service", "acme", "small.txt", "-o", str(good), code=30)
    assert good.read_bytes() == source.read_bytes()  # the old copy is untouched
    assert sorted(p.name for p in out.iterdir()) == ["good.txt"]  # no FILE, no FILE.partial
    as_json = run_json(
        env, "doc", "get", "--reason", "service", "acme", "small.txt", "-o", str(fresh), code=30
    )
    assert as_json["exit_code"] == 30 and not fresh.exists()


def test_doc_get_json_needs_a_file(tmp_path: Path) -> None:
    result = run(
        {"BYOK_HOME": str(tmp_path)},
        "doc",
        "get",
        "--reason",
        "service",
        "acme",
        "x",
        "--json",
        code=2,
    )
    assert json.loads(result.stdout)["field"] == "json"


def _handover(tmp: Path, **changes: str) -> Path:
    fields = {
        "tenant": "acme",
        "mode": "assume-role",
        "key_arn": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "region": "us-east-1",
        "client_role_arn": "arn:aws:iam::111122223333:role/byok-client-role",
        "external_id": "byok-" + "x" * 43,
    } | changes
    path = tmp / "handover.json"
    path.write_text(json.dumps(fields))
    return path


@pytest.mark.parametrize(
    ("extra", "changes", "field"),
    [
        (["globex"], {}, "tenant"),  # the file is acme's
        (["--key-arn", "arn:aws:kms:us-east-1:111122223333:key/other"], {}, "key_arn"),
        (["--role-arn", "arn:aws:iam::111122223333:role/other"], {}, "client_role_arn"),
        ([], {"key_arn": "<ARN of the new key>"}, "key_arn"),  # a dry run's hand-over
        ([], {"region": "eu-west-1"}, "region"),
        ([], {"key_policy": "{}"}, "key_policy"),  # not a hand-over field
    ],
)
def test_configure_refuses_a_handover_it_cannot_trust(
    tmp_path: Path, extra: list[str], changes: dict[str, str], field: str
) -> None:
    path = _handover(tmp_path, **changes)
    args = ["tenant", "configure", *extra[:1], "--handover", str(path), *extra[1:]]
    if extra[:1] and extra[0].startswith("--"):
        args = ["tenant", "configure", "--handover", str(path), *extra]
    body = run_json({"BYOK_HOME": str(tmp_path / "home")}, *args, code=2)
    assert body["field"] == field, body


def test_configure_without_a_handover_names_what_is_missing(tmp_path: Path) -> None:
    result = run({"BYOK_HOME": str(tmp_path)}, "tenant", "configure", "acme", code=2)
    assert "mode" in result.stderr and "--handover" in result.stderr
