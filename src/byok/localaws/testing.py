"""Talking to a running local AWS from tests, the demo and benchmarks (over HTTP only).

:class:`LocalAws` knows the endpoint URL and the accounts convention (``ROOT`` + account id
is that account's root user), makes boto3 clients, fresh accounts, roles, users and assumed
role sessions, sets faults and reads the event log::

    aws = LocalAws("http://127.0.0.1:4566")
    customer = aws.new_account()
    key_arn = aws.client("kms", customer).create_key()["KeyMetadata"]["Arn"]

It imports neither moto nor the server; start one with :class:`byok.localaws.server.
LocalAwsServer` or ``byok local-aws``.
"""

from __future__ import annotations

import json
import secrets
import threading
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config

__all__ = ["Credentials", "LocalAws", "root_access_key"]

Credentials = Mapping[str, str]  # AccessKeyId, SecretAccessKey, optional SessionToken
_SECRET = "local-aws-secret"  # noqa: S105 - the local AWS ignores secrets
_NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def root_access_key(account: str) -> str:
    """The access key id of ``account``'s root user under the convention."""
    return f"ROOT{account}"


def _credentials(who: str | Credentials) -> Credentials:
    if isinstance(who, str):
        return {"AccessKeyId": root_access_key(who), "SecretAccessKey": _SECRET}
    return who


def _policy(policy: str | Mapping[str, Any]) -> str:
    return policy if isinstance(policy, str) else json.dumps(policy)


