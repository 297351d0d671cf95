"""Where a job's result is kept: an S3 object written in parts, fetched by a short-lived link.

An export is a multipart upload: each job step uploads what it wrote as one part (S3 wants
at least 5 MiB for every part but the last), so no step holds the whole file. The organiser
gets a presigned link that works for a few minutes; the bucket itself is private and forgets
exports after a day (its lifecycle rule). An attendance import keeps its list of registrant
ids there too, as one small object under ``imports/``, for the job to read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

from ..core.errors import PayloadError
from .conflicts import error_code

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

MIN_PART_BYTES = 5 * 1024 * 1024  # S3's smallest part but the last
LINK_SECONDS = 300


class Exports(Protocol):
    def put(self, object_key: str, data: bytes, content_type: str) -> None: ...
    def begin(self, object_key: str, content_type: str) -> str: ...
    def put_part(self, object_key: str, upload_id: str, number: int, data: bytes) -> str: ...
    def complete(self, object_key: str, upload_id: str,
                 parts: Sequence[tuple[int, str]]) -> None: ...
    def size(self, object_key: str) -> int: ...
    def link(self, object_key: str, filename: str) -> str | None: ...
    def read(self, object_key: str) -> bytes: ...


class S3Exports:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def put(self, object_key: str, data: bytes, content_type: str) -> None:
        """One whole object (an import's list: a few MB at most)."""
        self.client.put_object(Bucket=self.bucket, Key=object_key, Body=data,
                               ContentType=content_type)

    def begin(self, object_key: str, content_type: str) -> str:
        return self.client.create_multipart_upload(
            Bucket=self.bucket, Key=object_key, ContentType=content_type)["UploadId"]

    def put_part(self, object_key: str, upload_id: str, number: int, data: bytes) -> str:
        """Upload part ``number``; uploading the same number again replaces it (a retried
        step writes the same part over)."""
        return self.client.upload_part(Bucket=self.bucket, Key=object_key, UploadId=upload_id,
                                       PartNumber=number, Body=data)["ETag"]

    def complete(self, object_key: str, upload_id: str,
                 parts: Sequence[tuple[int, str]]) -> None:
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=object_key, UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": tag} for n, tag in parts]})

    def size(self, object_key: str) -> int:
        """The finished object's size (this is also the check that it exists)."""
        return int(self.client.head_object(Bucket=self.bucket, Key=object_key)["ContentLength"])

    def link(self, object_key: str, filename: str) -> str | None:
        """A GET link valid for LINK_SECONDS, that saves the file under ``filename``."""
        return str(self.client.generate_presigned_url(
            "get_object", ExpiresIn=LINK_SECONDS,
            Params={"Bucket": self.bucket, "Key": object_key,
                    "ResponseContentDisposition": f'attachment; filename="{filename}"'}))

    def read(self, object_key: str) -> bytes:
        """An object's bytes; a PayloadError when it is gone (the bucket's one-day lifecycle:
        a job that waited longer), which no retry can bring back."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=object_key)["Body"].read()
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "404"):
                raise PayloadError("the file is gone (kept one day): send it again") from None
            raise


class MemoryExports:
    """The in-memory stand-in, with S3's rule that every part but the last is big enough
    (``min_part_bytes``, smaller in tests so that many parts stay cheap)."""

    def __init__(self, min_part_bytes: int = MIN_PART_BYTES) -> None:
        self.min_part_bytes = min_part_bytes
        self.uploads: dict[str, dict[int, bytes]] = {}
        self.objects: dict[str, bytes] = {}

    def put(self, object_key: str, data: bytes, content_type: str) -> None:
        self.objects[object_key] = bytes(data)

    def begin(self, object_key: str, content_type: str) -> str:
        upload_id = f"upload-{len(self.uploads) + 1}"
        self.uploads[upload_id] = {}
        return upload_id

    def put_part(self, object_key: str, upload_id: str, number: int, data: bytes) -> str:
        self.uploads[upload_id][number] = data
        return f'"{number}-{len(data)}"'

    def complete(self, object_key: str, upload_id: str,
                 parts: Sequence[tuple[int, str]]) -> None:
        stored = self.uploads.pop(upload_id)
        numbers = [n for n, _tag in parts]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError("parts must be numbered 1, 2, ... in order")
        if any(len(stored[n]) < self.min_part_bytes for n in numbers[:-1]):
            raise ValueError("EntityTooSmall: a part but the last is under the minimum")
        self.objects[object_key] = b"".join(stored[n] for n in numbers)

    def size(self, object_key: str) -> int:
        return len(self.objects[object_key])

    def link(self, object_key: str, filename: str) -> None:
        return None  # no link: the console hands the file over itself

    def read(self, object_key: str) -> bytes:
        if object_key not in self.objects:
            raise PayloadError("the file is gone (kept one day): send it again")
        return self.objects[object_key]


class LocalExports(S3Exports):
    """S3 on moto: a presigned link would point at Amazon, which the browser cannot reach from
    a local run, so the console hands the file over itself."""

    def link(self, object_key: str, filename: str) -> None:
        return None
