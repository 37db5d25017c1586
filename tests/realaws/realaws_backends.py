"""The two backends of the real-AWS suite: one set of AWS operations, two places to run them.

The scenarios (``test_realaws_scenarios.py``) talk only to a :class:`Backend`. Every AWS call
a scenario makes (create the customer key, put its policy, create a client role, disable the
key, clean up) is made here, by the same code, whichever backend runs it:

* :class:`LocalBackend`: two fresh accounts of the project's local AWS (root keys over HTTP);
  AWS applies every change at once, so ``settle_s`` is 0 and nothing is ever retried.
* :class:`RealBackend`: two named profiles (customer account, vendor account) of real AWS.
  IAM and KMS are eventually consistent ("typically less than a few seconds ..., in some cases
  it can take several minutes", AWS KMS developer guide, *KMS eventual consistency*), so each
  step that follows a policy change is retried for up to ``settle_s`` (30 s by default).

A backend owns what it creates: unique names (``byok-test-...-<run id>``), the tag
``byok-test=1`` on every key and role, and a :class:`Ledger` that, when the backend closes
(also after a failure), schedules every key for deletion with AWS's 7-day minimum window and
deletes every role. A run creates at most two KMS keys (one per access option); scenarios
reuse them and put back the state they need first (:meth:`Backend.ready_key`).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal, Self, TypeVar

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from byok.aws.clients import AwsSettings, ClientFactory, StaticCredentials
from byok.aws.errors import error_code
from byok.core.policy.templates import (
    CustomerSetup,
    VendorIdentity,
    client_permissions_policy,
    client_trust_policy,
    new_key_policy,
    render_json,
)
from byok.core.policy.templates.policies import key_policy_document, literal_values, root_statement
from byok.service.bootstrap import ensure_vendor_role
from byok.service.vendor import Vendor
from byok.settings import Settings
from byok.store.blobs import FilesystemBlobStore
from byok.store.database import Store

__all__ = [
    "KEY_DELETION_WINDOW_DAYS",
    "TEST_TAG",
    "Backend",
    "CleanupError",
    "Ledger",
    "LocalBackend",
    "RealBackend",
    "Timing",
    "eventually",
    "rehearsal_config",
]

T = TypeVar("T")
Slot = Literal["direct", "assume-role"]

TEST_TAG: Final = ("byok-test", "1")
KEY_DELETION_WINDOW_DAYS: Final = 7  # the shortest pending window KMS accepts
CLIENT_POLICY_NAME: Final = "byok-use-tenant-key"
_IAM_REGION: Final = "us-east-1"  # IAM is global; its endpoint lives here
_CLIENT_CONFIG: Final = Config(retries={"total_max_attempts": 4, "mode": "standard"})


# -- waiting for AWS ----------------------------------------------------------------------


def eventually(
    attempt: Callable[[], T],
    *,
    within_s: float,
    what: str,
    until: Callable[[T], bool] | None = None,
    retry_on: Callable[[BaseException], bool] | None = None,
    interval_s: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``attempt`` until ``until(result)`` holds, for at most ``within_s`` seconds.

    For steps that follow a change AWS applies eventually (a new role, a key policy naming
    it). ``within_s=0`` makes exactly one attempt: the local AWS is strongly consistent, so
    a retry there would only hide a bug.

    Returns:
        The first result ``until`` accepts, or else the last result (the caller's
        assertion then shows what AWS answered).

    Raises:
        Whatever ``attempt`` raised, once ``retry_on`` refuses it or time is up.
    """
    deadline = clock() + within_s
    while True:
        try:
            result = attempt()
        except Exception as exc:
            if retry_on is None or not retry_on(exc) or clock() + interval_s > deadline:
                if within_s > 0:
                    exc.add_note(f"still failing after {within_s:g}s of retries: {what}")
                raise
        else:
            if until is None or until(result) or clock() + interval_s > deadline:
                return result
        sleep(interval_s)


