"""Fault injection: throttling, 5xx, dropped connections, latency, and clearing them."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from localaws_helpers import code_of, status_of

from byok.localaws.testing import LocalAws

pytestmark = pytest.mark.localaws


@pytest.fixture(autouse=True)
def no_faults_left(local_aws: LocalAws) -> Iterator[None]:
    local_aws.clear_faults()
    yield
    local_aws.clear_faults()


def encrypt(local_aws: LocalAws, account: str, key_arn: str) -> str:
    answer = local_aws.client("kms", account).encrypt(KeyId=key_arn, Plaintext=b"x")
    return str(answer["KeyId"])


@pytest.mark.parametrize(
    ("kind", "status", "code", "http"),
    [
        ("throttle", 500, "ThrottlingException", 400),
        ("error5xx", 500, "KMSInternalException", 500),
        ("error5xx", 503, "ServiceUnavailableException", 503),
    ],
)
def test_kms_fault_then_clearing_restores(
    local_aws: LocalAws,
    customer: str,
    key_arn: str,
    kind: str,
    status: int,
    code: str,
    http: int,
) -> None:
    local_aws.set_fault(
        service="kms", operation="Encrypt", kind=kind, status=status, account=customer
    )
    with pytest.raises(ClientError) as exc:
        encrypt(local_aws, customer, key_arn)
    assert (code_of(exc), status_of(exc)) == (code, http)
    # other operations are untouched
    assert local_aws.client("kms", customer).describe_key(KeyId=key_arn)["KeyMetadata"]
    local_aws.clear_faults()
    assert encrypt(local_aws, customer, key_arn) == key_arn


def test_throttled_kms_call_is_in_the_event_log(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    local_aws.set_fault(service="kms", operation="Encrypt", kind="throttle", account=customer)
    with pytest.raises(ClientError) as exc:
        encrypt(local_aws, customer, key_arn)
    (event,) = local_aws.lookup_events(customer, event_name="Encrypt")
    assert event["errorCode"] == "ThrottlingException"
    assert event["requestID"] == exc.value.response["ResponseMetadata"]["RequestId"]


def test_sts_throttle_uses_the_query_protocol(local_aws: LocalAws, customer: str) -> None:
    local_aws.set_fault(service="sts", operation="GetCallerIdentity", kind="throttle")
    with pytest.raises(ClientError) as exc:
        local_aws.client("sts", customer).get_caller_identity()
    assert (code_of(exc), status_of(exc)) == ("Throttling", 400)


def test_reset_closes_the_connection_without_answer(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    local_aws.set_fault(service="kms", operation="*", kind="reset", account=customer)
    with pytest.raises(ConnectionClosedError):
        encrypt(local_aws, customer, key_arn)
    local_aws.clear_faults()
    assert encrypt(local_aws, customer, key_arn) == key_arn


def test_latency_delays_and_can_exceed_a_read_timeout(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    local_aws.set_fault(
        service="kms", operation="Encrypt", kind="latency", latency_ms=300, account=customer
    )
    started = time.monotonic()
    assert encrypt(local_aws, customer, key_arn) == key_arn
    assert time.monotonic() - started >= 0.3
    impatient = local_aws.client(
        "kms", customer, config=Config(read_timeout=0.1, retries={"total_max_attempts": 1})
    )
    with pytest.raises(ReadTimeoutError):
        impatient.encrypt(KeyId=key_arn, Plaintext=b"x")


def test_count_limits_a_fault(local_aws: LocalAws, customer: str, key_arn: str) -> None:
    local_aws.set_fault(
        service="kms", operation="Encrypt", kind="throttle", count=2, account=customer
    )
    outcomes = []
    for _ in range(4):
        try:
            encrypt(local_aws, customer, key_arn)
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(code_of(error))
    assert outcomes == ["ThrottlingException", "ThrottlingException", "ok", "ok"]


def test_partial_rate_is_reproducible_with_a_seed(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    def run() -> list[bool]:
        local_aws.clear_faults()
        local_aws.set_fault(
            service="kms", operation="Encrypt", kind="throttle", rate=0.5, seed=7, account=customer
        )
        hits = []
        for _ in range(20):
            try:
                encrypt(local_aws, customer, key_arn)
                hits.append(False)
            except ClientError:
                hits.append(True)
        return hits

    first = run()
    assert first == run()
    assert 0 < sum(first) < 20


def test_fault_scoped_to_an_account_spares_others(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    other = local_aws.new_account()
    other_key = local_aws.create_key(other)
    local_aws.set_fault(service="kms", operation="*", kind="throttle", account=customer)
    assert encrypt(local_aws, other, other_key) == other_key
    with pytest.raises(ClientError):
        encrypt(local_aws, customer, key_arn)


def test_malformed_fault_is_refused(local_aws: LocalAws) -> None:
    with pytest.raises(urllib.error.HTTPError) as exc:
        local_aws.set_fault(service="kms", kind="explode")
    assert exc.value.code == 400
    assert "kind must be one of" in json.loads(exc.value.read())["error"]


def test_admin_reset_wipes_state() -> None:
    from byok.localaws.server import LocalAwsServer

    with LocalAwsServer() as server:  # its own server: the shared one must keep its state
        aws = LocalAws(server.endpoint_url)
        account = aws.new_account()
        key = aws.create_key(account)
        aws.set_fault(service="kms", operation="ListKeys", kind="latency", latency_ms=1)
        aws.reset()
        assert aws.client("kms", account).list_keys()["Keys"] == []
        # the CreateKey event is gone; only the ListKeys just made is recorded
        assert [e["eventName"] for e in aws.lookup_events(account)] == ["ListKeys"]
        with urllib.request.urlopen(f"{server.endpoint_url}/_byok/faults") as answer:
            assert json.loads(answer.read()) == {"faults": []}
        with pytest.raises(ClientError) as exc:
            aws.client("kms", account).describe_key(KeyId=key)
        assert code_of(exc) == "NotFoundException"
