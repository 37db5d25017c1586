"""Build a :class:`~byok.service.vendor.Vendor` from settings (CLI, API server, demo).

Embedded defaults: SQLite and a blob folder under ``BYOK_HOME``. The vendor's AWS identity
comes from botocore's usual chain (environment, profile, instance role). With
``BYOK_AWS_ENDPOINT_URL`` pointing at the project's local AWS and no AWS credentials in the
environment, the identity is the vendor account's root user there (access key
``ROOT<account>``, docs/local-aws.md), so the embedded set-up needs no configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from byok.aws.clients import AwsSettings, ClientFactory, StaticCredentials
from byok.private_files import make_private_dir
from byok.service.vendor import Vendor
from byok.settings import Settings
from byok.store.blobs import BlobStore, FilesystemBlobStore
from byok.store.database import Store

__all__ = ["aws_settings_for", "blob_store", "open_vendor"]


def aws_settings_for(settings: Settings, environ: Mapping[str, str] | None = None) -> AwsSettings:
    """The AWS access settings of the vendor service.

    Returns:
        :class:`AwsSettings` whose calls go through ``document-storage-role`` unless
        ``BYOK_ASSUME_VENDOR_ROLE=0``.
    """
    env = os.environ if environ is None else environ
    credentials = None
    local = settings.aws_endpoint_url is not None
    if local and not env.get("AWS_ACCESS_KEY_ID") and not env.get("AWS_PROFILE"):
        # The local AWS's fixed convention (docs/local-aws.md#accounts): ROOT<account>.
        credentials = StaticCredentials(f"ROOT{settings.vendor_account}", "local")
    assume = env.get("BYOK_ASSUME_VENDOR_ROLE", "1") != "0"
    return AwsSettings(
        endpoint_url=settings.aws_endpoint_url,
        base_credentials=credentials,
        profile=env.get("AWS_PROFILE") or None,
        document_storage_role_arn=settings.vendor_role_arn if assume else None,
    )


def open_vendor(settings: Settings | None = None, *, actor: str = "service") -> Vendor:
    """Open the vendor service over the configured store, blobs and AWS.

    Raises:
        InvalidInput: a malformed setting (named).
        StorageError: the database cannot be opened or migrated.
    """
    settings = settings or Settings.from_env()
    make_private_dir(settings.home)
    store = Store.open(settings.resolved_database_url)
    factory = ClientFactory(aws_settings_for(settings))
    return Vendor(settings, store=store, blobs=blob_store(settings, factory), factory=factory,
                  actor=actor)  # fmt: skip


def blob_store(settings: Settings, factory: ClientFactory) -> BlobStore:
    """The configured blob store: S3 (``BYOK_BLOB_URL``, shared by a cluster's nodes) or a
    folder (the single-node default).

    The S3 client uses the vendor's service identity, in the first allowed region.
    """
    if settings.blob_url is None:
        return FilesystemBlobStore(settings.resolved_blob_dir)
    from byok.store.s3 import S3BlobStore

    bucket, _, prefix = settings.blob_url.removeprefix("s3://").partition("/")
    client = factory.client("s3", settings.allowed_regions[0])
    return S3BlobStore(client, bucket, namespace=prefix)