def aws_code_in(*codes: str) -> Callable[[BaseException], bool]:
    """A ``retry_on`` predicate: the AWS error code is one of ``codes``."""
    return lambda exc: error_code(exc) in codes


def _unknown_principal(exc: BaseException) -> bool:
    """IAM and KMS refuse a policy naming a principal they cannot see yet (a new role)."""
    text = str(exc).lower()
    return error_code(exc) in ("MalformedPolicyDocument", "MalformedPolicyDocumentException") and (
        "principal" in text
    )


# -- clean-up -----------------------------------------------------------------------------


class CleanupError(AssertionError):
    """Some resources could not be cleaned up; ``leftovers`` names each with the error."""

    def __init__(self, leftovers: list[str]) -> None:
        super().__init__(
            "clean-up left resources behind (delete them by hand; all carry the tag "
            f"{TEST_TAG[0]}={TEST_TAG[1]}):\n  " + "\n  ".join(leftovers)
        )
        self.leftovers = leftovers


class Ledger:
    """Every AWS resource a backend created, undone in reverse order by :meth:`cleanup`.

    A resource is recorded *before* the call that creates it where its name is known first
    (roles), so a half-made resource is cleaned up too. Undoing is idempotent: a resource
    that is already gone is not an error.
    """

    def __init__(self) -> None:
        self._undo: list[tuple[str, Callable[[], None]]] = []

    def add(self, what: str, undo: Callable[[], None]) -> None:
        """Record ``undo`` (run once at clean-up), described as ``what``."""
        self._undo.append((what, undo))

    def key(self, kms: Any, key_arn: str) -> None:
        """Record a KMS key: clean-up schedules its deletion (7 days)."""
        self.add(f"KMS key {key_arn}", lambda: schedule_key_deletion(kms, key_arn))

    def role(self, iam: Any, name: str) -> None:
        """Record an IAM role: clean-up deletes its policies, then the role."""
        self.add(f"IAM role {name}", lambda: delete_role(iam, name))

    @property
    def recorded(self) -> list[str]:
        """What is recorded, oldest first."""
        return [what for what, _ in self._undo]

    def cleanup(self) -> None:
        """Undo everything, newest first; every item is tried even if one fails.

        Raises:
            CleanupError: naming every resource that could not be cleaned up.
        """
        leftovers = []
        while self._undo:
            what, undo = self._undo.pop()
            try:
                undo()
            except Exception as exc:
                leftovers.append(f"{what}: {type(exc).__name__}: {exc}")
        if leftovers:
            raise CleanupError(leftovers)


def schedule_key_deletion(kms: Any, key_arn: str) -> None:
    """Schedule ``key_arn`` for deletion after the 7-day minimum (no-op if already pending
    or gone). The key costs nothing more once deleted; until then it can be recovered with
    ``kms:CancelKeyDeletion``."""
    try:
        state = kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"]
        if state not in ("PendingDeletion", "PendingReplicaDeletion"):
            kms.schedule_key_deletion(KeyId=key_arn, PendingWindowInDays=KEY_DELETION_WINDOW_DAYS)
    except ClientError as exc:
        if error_code(exc) != "NotFoundException":
            raise


def delete_role(iam: Any, name: str) -> None:
    """Delete role ``name`` with its inline and attached policies (no-op if it is gone)."""
    try:
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        for policy in attached:
            iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
        iam.delete_role(RoleName=name)
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise


