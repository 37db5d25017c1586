"""Envelope benchmark rows that need KMS: byok through the project's local AWS and its KMS
wrapper, against the AWS Encryption SDK for Python on the same local KMS key.

Run by ``bench/envelope.py``. When ``byok.localaws`` or ``byok.aws.kms`` is missing (or the
local KMS cannot be set up) the rows say exactly why they were skipped.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

from _harness import KIB, MIB, TENANT, Row, best, count_kms_calls, per_op, roundtrip, verdict
from _results import Figure

from byok.core.envelope import Envelope
from byok.core.keywrap import KeyWrapper
from byok.core.tenant_keys import MemoryTenantKeyStore


def bench_esdk(repeat: int, rows: list[Row], figures: dict[str, Figure]) -> None:
    """Add the local-KMS rows (or the reason they were skipped) and their figures."""
    try:
        from byok.localaws.server import LocalAwsServer
    except ImportError as error:
        _skip_esdk(rows, figures, f"byok.localaws.server is not available ({error})")
        return
    with LocalAwsServer() as server:
        try:
            wrapper, arn = _kms_wrapper(server.endpoint_url)
            esdk = _esdk_roundtrips(server.endpoint_url, arn)
        except ImportError as error:
            _skip_esdk(rows, figures, f"byok.aws.kms is not available ({error})")
            return
        except Exception as error:  # the bench reports any set-up failure instead of dying
            _skip_esdk(rows, figures, f"local KMS set-up failed: {type(error).__name__}: {error}")
            return
        for size, number in ((4 * KIB, 300), (4 * MIB, 4)):
            _compare(size, number, repeat, wrapper, esdk, rows, figures)
        calls = count_kms_calls(wrapper)
    rows.append(
        Row(
            "KMS calls, 10k + 10k, local KMS",
            str(calls),
            "byok.aws.kms wrapper",
            "",
            "<= 2",
            verdict(calls <= 2),
        )
    )
    previous = int(figures.get("envelope_kms_calls_20k_ops") or 0)
    figures["envelope_kms_calls_20k_ops"] = max(calls, previous)


def _kms_wrapper(endpoint_url: str) -> tuple[KeyWrapper, str]:
    """A new CMK in the local AWS (account 111122223333) and byok's KMS wrapper for it."""
    import boto3

    from byok.aws.kms import KmsKeyWrapper
    from byok.core.tenant_config import TenantKeyConfig

    kms = boto3.client(
        "kms",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="ROOT111122223333",  # the local AWS's root-user convention
        aws_secret_access_key="local",
    )
    arn = kms.create_key(Description="byok bench")["KeyMetadata"]["Arn"]
    config = TenantKeyConfig(tenant=TENANT, mode="direct", key_arn=arn)
    return KmsKeyWrapper(config, kms), arn


def _compare(
    size: int,
    number: int,
    repeat: int,
    wrapper: KeyWrapper,
    esdk: Callable[[bytes], object],
    rows: list[Row],
    figures: dict[str, Figure],
) -> None:
    """One size: byok (warm cache) and the SDK (warm caching CMM), timed in alternation."""
    env = Envelope(MemoryTenantKeyStore())
    data = os.urandom(size)
    ours, theirs = roundtrip(env, wrapper, data), functools.partial(esdk, data)
    t_byok = t_esdk = float("inf")
    for _ in range(max(3, repeat // 2)):  # interleaved: load from others hits both
        t_byok = min(t_byok, best(ours, 1, number * 10 if size < MIB else number))
        t_esdk = min(t_esdk, best(theirs, 1, number))
    speedup = t_esdk / t_byok
    small = size < MIB
    rows.append(
        Row(
            f"{'4 KiB' if small else '4 MiB'} via local KMS vs Encryption SDK",
            per_op(t_byok),
            f"ESDK caching {per_op(t_esdk)}",
            f"{speedup:.0f}x",
            ">= 25x" if small else "",
            verdict(speedup >= 25) if small else "",
        )
    )
    figures[f"envelope_{'4kib' if small else '4mib'}_speedup_vs_esdk"] = speedup


def _esdk_roundtrips(endpoint_url: str, arn: str) -> Callable[[bytes], object]:
    import aws_encryption_sdk
    import botocore.session
    from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy

    os.environ["AWS_ENDPOINT_URL_KMS"] = endpoint_url  # the SDK makes its own KMS clients
    session = botocore.session.Session()
    session.set_credentials("ROOT111122223333", "local")
    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(
        key_ids=[arn], botocore_session=session
    )
    cmm = aws_encryption_sdk.CachingCryptoMaterialsManager(
        master_key_provider=provider,
        cache=aws_encryption_sdk.LocalCryptoMaterialsCache(capacity=100),
        max_age=300.0,
    )
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    context = {"byok:tenant": TENANT}

    def run(data: bytes) -> object:
        ct, _ = client.encrypt(
            source=data,
            materials_manager=cmm,
            algorithm=Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
            encryption_context=context,
        )
        pt, _ = client.decrypt(source=ct, materials_manager=cmm)
        assert pt == data
        return pt

    run(b"warm-up")
    return run


def _skip_esdk(rows: list[Row], figures: dict[str, Figure], reason: str) -> None:
    for label in ("4 KiB", "4 MiB"):
        rows.append(Row(f"{label} via local KMS vs Encryption SDK", "skipped", reason))
    figures["envelope_4kib_speedup_vs_esdk"] = None
    figures["envelope_4mib_speedup_vs_esdk"] = None
