"""An S3 stand-in on 127.0.0.1: moto's server mode in a process of its own, with one bucket.

It speaks the S3 protocol boto3 speaks to MinIO or AWS, conditional puts (`If-None-Match`) and
Object Lock included, so the evidence store (storage/blobstore.py) is tested over HTTP as in
production. Its own process, not a thread of the test: crawl workers in other processes reach
it, and the benchmark's client does not share a GIL with the server.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from vaern.testing.postgres import free_port

ACCESS_KEY = "vaern-test-key"
SECRET_KEY = "vaern-test-secret"


@dataclass(frozen=True)
class S3StandIn:
    endpoint_url: str
    bucket: str

    def client(self) -> Any:
        import boto3
        from botocore.config import Config as BotoConfig

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                            config=BotoConfig(s3={"addressing_style": "path"}))

    def store_config(self, prefix: str = "", secret: str = SECRET_KEY, **more: Any) -> dict[str, Any]:
        """The `evidence.store` section for this bucket (`secret` may be a ${VAR} reference)."""
        return {"kind": "s3", "endpoint_url": self.endpoint_url, "bucket": self.bucket, "prefix": prefix,
                "access_key_id": ACCESS_KEY, "secret_access_key": secret, **more}

    def new_bucket(self, name: str, *, object_lock: bool = False) -> S3StandIn:
        """Another bucket on the same server (each test its own)."""
        self.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock)
        return S3StandIn(self.endpoint_url, name)

    def keys(self, prefix: str = "") -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        return [str(item["Key"]) for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix)
                for item in page.get("Contents", [])]


@contextmanager
def s3_stand_in(bucket: str = "vaern-evidence") -> Iterator[S3StandIn]:
    """A moto server on a free port of 127.0.0.1 with `bucket` created; stopped afterwards."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):  # noqa: S310 (local)
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the S3 stand-in (moto) did not start on {endpoint}") from None
                time.sleep(0.1)
        stand_in = S3StandIn(endpoint, bucket)
        stand_in.client().create_bucket(Bucket=bucket)
        yield stand_in
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