# -- the backend --------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """How long things may take.

    Attributes:
        bound_s: the vendor's revocation bound (tenant-key cache TTL, longest reuse of a
            client-role session).
        settle_s: how long AWS may take to apply an IAM or KMS change (0: at once).
        slack_s: scheduling and HTTP round trips on top.
    """

    bound_s: float
    settle_s: float
    slack_s: float

    @property
    def revocation_deadline_s(self) -> float:
        """The longest a revocation may take to bite: bound, propagation, slack."""
        return self.bound_s + self.settle_s + self.slack_s


@dataclass(frozen=True)
class Accounts:
    """Who is who in one backend."""

    customer: str
    vendor: str


class Backend:
    """Customer-side and vendor-side AWS operations of the scenarios (see module docstring).

    Use as a context manager (``with LocalBackend(...) as backend``): entering sets up the
    vendor role, leaving cleans up everything recorded in :attr:`ledger`, failure or not.
    """

    name = "abstract"

    def __init__(
        self,
        *,
        customer: boto3.Session,
        vendor_settings: AwsSettings,
        endpoint_url: str | None,
        region: str,
        timing: Timing,
        run_id: str | None = None,
    ) -> None:
        self.customer_session = customer
        self.vendor_settings = vendor_settings
        self.endpoint_url = endpoint_url
        self.region = region
        self.timing = timing
        self.run_id = run_id or secrets.token_hex(4)
        self.ledger = Ledger()
        self.kms = self._customer_client("kms", region)
        self.iam = self._customer_client("iam", _IAM_REGION)
        self.vendor_role_name = f"byok-test-dsr-{self.run_id}"
        self.vendor_role_arn = ""
        self.accounts = Accounts("", "")
        self._keys: dict[Slot, str] = {}
        self._roles = 0

    # -- life cycle -------------------------------------------------------------------------

    def __enter__(self) -> Self:
        try:
            self.open()
        except BaseException as exc:
            self.__exit__(type(exc), exc, None)
            raise
        return self

    def __exit__(self, _type: object, error: BaseException | None, _tb: object) -> None:
        try:
            self.close()
        except CleanupError as cleanup:
            if error is None:
                raise
            error.add_note(str(cleanup))  # the scenario's own failure stays the headline

    def open(self) -> None:
        """Find both accounts and create the vendor's document-storage role (tagged)."""
        vendor_factory = ClientFactory(self.vendor_settings)
        customer = self._customer_client("sts", self.region).get_caller_identity()["Account"]
        vendor = vendor_factory.client("sts", self.region).get_caller_identity()["Account"]
        if customer == vendor:
            raise pytest.UsageError(
                f"customer and vendor are the same AWS account ({vendor}); BYOK is about "
                "cross-account access: give profiles of two different accounts"
            )
        self.accounts = Accounts(str(customer), str(vendor))
        iam = vendor_factory.client("iam", _IAM_REGION)
        self.ledger.role(iam, self.vendor_role_name)  # before creating: half-made roles go too
        role = ensure_vendor_role(
            vendor_factory,
            role_name=self.vendor_role_name,
            service_principal_arn=f"arn:aws:iam::{vendor}:root",
        )
        self.vendor_role_arn = role.arn
        iam.tag_role(RoleName=self.vendor_role_name, Tags=[_iam_tag()])
        # IAM eventual consistency: a new role cannot be assumed for a few seconds.
        sts = vendor_factory.client("sts", self.region)
        self.settle(
            lambda: sts.assume_role(
                RoleArn=role.arn, RoleSessionName="byok-test-ready", DurationSeconds=900
            ),
            what=f"the new vendor role {role.arn} becomes assumable",
            retry_on=aws_code_in("AccessDenied"),
        )

    def close(self) -> None:
        """Clean up everything this backend created (raises :class:`CleanupError`)."""
        self.ledger.cleanup()

    # -- vendor side ------------------------------------------------------------------------

    @property
    def vendor_identity(self) -> VendorIdentity:
        """The vendor as the customer's policies name it (one role for both options)."""
        return VendorIdentity(
            self.accounts.vendor,
            customer_facing_role=self.vendor_role_name,
            document_storage_role=self.vendor_role_name,
        )

    def new_vendor(self, home: Path) -> Vendor:
        """A fresh vendor service (SQLite and blobs under ``home``) on this backend's AWS."""
        settings = Settings(
            home=home,
            vendor_account=self.accounts.vendor,
            vendor_role_name=self.vendor_role_name,
            allowed_regions=(self.region,),
            revocation_bound_s=self.timing.bound_s,
        )
        aws = replace(self.vendor_settings, document_storage_role_arn=self.vendor_role_arn)
        store = Store.open(f"sqlite:///{home / 'byok.db'}")
        blobs = FilesystemBlobStore(home / "blobs")
        return Vendor(settings, store=store, blobs=blobs, factory=ClientFactory(aws))

    # -- customer side ----------------------------------------------------------------------

    def setup_for(
        self, tenant: str, slot: Slot, *, external_id: str | None = None, role: str | None = None
    ) -> CustomerSetup:
        """The customer's choices for ``tenant`` on the slot's key (toolkit input)."""
        if slot == "direct":
            return CustomerSetup(tenant, "direct", self.accounts.customer, self.key(slot))
        return CustomerSetup(
            tenant, "assume-role", self.accounts.customer, self.key(slot),
            external_id=external_id, client_role_name=role or "unused",
        )  # fmt: skip

    def key(self, slot: Slot) -> str:
        """The slot's customer key (created on first use, tagged, recorded for clean-up).

        At most one key per slot, so a run makes at most two keys.
        """
        if slot not in self._keys:
            made = self.kms.create_key(
                Description=f"byok real-AWS test suite, run {self.run_id} (safe to delete)",
                KeySpec="SYMMETRIC_DEFAULT",
                KeyUsage="ENCRYPT_DECRYPT",
                Tags=[{"TagKey": TEST_TAG[0], "TagValue": TEST_TAG[1]}],
            )
            arn = str(made["KeyMetadata"]["Arn"])
            self.ledger.key(self.kms, arn)
            self._keys[slot] = arn
        return self._keys[slot]

    def ready_key(self, setup: CustomerSetup) -> str:
        """Make the setup's key usable by the vendor: enabled, and its policy exactly the
        toolkit's :func:`~byok.core.policy.templates.new_key_policy` (root + key user).

        Scenarios share a key, so each puts back the state it starts from.
        """
        assert setup.key_arn is not None
        self.enable_key(setup.key_arn)
        self.put_key_policy(setup.key_arn, new_key_policy(self.vendor_identity, setup))
        return setup.key_arn

    def put_key_policy(self, key_arn: str, policy: Mapping[str, Any]) -> None:
        """``kms:PutKeyPolicy``, retried while KMS cannot see a new principal yet."""
        self.settle(
            lambda: self.kms.put_key_policy(
                KeyId=key_arn, PolicyName="default", Policy=render_json(policy)
            ),
            what=f"KMS accepts a key policy naming a new role on {key_arn}",
            retry_on=_unknown_principal,
        )

    def remove_key_user(self, setup: CustomerSetup) -> None:
        """Revoke: the key policy keeps only the customer root statement (AWS's default)."""
        assert setup.key_arn is not None
        root = root_statement(literal_values(self.vendor_identity, setup))
        self.put_key_policy(setup.key_arn, key_policy_document([root]))

    def disable_key(self, key_arn: str) -> None:
        """Revoke: ``kms:DisableKey``."""
        self.kms.disable_key(KeyId=key_arn)

    def enable_key(self, key_arn: str) -> None:
        """``kms:EnableKey`` unless the key is enabled."""
        if self.kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"] != "Enabled":
            self.kms.enable_key(KeyId=key_arn)

    def new_role_name(self) -> str:
        """A unique client-role name for this run."""
        self._roles += 1
        return f"byok-test-client-{self.run_id}-{self._roles}"

    def create_client_role(self, setup: CustomerSetup, *, require_external_id: bool = True) -> str:
        """Option B: the client role with the toolkit's trust and permissions policies.

        ``require_external_id=False`` drops the trust policy's ``sts:ExternalId``
        condition: the confused-deputy mistake the vendor must refuse.

        Returns:
            The role's ARN.
        """
        name = setup.client_role_name
        trust = client_trust_policy(self.vendor_identity, setup)
        if not require_external_id:
            for statement in trust["Statement"]:
                statement.pop("Condition")
        permissions = client_permissions_policy(self.vendor_identity, setup)
        self.ledger.role(self.iam, name)
        made = self.settle(
            lambda: self.iam.create_role(
                RoleName=name, AssumeRolePolicyDocument=render_json(trust),
                MaxSessionDuration=3600, Tags=[_iam_tag()],
                Description=f"byok real-AWS test suite, run {self.run_id}",
            ),
            what=f"IAM accepts a trust policy naming the new vendor role {self.vendor_role_arn}",
            retry_on=_unknown_principal,
        )  # fmt: skip
        self.iam.put_role_policy(
            RoleName=name, PolicyName=CLIENT_POLICY_NAME, PolicyDocument=render_json(permissions)
        )
        return str(made["Role"]["Arn"])

    # -- helpers ----------------------------------------------------------------------------

    def settle(
        self,
        attempt: Callable[[], T],
        *,
        what: str,
        until: Callable[[T], bool] | None = None,
        retry_on: Callable[[BaseException], bool] | None = None,
    ) -> T:
        """:func:`eventually` within this backend's ``settle_s``."""
        return eventually(
            attempt, within_s=self.timing.settle_s, what=what, until=until, retry_on=retry_on
        )

    def _customer_client(self, service: str, region: str) -> Any:
        return self.customer_session.client(  # type: ignore[call-overload]
            service, region_name=region, endpoint_url=self.endpoint_url, config=_CLIENT_CONFIG
        )


