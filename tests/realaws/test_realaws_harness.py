"""The real-AWS suite's own machinery, tested here so it is never dead code.

Waiting (:func:`eventually`) runs on a fake clock; clean-up, tags, unique names and the real
backend's profile handling run against the local AWS (the real backend through profiles
whose ``endpoint_url`` is the local AWS).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, ProfileNotFound
from realaws_backends import (
    KEY_DELETION_WINDOW_DAYS,
    TEST_TAG,
    Backend,
    CleanupError,
    Ledger,
    LocalBackend,
    RealAwsConfig,
    RealBackend,
    aws_code_in,
    eventually,
    rehearsal_config,
)

from byok.aws.errors import error_code


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _fail(message: str) -> None:
    raise OSError(message)


def _denied() -> ClientError:
    return ClientError({"Error": {"Code": "AccessDenied", "Message": "not yet"}}, "AssumeRole")


# -- eventually -----------------------------------------------------------------------------


def test_eventually_retries_a_refusal_until_aws_has_applied_the_change() -> None:
    fake = FakeTime()
    answers: Iterator[ClientError | str] = iter([_denied(), _denied(), "ok"])

    def attempt() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    result = eventually(
        attempt,
        within_s=30,
        what="role assumable",
        retry_on=aws_code_in("AccessDenied"),
        clock=fake.clock,
        sleep=fake.sleep,
    )
    assert result == "ok"
    assert fake.sleeps == [1.0, 1.0]


def test_eventually_gives_up_after_the_settle_time_with_a_note() -> None:
    fake = FakeTime()

    def attempt() -> None:
        raise _denied()

    with pytest.raises(ClientError) as caught:
        eventually(
            attempt,
            within_s=5,
            what="role assumable",
            retry_on=aws_code_in("AccessDenied"),
            clock=fake.clock,
            sleep=fake.sleep,
        )
    assert fake.now == 5.0
    assert caught.value.__notes__ == ["still failing after 5s of retries: role assumable"]


def test_eventually_never_retries_other_errors() -> None:
    fake = FakeTime()

    def attempt() -> None:
        raise ClientError({"Error": {"Code": "ValidationError", "Message": "x"}}, "CreateRole")

    with pytest.raises(ClientError):
        eventually(
            attempt,
            within_s=30,
            what="x",
            retry_on=aws_code_in("AccessDenied"),
            clock=fake.clock,
            sleep=fake.sleep,
        )
    assert fake.sleeps == []


def test_eventually_returns_the_last_result_when_the_condition_never_holds() -> None:
    fake, calls = FakeTime(), []

    def attempt() -> int:
        calls.append(1)
        return len(calls)

    assert (
        eventually(
            attempt,
            within_s=3,
            what="x",
            until=lambda n: n > 99,
            clock=fake.clock,
            sleep=fake.sleep,
        )
        == 4
    )
    assert (
        eventually(
            attempt,
            within_s=0,
            what="x",
            until=lambda n: n > 99,
            clock=fake.clock,
            sleep=fake.sleep,
        )
        == 5
    )  # one attempt, no wait


# -- clean-up -------------------------------------------------------------------------------


def _key_state(backend: Backend, arn: str) -> dict[str, Any]:
    return dict(backend.kms.describe_key(KeyId=arn)["KeyMetadata"])


def _role_exists(iam: Any, name: str) -> bool:
    try:
        iam.get_role(RoleName=name)
    except ClientError as exc:
        assert error_code(exc) == "NoSuchEntity"
        return False
    return True


@pytest.mark.localaws
def test_a_failing_scenario_still_cleans_up_every_key_and_role(local_aws: Any) -> None:
    backend = LocalBackend(local_aws)
    with pytest.raises(RuntimeError, match="scenario failed"), backend:
        vendor_iam = local_aws.client("iam", backend.accounts.vendor)
        setup = backend.setup_for(
            "acme", "assume-role", external_id="byok-" + "e" * 43, role=backend.new_role_name()
        )
        role_arn = backend.create_client_role(setup)
        key_arn = backend.ready_key(setup)
        assert {"Key": TEST_TAG[0], "Value": TEST_TAG[1]} in backend.iam.list_role_tags(
            RoleName=setup.client_role_name
        )["Tags"]
        assert {"Key": TEST_TAG[0], "Value": TEST_TAG[1]} in vendor_iam.list_role_tags(
            RoleName=backend.vendor_role_name
        )["Tags"]
        assert {"TagKey": TEST_TAG[0], "TagValue": TEST_TAG[1]} in backend.kms.list_resource_tags(
            KeyId=key_arn
        )["Tags"]
        assert backend.run_id in role_arn and backend.run_id in backend.vendor_role_name
        raise RuntimeError("scenario failed")

    meta = _key_state(backend, key_arn)
    assert meta["KeyState"] == "PendingDeletion"
    window = meta["DeletionDate"] - datetime.now(UTC)
    assert (
        timedelta(days=KEY_DELETION_WINDOW_DAYS - 1)
        < window
        <= timedelta(days=KEY_DELETION_WINDOW_DAYS)
    )
    assert not _role_exists(backend.iam, setup.client_role_name)
    assert not _role_exists(vendor_iam, backend.vendor_role_name)
    assert backend.ledger.recorded == []


@pytest.mark.localaws
def test_clean_up_tolerates_resources_already_gone_and_makes_at_most_one_key_per_slot(
    local_aws: Any,
) -> None:
    with LocalBackend(local_aws) as backend:
        key = backend.key("direct")
        assert backend.key("direct") == key and backend.key("assume-role") != key
        setup = backend.setup_for(
            "acme", "assume-role", external_id="byok-" + "f" * 43, role=backend.new_role_name()
        )
        backend.create_client_role(setup)
        # Someone (or an earlier clean-up) got there first.
        backend.iam.delete_role_policy(
            RoleName=setup.client_role_name, PolicyName="byok-use-tenant-key"
        )
        backend.iam.delete_role(RoleName=setup.client_role_name)
        backend.kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=30)
    assert _key_state(backend, key)["KeyState"] == "PendingDeletion"
    assert _key_state(backend, backend.key("assume-role"))["KeyState"] == "PendingDeletion"


def test_one_failing_clean_up_step_does_not_stop_the_others() -> None:
    ledger, done = Ledger(), []
    ledger.add("first", lambda: done.append("first"))
    ledger.add("broken", lambda: _fail("network down"))
    ledger.add("last", lambda: done.append("last"))
    with pytest.raises(CleanupError) as caught:
        ledger.cleanup()
    assert done == ["last", "first"]  # newest first, and past the failure
    assert caught.value.leftovers == ["broken: OSError: network down"]
    assert "byok-test=1" in str(caught.value)


@pytest.mark.localaws
def test_a_clean_up_failure_is_a_note_on_the_scenarios_own_failure(local_aws: Any) -> None:
    backend = LocalBackend(local_aws)
    with pytest.raises(RuntimeError) as caught, backend:
        backend.ledger.add("stuck thing", lambda: _fail("stuck"))
        raise RuntimeError("scenario failed")
    assert "stuck thing: OSError: stuck" in "\n".join(caught.value.__notes__)


# -- the real backend's configuration ------------------------------------------------------


def test_real_aws_configuration_names_what_is_missing_and_defaults_to_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(pytest.UsageError, match="BYOK_AWS_VENDOR_PROFILE"):
        RealAwsConfig.from_env({"BYOK_AWS_CUSTOMER_PROFILE": "c"})
    monkeypatch.setenv("HOME", str(tmp_path))
    config = RealAwsConfig.from_env(
        {"BYOK_AWS_CUSTOMER_PROFILE": "c", "BYOK_AWS_VENDOR_PROFILE": "v"}
    )
    assert config.config_file == tmp_path / ".aws" / "config"
    assert config.credentials_file == tmp_path / ".aws" / "credentials"
    assert (config.region, config.settle_s) == ("us-east-1", 30.0)
    with pytest.raises(pytest.UsageError, match="BYOK_AWS_SETTLE_SECONDS"):
        RealAwsConfig.from_env(
            {
                "BYOK_AWS_CUSTOMER_PROFILE": "c",
                "BYOK_AWS_VENDOR_PROFILE": "v",
                "BYOK_AWS_SETTLE_SECONDS": "soon",
            }
        )


@pytest.mark.localaws
def test_real_backend_reads_the_named_profiles_and_puts_dev_null_back(
    local_aws: Any, tmp_path: Path
) -> None:
    config = rehearsal_config(local_aws, tmp_path)
    assert os.environ["AWS_CONFIG_FILE"] == os.devnull  # tests/conftest.py's guard
    with RealBackend(config) as backend:
        assert os.environ["AWS_CONFIG_FILE"] == str(config.config_file)
        assert os.environ["AWS_SHARED_CREDENTIALS_FILE"] == str(config.credentials_file)
        assert backend.vendor_settings.profile == "byok-rehearsal-vendor"
        assert backend.endpoint_url is None  # exactly as for real AWS
        assert backend.timing.settle_s == 30.0
        assert backend.vendor_role_arn.startswith(f"arn:aws:iam::{backend.accounts.vendor}:")
    assert os.environ["AWS_CONFIG_FILE"] == os.environ["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull


@pytest.mark.localaws
def test_real_backend_refuses_a_missing_profile_and_one_account_for_both(
    local_aws: Any, tmp_path: Path
) -> None:
    config = rehearsal_config(local_aws, tmp_path)
    with pytest.raises(ProfileNotFound):
        RealBackend(RealAwsConfig(**{**config.__dict__, "vendor_profile": "nobody"}))
    assert os.environ["AWS_CONFIG_FILE"] == os.devnull
    same = RealAwsConfig(**{**config.__dict__, "vendor_profile": config.customer_profile})
    with pytest.raises(pytest.UsageError, match="two different accounts"), RealBackend(same):
        pass
    assert os.environ["AWS_CONFIG_FILE"] == os.devnull


def test_without_the_profiles_the_real_half_is_skipped_with_the_reason_printed() -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BYOK_AWS_")}
    root = Path(__file__).parents[2]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "aws", "-p", "no:cacheprovider",
         "tests/realaws/test_realaws_scenarios.py"],
        cwd=root, env=environ, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 skipped, 10 deselected" in run.stdout
    assert (
        "SKIPPED [5] tests/realaws/test_realaws_scenarios.py: real-AWS suite is opt-in: set "
        "BYOK_AWS_CUSTOMER_PROFILE and BYOK_AWS_VENDOR_PROFILE"
    ) in run.stdout
