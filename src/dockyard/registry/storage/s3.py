"""The S3 driver (boto3): one bucket (and key prefix) shared by any number of stateless replicas.

S3 has no rename and no partial objects: a PUT (or a completed multipart upload) appears whole,
which is the driver promise; ``move`` is a server-side copy then a delete (a reader sees the
target whole or not at all). Folders are key prefixes: ``list_dir`` uses the "/" delimiter.
Credentials and region come from boto3's usual sources (AWS_* variables, config files).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO, cast
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from dockyard.errors import InvalidArgument
from dockyard.registry.storage.driver import FileInfo, PathNotFound

PART_SIZE = 8 * 1024 * 1024  # S3 parts must be >= 5 MiB except the last


def _missing(e: ClientError) -> bool:
    code = str(e.response.get("Error", {}).get("Code", ""))
    return code in ("NoSuchKey", "404", "NotFound")


class S3Driver:
    name = "s3"

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.s3 = client

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str | None = None) -> S3Driver:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise InvalidArgument(f"invalid storage {url!r}: use s3://BUCKET or s3://BUCKET/PREFIX")
        config = Config(max_pool_connections=64, retries={"max_attempts": 3, "mode": "standard"})
        client = boto3.client("s3", endpoint_url=endpoint_url, config=config)
        return cls(parsed.netloc, parsed.path, client)

    def _key(self, path: str) -> str:
        return self.prefix + path

    def get_content(self, path: str) -> bytes:
        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=self._key(path))
        except ClientError as e:
            if _missing(e):
                raise PathNotFound(path) from None
            raise
        data: bytes = obj["Body"].read()
        return data

    def put_content(self, path: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self._key(path), Body=data)

    def stat(self, path: str) -> FileInfo | None:
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=self._key(path))
            return FileInfo(path, int(head["ContentLength"]), head["LastModified"].timestamp())
        except ClientError as e:
            if not _missing(e):
                raise
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=self._key(path) + "/", MaxKeys=1)
        if listed.get("KeyCount", 0):
            return FileInfo(path, 0, 0.0, is_dir=True)
        return None

    def list_dir(self, path: str) -> list[str]:
        base = self._key(path).rstrip("/") + "/"
        names: set[str] = set()
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=base, Delimiter="/"
        ):
            for p in page.get("CommonPrefixes", []):
                names.add(p["Prefix"][len(base) :].rstrip("/"))
            for o in page.get("Contents", []):
                names.add(o["Key"][len(base) :])
        return sorted(n for n in names if n)

    def walk(self, path: str) -> Iterator[FileInfo]:
        base = self._key(path).rstrip("/") + "/"
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
            for o in page.get("Contents", []):
                yield FileInfo(o["Key"][len(self.prefix) :], int(o["Size"]), o["LastModified"].timestamp())

    def delete(self, path: str) -> None:
        # Deleting a missing key succeeds in S3: idempotent as the interface asks.
        self.s3.delete_object(Bucket=self.bucket, Key=self._key(path))
        keys = [{"Key": self._key(i.path)} for i in self.walk(path)]
        for start in range(0, len(keys), 1000):
            self.s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True}
            )

    def move(self, src: str, dst: str) -> None:
        try:
            # Managed copy: server-side, multipart for objects over 5 GB.
            self.s3.copy({"Bucket": self.bucket, "Key": self._key(src)}, self.bucket, self._key(dst))
        except ClientError as e:
            if _missing(e):
                raise PathNotFound(src) from None
            raise
        self.s3.delete_object(Bucket=self.bucket, Key=self._key(src))

    def open_read(self, path: str, offset: int = 0) -> BinaryIO:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(path)}
        if offset:
            kwargs["Range"] = f"bytes={offset}-"
        try:
            obj = self.s3.get_object(**kwargs)
        except ClientError as e:
            if _missing(e):
                raise PathNotFound(path) from None
            raise
        return cast(BinaryIO, obj["Body"])

    def writer(self, path: str) -> S3Writer:
        return S3Writer(self.s3, self.bucket, self._key(path))

    def concat(self, dst: str, srcs: list[str]) -> None:
        w = self.writer(dst)
        try:
            for src in srcs:
                body = self.open_read(src)
                try:
                    while chunk := body.read(PART_SIZE):
                        w.write(chunk)
                finally:
                    body.close()
            w.commit()
        except BaseException:
            w.cancel()
            raise

    def local_path(self, path: str) -> str | None:
        return None


class S3Writer:
    """Buffers to PART_SIZE, then streams parts of a multipart upload; small objects are one PUT.
    Nothing is visible at the key until commit (CompleteMultipartUpload or the PUT)."""

    def __init__(self, s3: Any, bucket: str, key: str) -> None:
        self.s3, self.bucket, self.key = s3, bucket, key
        self.buf = bytearray()
        self.written = 0
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def _flush_part(self) -> None:
        if self.upload_id is None:
            self.upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key=self.key)["UploadId"]
        number = len(self.parts) + 1
        resp = self.s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=bytes(self.buf)
        )
        self.parts.append({"ETag": resp["ETag"], "PartNumber": number})
        self.buf.clear()

    def write(self, data: bytes) -> None:
        self.buf += data
        self.written += len(data)
        if len(self.buf) >= PART_SIZE:
            self._flush_part()

    def commit(self) -> None:
        if self.upload_id is None:
            self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self.buf))
            return
        if self.buf:
            self._flush_part()
        self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self.parts}
        )

    def cancel(self) -> None:
        if self.upload_id is not None:
            try:
                self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
            except ClientError:
                pass  # already aborted or completed: nothing to undo
            self.upload_id = None
        self.buf.clear()