def _iam_tag() -> dict[str, str]:
    return {"Key": TEST_TAG[0], "Value": TEST_TAG[1]}


class LocalBackend(Backend):
    """Two fresh accounts of the project's local AWS; changes apply at once."""

    name = "local"
    TIMING: Final = Timing(bound_s=1.0, settle_s=0.0, slack_s=1.0)

    def __init__(self, local_aws: Any, *, region: str = "us-east-1") -> None:
        customer, vendor = local_aws.new_account(), local_aws.new_account()
        root = StaticCredentials(f"ROOT{vendor}", "local-secret")
        super().__init__(
            customer=local_aws.session(customer, region),
            vendor_settings=AwsSettings(endpoint_url=local_aws.endpoint_url, base_credentials=root),
            endpoint_url=local_aws.endpoint_url,
            region=region,
            timing=self.TIMING,
        )


# -- real AWS -----------------------------------------------------------------------------

CUSTOMER_PROFILE_VAR: Final = "BYOK_AWS_CUSTOMER_PROFILE"
VENDOR_PROFILE_VAR: Final = "BYOK_AWS_VENDOR_PROFILE"
CONFIG_FILE_VAR: Final = "BYOK_AWS_CONFIG_FILE"
CREDENTIALS_FILE_VAR: Final = "BYOK_AWS_SHARED_CREDENTIALS_FILE"
REGION_VAR: Final = "BYOK_AWS_REGION"
SETTLE_VAR: Final = "BYOK_AWS_SETTLE_SECONDS"
DEFAULT_SETTLE_S: Final = 30.0


