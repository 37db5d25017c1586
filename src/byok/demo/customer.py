"""The customer's side of the demo: only the customer toolkit and the customer's credentials."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from byok.aws.clients import StaticCredentials
from byok.core.policy.templates import CustomerSetup, VendorIdentity, client_trust_policy
from byok.customer.activity import key_activity
from byok.customer.audit import run_audit
from byok.customer.aws import CustomerAws
from byok.customer.setup import run_setup
from byok.demo.narration import Narrator

__all__ = ["Customer"]


@dataclass
class Customer:
    """One customer account in the local AWS, acting through the customer toolkit."""

    say: Narrator
    endpoint_url: str
    account: str
    vendor: VendorIdentity
    _key_arn: str = ""
    _client_role: str | None = None

    @property
    def aws(self) -> CustomerAws:
        """The customer's AWS access (its account's root user in the local AWS)."""
        root = StaticCredentials(f"ROOT{self.account}", "local")
        return CustomerAws.connect(endpoint_url=self.endpoint_url, credentials=root)

    def setup(self, setup: CustomerSetup) -> dict[str, Any]:
        """`byok customer setup`, twice: the second run must change nothing.

        Returns:
            The hand-over for the vendor (key ARN, region; for B role ARN, External ID).
        """
        result = run_setup(self.aws, self.vendor, setup, sleep=lambda _s: None)
        for change in result.changes:
            self.say.ok(f"{change.outcome:>9}  {change.resource}: {change.detail}")
        again = run_setup(self.aws, self.vendor, setup, sleep=lambda _s: None)
        unchanged = all(c.outcome == "no change" for c in again.changes)
        self.say.expect(unchanged, "a second run changes nothing (idempotent)")
        handover = dict(result.handover)
        self.say.show_json("hand-over for the vendor", handover)
        return handover

    def log_key_use(self) -> None:
        """Turn on a multi-Region CloudTrail trail (the guide: log and monitor all key use)."""
        bucket = f"cloudtrail-{self.account}"
        self.aws.client("s3").create_bucket(Bucket=bucket)
        trail = self.aws.client("cloudtrail")
        trail.create_trail(Name="account-trail", S3BucketName=bucket, IsMultiRegionTrail=True)
        trail.start_logging(Name="account-trail")
        self.say.ok(f"CloudTrail trail account-trail logging to s3://{bucket}")

    def audit(self, setup: CustomerSetup, handover: dict[str, Any]) -> None:
        """`byok customer audit`: findings with severity; nothing above 'low' expected."""
        result = run_audit(
            self.aws, self.vendor, tenant=setup.tenant, mode=setup.mode,
            key_arn=handover["key_arn"], client_role_arn=handover.get("client_role_arn"),
            external_id=handover.get("external_id"),
        )  # fmt: skip
        rows = [[f.severity.name, f.code, f.title] for f in result.report.findings]
        self.say.table(
            "customer audit findings", ["severity", "code", "title"], rows or [["-"] * 3]
        )
        self.say.expect(result.exit_code <= 3, f"audit exit code {result.exit_code} (0-3: fine)")

    def activity(self, handover: dict[str, Any]) -> None:
        """`byok customer activity`: the vendor's uses of the key, from CloudTrail."""
        key_arn = self._key_arn = handover["key_arn"]
        self._client_role = handover.get("client_role_arn")
        report = key_activity(
            self.aws, key_arn, since=timedelta(hours=1), vendor_account=self.vendor.account,
            client_role_arn=handover.get("client_role_arn"),
        )  # fmt: skip
        rows = [[g.name, str(g.count), str(g.errors)] for g in report.by_operation]
        self.say.table(f"vendor's uses of {key_arn.rsplit('/', 1)[-1]} (CloudTrail)",
                       ["operation", "calls", "refused"], rows)  # fmt: skip
        tenants = ", ".join(f"{g.name}: {g.count}" for g in report.by_tenant)
        self.say.say(f"by encryption-context tenant: {tenants}")
        self.say.expect(bool(report.uses), "every vendor use of the key is in the customer's trail")

    def activity_by_reason(self) -> None:
        """`byok customer activity`, grouped by the vendor's stated reason and scope."""
        report = key_activity(
            self.aws, self._key_arn, since=timedelta(hours=1),
            vendor_account=self.vendor.account, client_role_arn=self._client_role,
        )  # fmt: skip
        for title, groups in (("reason", report.by_reason), ("scope", report.by_scope)):
            rows = [[g.name, str(g.count), str(g.errors)] for g in groups]
            self.say.table(f"vendor's uses by {title} (CloudTrail)", [title, "calls", "refused"],
                           rows)  # fmt: skip
        refused = {g.name for g in report.by_reason if g.errors}
        self.say.expect("vendor-support" in refused, "the refused support reads are in my trail")

    def set_trust(self, setup: CustomerSetup, *, allow_vendor: bool) -> None:
        """Edit the client role's trust policy (remove or restore the vendor)."""
        iam = self.aws.client("iam")
        document = client_trust_policy(self.vendor, setup)
        if not allow_vendor:
            document = {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
                ],
            }
        iam.update_assume_role_policy(
            RoleName=setup.client_role_name, PolicyDocument=json.dumps(document)
        )

    def kms(self) -> Any:
        """The customer's KMS client (us-east-1)."""
        return self.aws.client("kms")