class LocalAws:
    """A client of one running local AWS.

    Clients made here do not retry (``max_attempts=1``), so a test sees exactly the error
    the local AWS answered; pass ``config=`` to :meth:`client` for other settings.
    """

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()
        # One botocore session for every client: service models are loaded once, not per
        # client (a fresh session re-reads them, hundreds of milliseconds for IAM).
        self._shared = boto3.Session(region_name="us-east-1")

    # -- accounts and clients -------------------------------------------------------------

    def new_account(self) -> str:
        """A fresh random 12-digit account id, so tests are isolated without resets."""
        return f"{secrets.randbelow(9 * 10**11) + 10**11}"

    def session(
        self, account_or_credentials: str | Credentials, region: str = "us-east-1"
    ) -> boto3.Session:
        """A boto3 session as ``account``'s root user, or with the given credentials."""
        creds = _credentials(account_or_credentials)
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds.get("SessionToken"),
            region_name=region,
        )

    def client(
        self,
        service: str,
        account_or_credentials: str | Credentials,
        region: str = "us-east-1",
        *,
        config: Config | None = None,
    ) -> Any:
        """A boto3 client of ``service`` for the local AWS (root clients are cached)."""
        cacheable = isinstance(account_or_credentials, str) and config is None
        if cacheable:
            key = (service, str(account_or_credentials), region)
            with self._lock:
                if key in self._clients:
                    return self._clients[key]
        creds = _credentials(account_or_credentials)
        with self._lock:  # botocore sessions are not safe for concurrent client creation
            client = self._shared.client(  # type: ignore[call-overload]
                service,
                region_name=region,
                endpoint_url=self.endpoint_url,
                config=config or _NO_RETRIES,
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds.get("SessionToken"),
            )
        if cacheable:
            with self._lock:
                self._clients[key] = client
        return client

    # -- identities -------------------------------------------------------------------------

    def make_role(
        self,
        account: str,
        name: str,
        trust_policy: str | Mapping[str, Any],
        policies: Mapping[str, str | Mapping[str, Any]] | None = None,
    ) -> str:
        """Create role ``name`` with a trust policy and inline policies; return its ARN."""
        iam = self.client("iam", account)
        arn = str(
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=_policy(trust_policy))["Role"][
                "Arn"
            ]
        )
        for policy_name, document in (policies or {}).items():
            iam.put_role_policy(
                RoleName=name, PolicyName=policy_name, PolicyDocument=_policy(document)
            )
        return arn

    def make_user(
        self,
        account: str,
        name: str,
        policies: Mapping[str, str | Mapping[str, Any]] | None = None,
    ) -> tuple[str, dict[str, str]]:
        """Create IAM user ``name`` with inline policies and an access key.

        Returns:
            The user's ARN and its credentials (AccessKeyId, SecretAccessKey).
        """
        iam = self.client("iam", account)
        arn = str(iam.create_user(UserName=name)["User"]["Arn"])
        for policy_name, document in (policies or {}).items():
            iam.put_user_policy(
                UserName=name, PolicyName=policy_name, PolicyDocument=_policy(document)
            )
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return arn, {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}

    def assume(
        self,
        who: str | Credentials,
        role_arn: str,
        *,
        external_id: str | None = None,
        session_name: str = "byok-test",
        duration_s: int | None = None,
    ) -> dict[str, str]:
        """``sts:AssumeRole`` as ``who`` (an account's root, or credentials).

        Returns:
            The session's credentials (AccessKeyId, SecretAccessKey, SessionToken).

        Raises:
            botocore.exceptions.ClientError: AccessDenied and the like, as AWS answers.
        """
        kwargs: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name}
        if external_id is not None:
            kwargs["ExternalId"] = external_id
        if duration_s is not None:
            kwargs["DurationSeconds"] = duration_s
        creds = self.client("sts", who).assume_role(**kwargs)["Credentials"]
        return {k: str(creds[k]) for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}

    def create_key(
        self, account: str, policy: str | Mapping[str, Any] | None = None, region: str = "us-east-1"
    ) -> str:
        """Create a symmetric key in ``account`` (AWS's default policy if none); return its ARN."""
        kwargs = {} if policy is None else {"Policy": _policy(policy)}
        return str(self.client("kms", account, region).create_key(**kwargs)["KeyMetadata"]["Arn"])

    # -- faults, reset, event log ---------------------------------------------------------

    def set_fault(
        self,
        *,
        service: str,
        kind: str,
        operation: str = "*",
        rate: float = 1.0,
        latency_ms: int = 0,
        count: int | None = None,
        status: int = 500,
        account: str | None = None,
        seed: int | None = None,
        region: str | None = None,
    ) -> list[dict[str, Any]]:
        """Add a fault rule (docs/local-aws.md#faults); return the active rules.

        Raises:
            urllib.error.HTTPError: 400 if the rule is malformed.
        """
        spec: dict[str, Any] = {
            "service": service,
            "operation": operation,
            "kind": kind,
            "rate": rate,
            "latency_ms": latency_ms,
            "status": status,
        }
        extras = (("count", count), ("account", account), ("seed", seed), ("region", region))
        for name, value in extras:
            if value is not None:
                spec[name] = value
        return list(self._admin("POST", "faults", spec)["faults"])

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._admin("DELETE", "faults")

    def reset(self) -> None:
        """Wipe all state of the local AWS (every account, the event log, faults)."""
        self._admin("POST", "reset")

    def lookup_events(
        self,
        account: str,
        *,
        region: str = "us-east-1",
        event_name: str | None = None,
        resource_name: str | None = None,
        username: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """``cloudtrail:LookupEvents`` as ``account``'s root, all pages, newest first.

        At most one of ``event_name``, ``resource_name``, ``username`` (CloudTrail's rule).

        Returns:
            The CloudTrail records (the parsed ``CloudTrailEvent`` of each event).
        """
        attributes = [
            {"AttributeKey": k, "AttributeValue": v}
            for k, v in (
                ("EventName", event_name),
                ("ResourceName", resource_name),
                ("Username", username),
            )
            if v is not None
        ]
        kwargs: dict[str, Any] = {"LookupAttributes": attributes}
        if start_time is not None:
            kwargs["StartTime"] = start_time
        if end_time is not None:
            kwargs["EndTime"] = end_time
        pages = self.client("cloudtrail", account, region).get_paginator("lookup_events")
        return [
            json.loads(e["CloudTrailEvent"])
            for page in pages.paginate(**kwargs)
            for e in page["Events"]
        ]

    # -- key events (docs/local-aws.md#key-events) ---------------------------------------

    def add_event_target(
        self,
        url: str,
        *,
        account: str | None = None,
        event_names: Sequence[str] = (),
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Deliver EventBridge-shaped key events of ``account`` (all if None) to ``url``
        (with ``headers``, like an EventBridge connection's API key).

        Returns:
            The target's id (for :meth:`remove_event_target`).
        """
        spec: dict[str, Any] = {"url": url, "event_names": list(event_names)}
        if headers:
            spec["headers"] = dict(headers)
        if account is not None:
            spec["account"] = account
        targets = self._admin("POST", "event-targets", spec)["targets"]
        return str(targets[-1]["id"])

    def remove_event_target(self, target_id: str) -> None:
        """Stop delivering to one target."""
        self._admin("DELETE", f"event-targets/{target_id}")

    def event_deliveries(self) -> list[dict[str, Any]]:
        """The recent delivery outcomes (target, event id and name, attempts, status, error)."""
        return list(self._admin("GET", "event-targets")["deliveries"])

    def _admin(self, method: str, what: str, body: Any = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - our own loopback endpoint
            f"{self.endpoint_url}/_byok/{what}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return dict(json.loads(answer.read() or b"{}"))


def statements(*items: Mapping[str, Any]) -> str:
    """A policy document (Version 2012-10-17) with these statements, as JSON text."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(items)})


def allow(
    principal: str | Sequence[str],
    actions: str | Sequence[str],
    *,
    resource: str | None = "*",
    condition: Mapping[str, Any] | None = None,
    effect: str = "Allow",
) -> dict[str, Any]:
    """One resource-policy statement for ``principal`` (an ARN or account root ARN).

    ``resource=None`` leaves Resource out, as trust policies require.
    """
    statement: dict[str, Any] = {
        "Effect": effect,
        "Principal": {"AWS": principal},
        "Action": actions,
    }
    if resource is not None:
        statement["Resource"] = resource
    if condition:
        statement["Condition"] = dict(condition)
    return statement
