# -*- test-case-name: tests.objectstore.test_clients -*-
"""
The object store as real S3 clients see it: boto3 (signature versions 4 and
2, path-style and virtual-hosted-style, transfers with multipart), boto 2,
the aws CLI, presigned URLs fetched with a plain HTTP client, and hostile
raw HTTP.  Each test runs a real server on a loopback port and the blocking
client in a thread.
"""

import base64
import datetime
import hashlib
import hmac
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import botocore
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from nova.auth import signer
from tests.objectstore.helpers import KEYS, S3ServerMixin

MiB = 1024 * 1024


def errorOf(function, *args, **kwargs):
    """
    @return: C{(code, status)} of the L{ClientError} C{function} raises.
    """
    try:
        function(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"{function} did not fail")


class ClientTestCase(S3ServerMixin, TestCase):
    timeout = 120

    def inThread(self, function, *args):
        return deferToThread(function, *args)


class Boto3Tests(ClientTestCase):
    def _buckets(self, signature):
        s3 = self.client(signature=signature)
        bob = self.client("AKBOB", signature=signature)
        name = "bkt-" + signature
        s3.create_bucket(Bucket=name)
        self.assertEqual([b["Name"] for b in s3.list_buckets()["Buckets"]], [name])
        self.assertEqual(bob.list_buckets()["Buckets"], [])
        self.assertEqual(s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertIn(s3.get_bucket_location(Bucket=name).get("LocationConstraint"), (None, ""))
        self.assertEqual(errorOf(s3.create_bucket, Bucket=name), ("BucketAlreadyOwnedByYou", 409))
        self.assertEqual(errorOf(bob.create_bucket, Bucket=name), ("BucketAlreadyExists", 409))
        self.assertEqual(errorOf(s3.create_bucket, Bucket="ab"), ("InvalidBucketName", 400))
        self.assertEqual(errorOf(s3.create_bucket, Bucket="a..b"), ("InvalidBucketName", 400))
        self.assertEqual(errorOf(bob.head_bucket, Bucket=name), ("403", 403))
        self.assertEqual(errorOf(bob.list_objects, Bucket=name), ("AccessDenied", 403))
        self.assertEqual(errorOf(bob.delete_bucket, Bucket=name), ("AccessDenied", 403))
        s3.put_object(Bucket=name, Key="k", Body=b"x")
        self.assertEqual(errorOf(s3.delete_bucket, Bucket=name), ("BucketNotEmpty", 409))
        s3.delete_object(Bucket=name, Key="k")
        s3.delete_bucket(Bucket=name)
        self.assertEqual(errorOf(s3.head_bucket, Bucket=name), ("404", 404))
        self.assertEqual(errorOf(s3.list_objects_v2, Bucket=name), ("NoSuchBucket", 404))
        located = s3.create_bucket(
            Bucket=name + "-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        self.assertEqual(located["Location"], "/" + name + "-eu")
        self.assertEqual(s3.get_bucket_location(Bucket=name + "-eu")["LocationConstraint"], "eu-west-1")
        admin = self.client("AKADMIN", signature=signature)
        self.assertIn(name + "-eu", [b["Name"] for b in admin.list_buckets()["Buckets"]])

    def test_bucketsV4(self):
        return self.inThread(self._buckets, "s3v4")

    def test_bucketsV2(self):
        return self.inThread(self._buckets, "s3")

    def _objects(self, signature):
        s3 = self.client(signature=signature)
        s3.create_bucket(Bucket="objects")
        expires = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
        put = s3.put_object(
            Bucket="objects",
            Key="dir/file ü+%.txt",
            Body=b"hello world",
            Metadata={"color": "blue", "shape": "round"},
            ContentType="text/plain",
            CacheControl="max-age=60",
            ContentDisposition='attachment; filename="f.txt"',
            ContentEncoding="identity",
            ContentLanguage="en",
            Expires=expires,
        )
        self.assertEqual(put["ETag"], '"%s"' % hashlib.md5(b"hello world").hexdigest())
        got = s3.get_object(Bucket="objects", Key="dir/file ü+%.txt")
        self.assertEqual(got["Body"].read(), b"hello world")
        self.assertEqual(got["Metadata"], {"color": "blue", "shape": "round"})
        self.assertEqual(got["ContentType"], "text/plain")
        self.assertEqual(got["CacheControl"], "max-age=60")
        self.assertEqual(got["ContentDisposition"], 'attachment; filename="f.txt"')
        self.assertEqual(got["ContentEncoding"], "identity")
        self.assertEqual(got["ContentLanguage"], "en")
        self.assertEqual(got["Expires"], expires)
        self.assertEqual(got["ETag"], put["ETag"])
        self.assertEqual(got["ContentLength"], 11)
        self.assertLess(abs(got["LastModified"].timestamp() - time.time()), 60)
        head = s3.head_object(Bucket="objects", Key="dir/file ü+%.txt")
        self.assertEqual((head["ContentLength"], head["ETag"]), (11, put["ETag"]))
        default = s3.put_object(Bucket="objects", Key="empty", Body=b"")
        self.assertEqual(default["ETag"], '"d41d8cd98f00b204e9800998ecf8427e"')
        self.assertEqual(s3.get_object(Bucket="objects", Key="empty")["ContentType"], "binary/octet-stream")
        self.assertEqual(errorOf(s3.get_object, Bucket="objects", Key="nope"), ("NoSuchKey", 404))
        self.assertEqual(errorOf(s3.head_object, Bucket="objects", Key="nope"), ("404", 404))
        self.assertEqual(errorOf(s3.get_object, Bucket="nobucket", Key="k"), ("NoSuchBucket", 404))
        s3.delete_object(Bucket="objects", Key="dir/file ü+%.txt")
        s3.delete_object(Bucket="objects", Key="dir/file ü+%.txt")
        self.assertEqual(errorOf(s3.get_object, Bucket="objects", Key="dir/file ü+%.txt"), ("NoSuchKey", 404))
        bob = self.client("AKBOB", signature=signature)
        s3.put_object(Bucket="objects", Key="private", Body=b"secret")
        self.assertEqual(errorOf(bob.get_object, Bucket="objects", Key="private"), ("AccessDenied", 403))
        self.assertEqual(errorOf(bob.put_object, Bucket="objects", Key="x", Body=b"x"), ("AccessDenied", 403))
        self.assertEqual(errorOf(bob.delete_object, Bucket="objects", Key="private"), ("AccessDenied", 403))

    def test_objectsV4(self):
        return self.inThread(self._objects, "s3v4")

    def test_objectsV2(self):
        return self.inThread(self._objects, "s3")

    def test_listing(self):
        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="listing")
            keys = ["a", "b/1", "b/2", "c d/x", "c+d/y", "zz", "ü/z"]
            for key in keys:
                s3.put_object(Bucket="listing", Key=key, Body=key.encode())
            v2 = s3.list_objects_v2(Bucket="listing", Delimiter="/")
            self.assertEqual([c["Key"] for c in v2["Contents"]], ["a", "zz"])
            self.assertEqual(
                [p["Prefix"] for p in v2["CommonPrefixes"]], ["b/", "c d/", "c+d/", "ü/"]
            )
            self.assertEqual(v2["KeyCount"], 6)
            self.assertNotIn("Owner", v2["Contents"][0])
            owned = s3.list_objects_v2(Bucket="listing", FetchOwner=True, MaxKeys=1)
            self.assertEqual(owned["Contents"][0]["Owner"]["ID"], "proj1")
            self.assertTrue(owned["IsTruncated"])
            pages = s3.get_paginator("list_objects_v2").paginate(
                Bucket="listing", PaginationConfig={"PageSize": 2}
            )
            self.assertEqual([c["Key"] for p in pages for c in p["Contents"]], keys)
            pages = s3.get_paginator("list_objects").paginate(
                Bucket="listing", Delimiter="/", PaginationConfig={"PageSize": 2}
            )
            seen = []
            for page in pages:
                seen += [c["Key"] for c in page.get("Contents", [])]
                seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
            self.assertEqual(sorted(seen), ["a", "b/", "c d/", "c+d/", "zz", "ü/"])
            after = s3.list_objects_v2(Bucket="listing", StartAfter="c d/x")
            self.assertEqual([c["Key"] for c in after["Contents"]], ["c+d/y", "zz", "ü/z"])
            v1 = s3.list_objects(Bucket="listing", Prefix="b/", Marker="b/1")
            self.assertEqual([c["Key"] for c in v1["Contents"]], ["b/2"])
            self.assertEqual(v1["Contents"][0]["Size"], 3)
            self.assertEqual(v1["Contents"][0]["ETag"], '"%s"' % hashlib.md5(b"b/2").hexdigest())
            self.assertEqual(
                errorOf(s3.list_objects_v2, Bucket="listing", ContinuationToken="!!!"),
                ("InvalidArgument", 400),
            )
            self.assertEqual(
                errorOf(s3.list_objects, Bucket="listing", EncodingType="base64"),
                ("InvalidArgument", 400),
            )
            status, _, body = self.raw("GET", "/listing?encoding-type=url&delimiter=/", {})
            self.assertEqual(status, 403)

        return self.inThread(run)

    def test_rangesAndConditions(self):
        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="ranges")
            put = s3.put_object(Bucket="ranges", Key="k", Body=b"0123456789")
            etag = put["ETag"]
            got = s3.get_object(Bucket="ranges", Key="k", Range="bytes=2-4")
            self.assertEqual((got["Body"].read(), got["ContentRange"]), (b"234", "bytes 2-4/10"))
            self.assertEqual(got["ResponseMetadata"]["HTTPStatusCode"], 206)
            self.assertEqual(s3.get_object(Bucket="ranges", Key="k", Range="bytes=-3")["Body"].read(), b"789")
            self.assertEqual(s3.get_object(Bucket="ranges", Key="k", Range="bytes=7-")["Body"].read(), b"789")
            self.assertEqual(s3.get_object(Bucket="ranges", Key="k", Range="bytes=8-100")["Body"].read(), b"89")
            self.assertEqual(errorOf(s3.get_object, Bucket="ranges", Key="k", Range="bytes=10-"), ("InvalidRange", 416))
            self.assertEqual(
                s3.get_object(Bucket="ranges", Key="k", Range="bytes=5-2")["Body"].read(), b"0123456789"
            )
            self.assertEqual(errorOf(s3.get_object, Bucket="ranges", Key="k", IfMatch='"nope"'), ("PreconditionFailed", 412))
            self.assertEqual(s3.get_object(Bucket="ranges", Key="k", IfMatch=etag)["Body"].read(), b"0123456789")
            self.assertEqual(errorOf(s3.get_object, Bucket="ranges", Key="k", IfNoneMatch=etag), ("304", 304))
            self.assertEqual(errorOf(s3.head_object, Bucket="ranges", Key="k", IfNoneMatch=etag), ("304", 304))
            past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
            future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
            self.assertEqual(errorOf(s3.get_object, Bucket="ranges", Key="k", IfUnmodifiedSince=past), ("PreconditionFailed", 412))
            self.assertEqual(s3.get_object(Bucket="ranges", Key="k", IfModifiedSince=past)["ContentLength"], 10)
            self.assertEqual(s3.get_object(Bucket="ranges", Key="k", IfModifiedSince=future)["ContentLength"], 10)
            self.assertEqual(errorOf(s3.get_object, Bucket="ranges", Key="k", IfModifiedSince=datetime.datetime.now(datetime.timezone.utc)), ("304", 304))
            # If-Match that holds wins over If-Unmodified-Since that fails.
            self.assertEqual(s3.get_object(Bucket="ranges", Key="k", IfMatch=etag, IfUnmodifiedSince=past)["ContentLength"], 10)
            s3.put_object(Bucket="ranges", Key="empty", Body=b"")
            self.assertEqual(errorOf(s3.get_object, Bucket="ranges", Key="empty", Range="bytes=0-"), ("InvalidRange", 416))
            self.assertEqual(
                errorOf(s3.put_object, Bucket="ranges", Key="k", Body=b"x", IfNoneMatch="*"),
                ("PreconditionFailed", 412),
            )

        return self.inThread(run)

    def test_digests(self):
        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="digests")
            good = base64.b64encode(hashlib.md5(b"data").digest()).decode()
            s3.put_object(Bucket="digests", Key="ok", Body=b"data", ContentMD5=good)
            wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
            self.assertEqual(errorOf(s3.put_object, Bucket="digests", Key="bad", Body=b"data", ContentMD5=wrong), ("BadDigest", 400))
            self.assertEqual(errorOf(s3.put_object, Bucket="digests", Key="bad", Body=b"data", ContentMD5="notbase64!"), ("InvalidDigest", 400))
            self.assertEqual(errorOf(s3.head_object, Bucket="digests", Key="bad"), ("404", 404))
            crc = s3.put_object(Bucket="digests", Key="crc", Body=b"data", ChecksumAlgorithm="SHA256")
            self.assertEqual(crc["ChecksumSHA256"], base64.b64encode(hashlib.sha256(b"data").digest()).decode())
            got = s3.get_object(Bucket="digests", Key="crc", ChecksumMode="ENABLED")
            self.assertEqual(got["Body"].read(), b"data")
            self.assertEqual(got["ChecksumSHA256"], crc["ChecksumSHA256"])
            self.assertEqual(len(self.dataFiles()), 2)

        return self.inThread(run)

    def test_copy(self):
        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="copies")
            s3.create_bucket(Bucket="copies-two")
            s3.put_object(Bucket="copies", Key="src", Body=b"payload", Metadata={"a": "1"}, ContentType="text/x")
            result = s3.copy_object(Bucket="copies-two", Key="same", CopySource={"Bucket": "copies", "Key": "src"})
            self.assertEqual(result["CopyObjectResult"]["ETag"], '"%s"' % hashlib.md5(b"payload").hexdigest())
            copy = s3.get_object(Bucket="copies-two", Key="same")
            self.assertEqual((copy["Body"].read(), copy["Metadata"], copy["ContentType"]), (b"payload", {"a": "1"}, "text/x"))
            s3.copy_object(
                Bucket="copies", Key="replaced", CopySource="copies/src",
                MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="text/y",
            )
            replaced = s3.head_object(Bucket="copies", Key="replaced")
            self.assertEqual((replaced["Metadata"], replaced["ContentType"]), ({"b": "2"}, "text/y"))
            self.assertEqual(
                errorOf(s3.copy_object, Bucket="copies", Key="src", CopySource="copies/src"),
                ("InvalidRequest", 400),
            )
            s3.copy_object(Bucket="copies", Key="src", CopySource="copies/src", MetadataDirective="REPLACE", Metadata={"c": "3"})
            self.assertEqual(s3.head_object(Bucket="copies", Key="src")["Metadata"], {"c": "3"})
            self.assertEqual(
                errorOf(s3.copy_object, Bucket="copies", Key="x", CopySource="copies/src", CopySourceIfMatch='"0"'),
                ("PreconditionFailed", 412),
            )
            self.assertEqual(errorOf(s3.copy_object, Bucket="copies", Key="x", CopySource="copies/none"), ("NoSuchKey", 404))
            self.assertEqual(errorOf(s3.copy_object, Bucket="copies", Key="x", CopySource="nobucket/none"), ("NoSuchBucket", 404))
            bob = self.client("AKBOB")
            bob.create_bucket(Bucket="bobs")
            self.assertEqual(errorOf(bob.copy_object, Bucket="bobs", Key="x", CopySource="copies/src"), ("AccessDenied", 403))

        return self.inThread(run)

    def test_deleteObjects(self):
        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="deletes")
            for key in ["a", "b", "c"]:
                s3.put_object(Bucket="deletes", Key=key, Body=b"x")
            result = s3.delete_objects(
                Bucket="deletes", Delete={"Objects": [{"Key": "a"}, {"Key": "missing"}, {"Key": "x" * 1100}]}
            )
            self.assertEqual(sorted(d["Key"] for d in result["Deleted"]), ["a", "missing"])
            self.assertEqual([e["Code"] for e in result["Errors"]], ["KeyTooLongError"])
            quiet = s3.delete_objects(Bucket="deletes", Delete={"Objects": [{"Key": "b"}], "Quiet": True})
            self.assertNotIn("Deleted", quiet)
            self.assertEqual([c["Key"] for c in s3.list_objects_v2(Bucket="deletes")["Contents"]], ["c"])

        return self.inThread(run)

    def test_transfer(self):
        """
        upload_file and download_file with a 5 MiB multipart threshold.
        """
        from boto3.s3.transfer import TransferConfig

        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="transfers")
            directory = tempfile.mkdtemp(dir=self.root)
            source = os.path.join(directory, "up")
            data = os.urandom(12 * MiB + 123)
            with open(source, "wb") as f:
                f.write(data)
            config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
            s3.upload_file(source, "transfers", "big/object", Config=config)
            head = s3.head_object(Bucket="transfers", Key="big/object")
            self.assertEqual(head["ContentLength"], len(data))
            digests = b"".join(
                hashlib.md5(data[i : i + 5 * MiB]).digest() for i in range(0, len(data), 5 * MiB)
            )
            self.assertEqual(head["ETag"], '"%s-3"' % hashlib.md5(digests).hexdigest())
            part = s3.get_object(Bucket="transfers", Key="big/object", PartNumber=2)
            self.assertEqual(part["PartsCount"], 3)
            self.assertEqual(part["Body"].read(), data[5 * MiB : 10 * MiB])
            target = os.path.join(directory, "down")
            s3.download_file("transfers", "big/object", target, Config=config)
            with open(target, "rb") as f:
                self.assertEqual(hashlib.md5(f.read()).digest(), hashlib.md5(data).digest())
            self.assertEqual(s3.list_multipart_uploads(Bucket="transfers").get("Uploads", []), [])
            s3.put_object(Bucket="transfers", Key="single", Body=data[: 3 * MiB])
            self.assertEqual(s3.get_object(Bucket="transfers", Key="single")["Body"].read(), data[: 3 * MiB])
            self.assertEqual(os.listdir(self.store.stagingDirectory), [])

        return self.inThread(run)

    def test_multipartErrors(self):
        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="multi")
            upload = s3.create_multipart_upload(Bucket="multi", Key="k", Metadata={"m": "v"})["UploadId"]
            self.assertEqual(
                [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="multi")["Uploads"]], [upload]
            )
            one = s3.upload_part(Bucket="multi", Key="k", UploadId=upload, PartNumber=1, Body=b"a" * (5 * MiB))
            two = s3.upload_part(Bucket="multi", Key="k", UploadId=upload, PartNumber=2, Body=b"small")
            three = s3.upload_part(Bucket="multi", Key="k", UploadId=upload, PartNumber=3, Body=b"end")
            parts = s3.list_parts(Bucket="multi", Key="k", UploadId=upload)["Parts"]
            self.assertEqual([(p["PartNumber"], p["Size"]) for p in parts], [(1, 5 * MiB), (2, 5), (3, 3)])
            complete = lambda parts: s3.complete_multipart_upload(  # noqa: E731
                Bucket="multi", Key="k", UploadId=upload, MultipartUpload={"Parts": parts}
            )
            p1 = {"PartNumber": 1, "ETag": one["ETag"]}
            p2 = {"PartNumber": 2, "ETag": two["ETag"]}
            p3 = {"PartNumber": 3, "ETag": three["ETag"]}
            self.assertEqual(errorOf(complete, [p2, p1]), ("InvalidPartOrder", 400))
            self.assertEqual(errorOf(complete, [p1, {"PartNumber": 2, "ETag": one["ETag"]}]), ("InvalidPart", 400))
            self.assertEqual(errorOf(complete, [p1, p2, p3]), ("EntityTooSmall", 400))
            self.assertEqual(
                errorOf(s3.upload_part, Bucket="multi", Key="k", UploadId=upload, PartNumber=10001, Body=b"x"),
                ("InvalidArgument", 400),
            )
            s3.put_object(Bucket="multi", Key="src", Body=b"0123456789")
            copied = s3.upload_part_copy(
                Bucket="multi", Key="k", UploadId=upload, PartNumber=4,
                CopySource="multi/src", CopySourceRange="bytes=3-5",
            )
            self.assertEqual(copied["CopyPartResult"]["ETag"], '"%s"' % hashlib.md5(b"345").hexdigest())
            result = complete([p1, {"PartNumber": 4, "ETag": copied["CopyPartResult"]["ETag"]}])
            self.assertTrue(result["ETag"].endswith('-2"'))
            got = s3.get_object(Bucket="multi", Key="k")
            self.assertEqual(got["Metadata"], {"m": "v"})
            self.assertEqual(got["Body"].read()[-4:], b"a345")
            self.assertEqual(errorOf(s3.list_parts, Bucket="multi", Key="k", UploadId=upload), ("NoSuchUpload", 404))
            aborted = s3.create_multipart_upload(Bucket="multi", Key="gone")["UploadId"]
            s3.upload_part(Bucket="multi", Key="gone", UploadId=aborted, PartNumber=1, Body=b"x")
            s3.abort_multipart_upload(Bucket="multi", Key="gone", UploadId=aborted)
            self.assertEqual(
                errorOf(s3.upload_part, Bucket="multi", Key="gone", UploadId=aborted, PartNumber=1, Body=b"x"),
                ("NoSuchUpload", 404),
            )
            self.assertEqual(
                errorOf(s3.abort_multipart_upload, Bucket="multi", Key="gone", UploadId=aborted),
                ("NoSuchUpload", 404),
            )
            self.assertEqual(errorOf(s3.head_object, Bucket="multi", Key="gone"), ("404", 404))
            self.assertEqual(len(self.dataFiles()), 3)

        return self.inThread(run)

    def test_acls(self):
        def run():
            s3 = self.client()
            bob = self.client("AKBOB")
            anonymous = self.client(signature=botocore.UNSIGNED)
            s3.create_bucket(Bucket="public", ACL="public-read")
            s3.create_bucket(Bucket="private")
            s3.put_object(Bucket="public", Key="open", Body=b"open", ACL="public-read")
            s3.put_object(Bucket="public", Key="closed", Body=b"closed")
            s3.put_object(Bucket="private", Key="auth", Body=b"auth", ACL="authenticated-read")
            grants = s3.get_bucket_acl(Bucket="public")["Grants"]
            self.assertIn(
                {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"},
                grants,
            )
            self.assertEqual([c["Key"] for c in anonymous.list_objects(Bucket="public")["Contents"]], ["closed", "open"])
            self.assertEqual(anonymous.get_object(Bucket="public", Key="open")["Body"].read(), b"open")
            self.assertEqual(errorOf(anonymous.get_object, Bucket="public", Key="closed"), ("AccessDenied", 403))
            self.assertEqual(errorOf(anonymous.get_object, Bucket="private", Key="nothing"), ("AccessDenied", 403))
            self.assertEqual(errorOf(anonymous.list_objects, Bucket="private"), ("AccessDenied", 403))
            self.assertEqual(errorOf(anonymous.list_buckets), ("AccessDenied", 403))
            self.assertEqual(errorOf(anonymous.put_object, Bucket="public", Key="x", Body=b"x"), ("AccessDenied", 403))
            self.assertEqual(bob.get_object(Bucket="private", Key="auth")["Body"].read(), b"auth")
            self.assertEqual(errorOf(anonymous.get_object, Bucket="private", Key="auth"), ("AccessDenied", 403))
            self.assertEqual(errorOf(bob.put_bucket_acl, Bucket="private", ACL="public-read"), ("AccessDenied", 403))
            s3.put_bucket_acl(Bucket="private", ACL="public-read-write")
            anonymous.put_object(Bucket="private", Key="dropped", Body=b"anon")
            self.assertEqual(s3.get_object(Bucket="private", Key="dropped")["Body"].read(), b"anon")
            owner = s3.get_object_acl(Bucket="public", Key="open")["Owner"]
            s3.put_object_acl(
                Bucket="public", Key="closed",
                AccessControlPolicy={
                    "Owner": owner,
                    "Grants": [
                        {"Grantee": {"Type": "CanonicalUser", "ID": "proj1"}, "Permission": "FULL_CONTROL"},
                        {"Grantee": {"Type": "CanonicalUser", "ID": "proj2"}, "Permission": "READ"},
                    ],
                },
            )
            self.assertEqual(bob.get_object(Bucket="public", Key="closed")["Body"].read(), b"closed")
            self.assertEqual(errorOf(anonymous.get_object, Bucket="public", Key="closed"), ("AccessDenied", 403))
            acl = s3.get_object_acl(Bucket="public", Key="closed")["Grants"]
            self.assertEqual(
                sorted((g["Grantee"].get("ID"), g["Permission"]) for g in acl),
                [("proj1", "FULL_CONTROL"), ("proj2", "READ")],
            )
            self.assertEqual(errorOf(s3.put_object, Bucket="public", Key="x", Body=b"x", ACL="nonsense"), ("InvalidArgument", 400))
            admin = self.client("AKADMIN")
            self.assertEqual(admin.get_object(Bucket="public", Key="closed")["Body"].read(), b"closed")

        return self.inThread(run)

    def test_presignedURLs(self):
        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="presigned")
            s3.put_object(Bucket="presigned", Key="a file+ü", Body=b"presigned body")
            for signature in ("s3v4", "s3"):
                client = self.client(signature=signature)
                url = client.generate_presigned_url(
                    "get_object", Params={"Bucket": "presigned", "Key": "a file+ü"}, ExpiresIn=300
                )
                with urllib.request.urlopen(url) as response:
                    self.assertEqual(response.read(), b"presigned body")
                    self.assertTrue(response.headers["x-amz-request-id"])
                put = client.generate_presigned_url(
                    "put_object", Params={"Bucket": "presigned", "Key": "up-" + signature}, ExpiresIn=300
                )
                status, _, answer = self.raw("PUT", put[len(self.endpoint):], {}, b"uploaded")
                self.assertEqual(status, 200, answer)
                self.assertEqual(s3.get_object(Bucket="presigned", Key="up-" + signature)["Body"].read(), b"uploaded")
                bad = url.replace("Signature=", "Signature=AAAA")
                with self.assertRaises(urllib.error.HTTPError) as caught:
                    urllib.request.urlopen(bad)
                self.assertEqual(caught.exception.code, 403)
                self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", caught.exception.read())
            expired = self.client(signature="s3").generate_presigned_url(
                "get_object", Params={"Bucket": "presigned", "Key": "a file+ü"}, ExpiresIn=-10
            )
            with self.assertRaises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(expired)
            self.assertEqual(caught.exception.code, 403)

        return self.inThread(run)

    def _virtualHosted(self, signature):
        s3 = self.client(
            signature=signature,
            addressing="virtual",
            endpoint=f"http://s3.test:{self.portNumber}",
            proxies={"http": self.endpoint},
        )
        bucket = "vhost-" + signature.replace("s3v4", "four").replace("s3", "two")
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="dir/key", Body=b"virtual")
        self.assertEqual(s3.get_object(Bucket=bucket, Key="dir/key")["Body"].read(), b"virtual")
        self.assertEqual([c["Key"] for c in s3.list_objects(Bucket=bucket)["Contents"]], ["dir/key"])
        path = self.client(signature=signature)
        self.assertEqual(path.get_object(Bucket=bucket, Key="dir/key")["Body"].read(), b"virtual")
        path.put_bucket_acl(Bucket=bucket, ACL="public-read")
        status, headers, body = self.raw("GET", "/", {"Host": f"{bucket}.localhost:{self.portNumber}"})
        self.assertEqual(status, 200)
        self.assertIn(b"<Key>dir/key</Key>", body)
        status, headers, body = self.raw("GET", "/", {"Host": f"{bucket}.s3.test"})
        self.assertIn(f"<Name>{bucket}</Name>".encode(), body)

    def test_virtualHostedV4(self):
        return self.inThread(self._virtualHosted, "s3v4")

    def test_virtualHostedV2(self):
        return self.inThread(self._virtualHosted, "s3")

    def test_badCredentials(self):
        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="creds")
            for signature in ("s3v4", "s3"):
                wrong = self.client(signature=signature)
                wrong._request_signer._credentials = Credentials("AKALICE", "not-the-secret")
                self.assertEqual(errorOf(wrong.list_objects, Bucket="creds"), ("SignatureDoesNotMatch", 403))
                unknown = self.client("AKNOBODY", signature=signature)
                self.assertEqual(errorOf(unknown.list_objects, Bucket="creds"), ("InvalidAccessKeyId", 403))

        return self.inThread(run)