@dataclass(frozen=True)
class RealAwsConfig:
    """What the real-AWS suite reads from the environment (docs/REAL-AWS.md)."""

    customer_profile: str
    vendor_profile: str
    config_file: Path
    credentials_file: Path
    region: str = "us-east-1"
    settle_s: float = DEFAULT_SETTLE_S

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RealAwsConfig:
        """Read the configuration; tests/conftest.py already removed every ``AWS_*``
        variable and pointed botocore at /dev/null, so the config files are named by
        ``BYOK_AWS_CONFIG_FILE`` / ``BYOK_AWS_SHARED_CREDENTIALS_FILE`` (default ~/.aws/*).

        Raises:
            pytest.UsageError: a variable is missing or malformed (named).
        """
        env = os.environ if environ is None else environ
        missing = [v for v in (CUSTOMER_PROFILE_VAR, VENDOR_PROFILE_VAR) if not env.get(v)]
        if missing:
            raise pytest.UsageError(f"set {' and '.join(missing)} to run the real-AWS suite")
        home = Path.home() / ".aws"
        try:
            settle_s = float(env.get(SETTLE_VAR) or DEFAULT_SETTLE_S)
        except ValueError:
            raise pytest.UsageError(f"{SETTLE_VAR} must be a number of seconds") from None
        return cls(
            customer_profile=env[CUSTOMER_PROFILE_VAR],
            vendor_profile=env[VENDOR_PROFILE_VAR],
            config_file=Path(env.get(CONFIG_FILE_VAR) or home / "config").expanduser(),
            credentials_file=Path(
                env.get(CREDENTIALS_FILE_VAR) or home / "credentials"
            ).expanduser(),
            region=env.get(REGION_VAR) or "us-east-1",
            settle_s=settle_s,
        )