class SignedRawTests(ClientTestCase):
    """
    Requests signed by hand: payload hashes and aws-chunked bodies.
    """

    def signedRequest(self, method, path, body, headers=None, payloadHash=None):
        """
        Sign a request with signature version 4.

        @param payloadHash: the x-amz-content-sha256 to sign, or C{None}
            for the real hash of C{body}.
        @return: the headers to send.
        """

        class Auth(S3SigV4Auth):
            def payload(self, request):
                return payloadHash or hashlib.sha256(body).hexdigest()

        request = AWSRequest(method, self.endpoint + path, data=body, headers=headers or {})
        Auth(Credentials("AKALICE", KEYS["AKALICE"].secret), "s3", "us-east-1").add_auth(request)
        return dict(request.headers.items())

    def test_payloadHashMismatch(self):
        def run():
            self.client().create_bucket(Bucket="hashes")
            headers = self.signedRequest(
                "PUT", "/hashes/k", b"real body", payloadHash=hashlib.sha256(b"other").hexdigest()
            )
            status, _, body = self.raw("PUT", "/hashes/k", headers, b"real body")
            self.assertEqual(status, 400)
            self.assertIn(b"<Code>XAmzContentSHA256Mismatch</Code>", body)
            self.assertEqual(errorOf(self.client().head_object, Bucket="hashes", Key="k"), ("404", 404))
            self.assertEqual(self.dataFiles(), [])
            headers = self.signedRequest("PUT", "/hashes/k", b"real body")
            self.assertEqual(self.raw("PUT", "/hashes/k", headers, b"real body")[0], 200)

        return self.inThread(run)

    def chunkedBody(self, headers, chunks, corrupt=False):
        authorization = headers["Authorization"]
        seed = authorization.rsplit("Signature=", 1)[1]
        credential = authorization.split("Credential=", 1)[1].split(",", 1)[0]
        _, date, region, service, _ = credential.split("/")
        scope = f"{date}/{region}/{service}/aws4_request"
        key = signer.signingKey(KEYS["AKALICE"].secret, date, region, service)
        previous = seed
        out = []
        for chunk in list(chunks) + [b""]:
            stringToSign = "\n".join(
                [
                    "AWS4-HMAC-SHA256-PAYLOAD",
                    headers["X-Amz-Date"],
                    scope,
                    previous,
                    hashlib.sha256(b"").hexdigest(),
                    hashlib.sha256(chunk).hexdigest(),
                ]
            )
            signature = hmac.new(key, stringToSign.encode(), hashlib.sha256).hexdigest()
            previous = signature
            if corrupt and chunk:
                chunk = chunk[:-1] + b"!"
            out.append(b"%x;chunk-signature=%s\r\n%s\r\n" % (len(chunk), signature.encode(), chunk))
        return b"".join(out)

    def test_streamingChunked(self):
        def run():
            self.client().create_bucket(Bucket="chunked")
            chunks = [os.urandom(65536), os.urandom(65536), b"tail"]
            data = b"".join(chunks)
            extra = {
                "Content-Encoding": "aws-chunked",
                "x-amz-decoded-content-length": str(len(data)),
                "Content-Type": "application/x-test",
            }
            for corrupt in (True, False):
                headers = self.signedRequest(
                    "PUT", "/chunked/k", b"", extra, payloadHash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
                )
                body = self.chunkedBody(headers, chunks, corrupt)
                headers.pop("Content-Length", None)
                status, _, answer = self.raw("PUT", "/chunked/k", headers, body)
                if corrupt:
                    self.assertEqual(status, 403, answer)
                    self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", answer)
                    self.assertEqual(self.dataFiles(), [])
                else:
                    self.assertEqual(status, 200, answer)
            got = self.client().get_object(Bucket="chunked", Key="k")
            self.assertEqual(got["Body"].read(), data)
            self.assertEqual(got["ContentType"], "application/x-test")
            self.assertNotIn("ContentEncoding", got)

        return self.inThread(run)


class HostileTests(ClientTestCase):
    def test_errorDocuments(self):
        def run():
            status, headers, body = self.raw("GET", "/no-such-bucket/key", {})
            self.assertEqual(status, 404)
            self.assertTrue(headers["x-amz-request-id"])
            self.assertIn(b"<Error><Code>NoSuchBucket</Code><Message>", body)
            self.assertIn(b"<Resource>/no-such-bucket/key</Resource>", body)
            self.assertIn(b"<RequestId>" + headers["x-amz-request-id"].encode() + b"</RequestId>", body)
            self.assertEqual(headers["content-type"], "application/xml")
            s3 = self.client()
            s3.create_bucket(Bucket="errors")
            response = s3.list_objects(Bucket="errors")
            self.assertTrue(response["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"])
            signed = {"Authorization": "AWS AKALICE:bm90IGEgc2lnbmF0dXJl", "Date": "Thu, 01 Jan 2099 00:00:00 GMT"}
            self.assertEqual(self.raw("GET", "/errors", signed)[0], 403)
            status, headers, body = self.raw("PATCH", "/errors/k", {})
            self.assertEqual(status, 405)
            self.assertIn(b"MethodNotAllowed", body)
            self.assertEqual(errorOf(s3.get_bucket_replication, Bucket="errors"), ("NotImplemented", 501))
            self.assertEqual(errorOf(s3.get_bucket_policy, Bucket="errors"), ("NoSuchBucketPolicy", 404))
            self.assertEqual(errorOf(s3.get_bucket_cors, Bucket="errors"), ("NoSuchCORSConfiguration", 404))
            self.assertEqual(s3.get_bucket_versioning(Bucket="errors").get("Status"), None)
            s3.put_object(Bucket="errors", Key="k", Body=b"x")
            self.assertEqual(s3.get_object_tagging(Bucket="errors", Key="k")["TagSet"], [])

        return self.inThread(run)

    def test_malformedXML(self):
        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="xml")

            def send(body, query="?delete"):
                request = AWSRequest("POST", f"{self.endpoint}/xml{query}", data=body)
                S3SigV4Auth(Credentials("AKALICE", KEYS["AKALICE"].secret), "s3", "us-east-1").add_auth(request)
                return self.raw("POST", "/xml" + query, dict(request.headers.items()), body)

            for body in [
                b"<Delete><Object><Key>a</Key></Object>",
                b"not xml at all",
                b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "x">]><Delete><Object><Key>&e;</Key></Object></Delete>',
                b"<Delete></Delete>",
                b"<Other/>",
            ]:
                status, _, answer = send(body)
                self.assertEqual(status, 400, answer)
                self.assertIn(b"<Code>MalformedXML</Code>", answer)
            upload = s3.create_multipart_upload(Bucket="xml", Key="k")["UploadId"]
            status, _, answer = send(b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part>", f"/k?uploadId={upload}")
            self.assertEqual(status, 400)
            self.assertIn(b"<Code>MalformedXML</Code>", answer)
            status, _, answer = send(b"<CreateBucketConfiguration><Loc", "")
            self.assertEqual(status, 405)

        return self.inThread(run)

    def test_pathTraversal(self):
        def run():
            s3 = self.client(signature="s3")
            s3.create_bucket(Bucket="traversal")
            s3.put_bucket_acl(Bucket="traversal", ACL="public-read-write")
            keys = {
                "/traversal/../../etc/passwd": "../../etc/passwd",
                "/traversal/a/../../b": "a/../../b",
                "/traversal/%2e%2e/%2e%2e/x": "../../x",
                "/traversal/%252e%252e/": "%2e%2e/",
                "/traversal/..%2F..%2Fescape": "../../escape",
            }
            for path, key in keys.items():
                status, _, answer = self.raw("PUT", path, {}, key.encode())
                self.assertEqual(status, 200, answer)
            listed = [c["Key"] for c in s3.list_objects(Bucket="traversal")["Contents"]]
            self.assertEqual(listed, sorted(keys.values()))
            for key in keys.values():
                self.assertEqual(s3.get_object(Bucket="traversal", Key=key)["Body"].read(), key.encode())
            for directory, _, files in os.walk(self.root):
                for name in files:
                    full = os.path.realpath(os.path.join(directory, name))
                    self.assertTrue(full.startswith(os.path.realpath(self.root) + os.sep))
            self.assertEqual(self.raw("GET", "/..%2F..%2Fetc/passwd", {})[0], 404)
            longest = "é/" * 341 + "x"
            s3.put_object(Bucket="traversal", Key=longest, Body=b"long")
            self.assertEqual(s3.get_object(Bucket="traversal", Key=longest)["Body"].read(), b"long")
            self.assertEqual(
                errorOf(s3.put_object, Bucket="traversal", Key=longest + "x", Body=b"x"),
                ("KeyTooLongError", 400),
            )

        return self.inThread(run)

    def test_oversizedHeaders(self):
        def run():
            self.client().create_bucket(Bucket="headers")
            try:
                status, _, _ = self.raw("GET", "/headers", {"X-Big": "a" * 100000})
                self.assertIn(status, (400, 413, 431))
            except (ConnectionError, OSError):
                pass
            try:
                many = {f"x-h-{i}": "v" for i in range(2000)}
                status, _, _ = self.raw("GET", "/headers", many)
                self.assertIn(status, (400, 413, 431))
            except (ConnectionError, OSError):
                pass
            self.assertEqual(self.client().head_bucket(Bucket="headers")["ResponseMetadata"]["HTTPStatusCode"], 200)

        return self.inThread(run)

    def test_truncatedUpload(self):
        """
        A client that goes away in the middle of a body leaves no object
        and no data behind.
        """

        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="truncated")
            s3.put_bucket_acl(Bucket="truncated", ACL="public-read-write")
            for size in (50000, 5 * MiB):
                sock = socket.create_connection(("127.0.0.1", self.portNumber))
                sock.sendall(
                    b"PUT /truncated/partial HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Length: %d\r\n\r\n" % (size,)
                )
                sock.sendall(b"x" * (size // 2))
                sock.close()
            time.sleep(0.3)
            self.assertEqual(errorOf(s3.head_object, Bucket="truncated", Key="partial"), ("404", 404))
            self.assertEqual(self.dataFiles(), [])
            self.assertEqual(os.listdir(self.store.stagingDirectory), [])

        return self.inThread(run)

    def test_disconnectDuringDownload(self):
        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="downloads")
            s3.put_bucket_acl(Bucket="downloads", ACL="public-read")
            s3.put_object(Bucket="downloads", Key="big", Body=os.urandom(20 * MiB), ACL="public-read")
            for _ in range(3):
                sock = socket.create_connection(("127.0.0.1", self.portNumber))
                sock.sendall(b"GET /downloads/big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                sock.recv(65536)
                sock.close()
            time.sleep(0.3)
            self.assertEqual(len(s3.get_object(Bucket="downloads", Key="big")["Body"].read()), 20 * MiB)

        return self.inThread(run)


class Boto2Tests(ClientTestCase):
    def test_boto2(self):
        def run():
            from boto.s3.connection import OrdinaryCallingFormat, S3Connection

            connection = S3Connection(
                "AKALICE",
                KEYS["AKALICE"].secret,
                host="127.0.0.1",
                port=self.portNumber,
                is_secure=False,
                calling_format=OrdinaryCallingFormat(),
            )
            bucket = connection.create_bucket("boto-two")
            key = bucket.new_key("dir/image.img")
            key.set_metadata("kind", "kernel")
            key.set_contents_from_string(b"boto 2 data", headers={"Content-Type": "application/octet-stream"})
            fetched = bucket.get_key("dir/image.img")
            self.assertEqual(fetched.get_contents_as_string(), b"boto 2 data")
            self.assertEqual(fetched.get_metadata("kind"), "kernel")
            self.assertEqual(fetched.etag, '"%s"' % hashlib.md5(b"boto 2 data").hexdigest())
            self.assertEqual([k.name for k in bucket.list()], ["dir/image.img"])
            self.assertEqual([b.name for b in connection.get_all_buckets()], ["boto-two"])
            url = fetched.generate_url(300)
            with urllib.request.urlopen(url) as response:
                self.assertEqual(response.read(), b"boto 2 data")
            bucket.set_acl("public-read")
            self.assertIn("AllUsers", bucket.get_acl().to_xml())
            multipart = bucket.initiate_multipart_upload("mp")
            import io

            multipart.upload_part_from_file(io.BytesIO(b"a" * (5 * MiB)), 1)
            multipart.upload_part_from_file(io.BytesIO(b"b" * 10), 2)
            multipart.complete_upload()
            self.assertEqual(bucket.get_key("mp").size, 5 * MiB + 10)
            bucket.delete_key("dir/image.img")
            bucket.delete_key("mp")
            connection.delete_bucket("boto-two")
            self.assertEqual(connection.get_all_buckets(), [])

        return self.inThread(run)


class AwsCLITests(ClientTestCase):
    def aws(self, *args, check=True):
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": self.home,
            "AWS_ACCESS_KEY_ID": "AKALICE",
            "AWS_SECRET_ACCESS_KEY": KEYS["AKALICE"].secret,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.path.join(self.home, "config"),
        }
        command = [os.path.join(os.path.dirname(sys.executable), "aws"), "--endpoint-url", self.endpoint]
        result = subprocess.run(command + list(args), env=env, capture_output=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"aws {args} failed: {result.stderr.decode()}")
        return result

    def test_cli(self):
        self.home = tempfile.mkdtemp(dir=self.root)
        with open(os.path.join(self.home, "config"), "w") as f:
            f.write(
                "[default]\ns3 =\n    multipart_threshold = 5MB\n    multipart_chunksize = 5MB\n"
            )

        def run():
            work = os.path.join(self.home, "work")
            os.makedirs(os.path.join(work, "sub"))
            image = os.urandom(11 * MiB)
            with open(os.path.join(work, "image.img"), "wb") as f:
                f.write(image)
            with open(os.path.join(work, "sub", "kernel"), "wb") as f:
                f.write(b"kernel")
            self.aws("s3", "mb", "s3://cli-bucket")
            self.aws("s3", "cp", os.path.join(work, "image.img"), "s3://cli-bucket/images/image.img")
            self.aws("s3", "sync", work, "s3://cli-bucket/synced")
            listing = self.aws("s3", "ls", "--recursive", "s3://cli-bucket").stdout.decode()
            for key in ("images/image.img", "synced/image.img", "synced/sub/kernel"):
                self.assertIn(key, listing)
            head = self.aws("s3api", "head-object", "--bucket", "cli-bucket", "--key", "images/image.img")
            self.assertIn(b'-3\\"', head.stdout)
            target = os.path.join(self.home, "down.img")
            self.aws("s3", "cp", "s3://cli-bucket/images/image.img", target)
            with open(target, "rb") as f:
                self.assertEqual(f.read(), image)
            self.aws("s3", "rm", "--recursive", "s3://cli-bucket")
            self.aws("s3", "rb", "s3://cli-bucket")
            missing = self.aws("s3", "ls", "s3://cli-bucket", check=False)
            self.assertNotEqual(missing.returncode, 0)
            self.assertIn(b"NoSuchBucket", missing.stderr)

        return self.inThread(run)

    def test_versionedBucket(self):
        """
        The aws CLI on a versioned bucket: put twice, list the versions,
        delete (a delete marker), C{aws s3 rm}, then remove every version
        and the bucket.
        """
        import json

        self.home = tempfile.mkdtemp(dir=self.root)

        def versions():
            listed = json.loads(
                self.aws("s3api", "list-object-versions", "--bucket", "cli-versions").stdout or b"{}"
            )
            return listed.get("Versions", []), listed.get("DeleteMarkers", [])

        def run():
            path = os.path.join(self.home, "file")
            self.aws("s3", "mb", "s3://cli-versions")
            self.aws(
                "s3api", "put-bucket-versioning", "--bucket", "cli-versions",
                "--versioning-configuration", "Status=Enabled",
            )
            status = json.loads(self.aws("s3api", "get-bucket-versioning", "--bucket", "cli-versions").stdout)
            self.assertEqual(status["Status"], "Enabled")
            ids = []
            for body in (b"one", b"two"):
                with open(path, "wb") as f:
                    f.write(body)
                put = self.aws("s3api", "put-object", "--bucket", "cli-versions", "--key", "k", "--body", path)
                ids.append(json.loads(put.stdout)["VersionId"])
            self.aws("s3", "cp", path, "s3://cli-versions/other")
            found, markers = versions()
            self.assertEqual([v["VersionId"] for v in found if v["Key"] == "k"], ids[::-1])
            self.assertEqual(markers, [])
            deleted = json.loads(self.aws("s3api", "delete-object", "--bucket", "cli-versions", "--key", "k").stdout)
            self.assertTrue(deleted["DeleteMarker"])
            self.aws("s3", "rm", "s3://cli-versions/other")
            self.assertNotIn(b"other", self.aws("s3", "ls", "s3://cli-versions").stdout)
            target = os.path.join(self.home, "old")
            self.aws(
                "s3api", "get-object", "--bucket", "cli-versions", "--key", "k", "--version-id", ids[0], target
            )
            with open(target, "rb") as f:
                self.assertEqual(f.read(), b"one")
            found, markers = versions()
            self.assertEqual((len(found), len(markers)), (3, 2))
            self.assertNotEqual(self.aws("s3", "rb", "s3://cli-versions", check=False).returncode, 0)
            objects = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in found + markers]
            self.aws(
                "s3api", "delete-objects", "--bucket", "cli-versions",
                "--delete", json.dumps({"Objects": objects, "Quiet": True}),
            )
            self.assertEqual(versions(), ([], []))
            self.aws("s3", "rb", "s3://cli-versions")

        return self.inThread(run)