class RealBackend(Backend):
    """Two named profiles of real AWS (customer account, vendor account).

    While open, ``AWS_CONFIG_FILE`` and ``AWS_SHARED_CREDENTIALS_FILE`` name the real files
    again (tests/conftest.py points them at /dev/null), because the vendor's
    :class:`~byok.aws.clients.ClientFactory` resolves ``profile=`` through botocore, as in
    production; closing puts /dev/null back.
    """

    name = "real"

    def __init__(self, config: RealAwsConfig) -> None:
        self.config = config
        self._environment = pytest.MonkeyPatch()
        self._environment.setenv("AWS_CONFIG_FILE", str(config.config_file))
        self._environment.setenv("AWS_SHARED_CREDENTIALS_FILE", str(config.credentials_file))
        try:
            vendor_settings = AwsSettings(profile=config.vendor_profile)
            ClientFactory(vendor_settings)  # ProfileNotFound now, not mid-scenario
            super().__init__(
                customer=boto3.Session(profile_name=config.customer_profile),
                vendor_settings=vendor_settings,
                endpoint_url=None,  # real AWS (or the profile's own endpoint_url, if any)
                region=config.region,
                timing=Timing(bound_s=2.0, settle_s=config.settle_s, slack_s=2.0),
            )
        except Exception:
            self._environment.undo()
            raise

    def close(self) -> None:
        """Clean up, then point botocore back at /dev/null."""
        try:
            super().close()
        finally:
            self._environment.undo()


def rehearsal_config(local_aws: Any, folder: Path) -> RealAwsConfig:
    """AWS config and credentials files whose two profiles are root users of two fresh
    local-AWS accounts, every profile (``default`` too: the vendor's chained sessions use
    it) pointing at the local AWS through ``endpoint_url``."""
    endpoint = local_aws.endpoint_url
    names = ("byok-rehearsal-customer", "byok-rehearsal-vendor")
    config = [f"[default]\nendpoint_url = {endpoint}\nregion = us-east-1\n"]
    credentials = []
    for name in names:
        config.append(f"[profile {name}]\nendpoint_url = {endpoint}\nregion = us-east-1\n")
        credentials.append(
            f"[{name}]\naws_access_key_id = ROOT{local_aws.new_account()}\n"
            "aws_secret_access_key = rehearsal\n"
        )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config").write_text("\n".join(config))
    (folder / "credentials").write_text("\n".join(credentials))
    return RealAwsConfig(
        customer_profile=names[0],
        vendor_profile=names[1],
        config_file=folder / "config",
        credentials_file=folder / "credentials",
    )
