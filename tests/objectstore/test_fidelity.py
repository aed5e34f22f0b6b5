# -*- test-case-name: tests.objectstore.test_fidelity -*-
"""
The object store answering as AWS S3 does, checked through boto3 (whose
botocore parses every answer) against a real server on a loopback port:
error documents, conditional writes, multipart completion, ACLs, listings,
metadata, presigned URLs, CORS preflights, versioning listings and
buckets that keep versions.

Requests boto3 cannot send (malformed HTTP, a header that is not ASCII)
go out raw, and their answers are parsed with botocore's own parser.
"""

import hashlib
import socket
import xml.etree.ElementTree as ET

from botocore.exceptions import ClientError
from botocore.parsers import RestXMLParser

from tests.objectstore.test_clients import ClientTestCase, errorOf


def parsedError(status, headers, body):
    """
    @return: C{(code, status)} of an error answer as botocore parses it (a
        document it cannot parse gives the status as the code).
    """
    parsed = RestXMLParser().parse(
        {"status_code": status, "headers": headers, "body": body}, None
    )
    return parsed["Error"]["Code"], status


def rawExchange(port, data, timeout=10):
    """
    Send C{data} on a new connection and read the answer until the server
    closes it.

    @return: C{(status, headers, body)}.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sock.close()
    answer = b"".join(chunks)
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


class ErrorDocumentTests(ClientTestCase):
    """
    Error documents are well-formed whatever the request held.
    """

    def test_controlCharacters(self):
        """
        A key, bucket name or copy source holding a character XML cannot
        carry is left out of the error document.
        """

        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="controls")
            s3.put_bucket_acl(Bucket="controls", ACL="public-read-write")
            for key in ["a\x01b", "\x1f", "tab\tand\x0bvt"]:
                self.assertEqual(errorOf(s3.get_object, Bucket="controls", Key=key), ("NoSuchKey", 404))
                self.assertEqual(
                    errorOf(s3.copy_object, Bucket="controls", Key="x", CopySource={"Bucket": "controls", "Key": key}),
                    ("NoSuchKey", 404),
                )
            self.assertEqual(
                errorOf(s3.put_object, Bucket="controls", Key="nul\x00", Body=b"x"), ("InvalidArgument", 400)
            )
            self.assertEqual(
                errorOf(s3.copy_object, Bucket="controls", Key="x", CopySource={"Bucket": "controls", "Key": "a\x00b"}),
                ("InvalidArgument", 400),
            )
            for path, code in [
                ("/contr%01ls/k", "NoSuchBucket"),
                ("/controls/k%00", "InvalidArgument"),
                ("/controls/%EF%BF%BE", "NoSuchKey"),
            ]:
                status, headers, body = self.raw("GET", path)
                ET.fromstring(body)
                self.assertEqual(parsedError(status, headers, body)[0], code)
                self.assertIn(b"<Resource>" + path.encode() + b"</Resource>", body)
            status, headers, body = self.raw(
                "PUT", "/controls/k", {"x-amz-copy-source": "/controls/a\x01b"}
            )
            self.assertEqual(parsedError(status, headers, body), ("NoSuchKey", 404))
            self.assertNotIn(b"<Key>", body)

        return self.inThread(run)

    def test_unreadableHeaders(self):
        """
        An unreadable C{Content-MD5} is InvalidDigest; an unreadable
        C{Content-Length}, or a request line or header twisted.web cannot
        parse, is BadRequest; a body declared over 5 GiB is EntityTooLarge
        at once: each an S3 error document.
        """

        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="unreadable")
            s3.put_bucket_acl(Bucket="unreadable", ACL="public-read-write")
            for digest in ["\u00e9\u00e9", "not base64!", "AAAA"]:
                status, headers, body = self.raw(
                    "PUT", "/unreadable/k", {"Content-MD5": digest}, b"data"
                )
                self.assertEqual(parsedError(status, headers, body), ("InvalidDigest", 400))
            self.assertEqual(
                errorOf(s3.put_object, Bucket="unreadable", Key="k", Body=b"x", ContentMD5="bad"),
                ("InvalidDigest", 400),
            )
            for length in [b"abc", b"-1", b"1e3", b"5, 6"]:
                status, headers, body = rawExchange(
                    self.portNumber,
                    b"PUT /unreadable/k HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\nhello",
                )
                self.assertEqual(parsedError(status, headers, body), ("BadRequest", 400), length)
                self.assertTrue(headers["x-amz-request-id"])
            status, headers, body = rawExchange(
                self.portNumber,
                b"PUT /unreadable/k HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
            )
            self.assertEqual(parsedError(status, headers, body), ("EntityTooLarge", 400))
            self.assertIn(b"<Resource>/unreadable/k</Resource>", body)
            for request in [
                b"GET /unreadable/a\x01b HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /unreadable HTTP/1.1\r\nno colon here\r\n\r\n",
                b"abcdefg\r\n\r\n",
            ]:
                status, headers, body = rawExchange(self.portNumber, request)
                self.assertEqual(parsedError(status, headers, body), ("BadRequest", 400), request)
            status, headers, body = rawExchange(
                self.portNumber,
                b"GET /unreadable HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
            )
            self.assertEqual(parsedError(status, headers, body), ("RequestHeaderSectionTooLarge", 400))
            self.assertEqual(s3.head_bucket(Bucket="unreadable")["ResponseMetadata"]["HTTPStatusCode"], 200)

        return self.inThread(run)


MiB = 1024 * 1024


class ConditionalWriteTests(ClientTestCase):
    """
    C{If-Match} and C{If-None-Match: *} on PutObject and
    CompleteMultipartUpload.
    """

    def test_putObject(self):
        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="conditional")
            first = s3.put_object(Bucket="conditional", Key="k", Body=b"one", IfNoneMatch="*")
            self.assertEqual(
                errorOf(s3.put_object, Bucket="conditional", Key="k", Body=b"two", IfNoneMatch="*"),
                ("PreconditionFailed", 412),
            )
            self.assertEqual(
                errorOf(s3.put_object, Bucket="conditional", Key="k", Body=b"two", IfMatch='"0123"'),
                ("PreconditionFailed", 412),
            )
            self.assertEqual(
                errorOf(s3.put_object, Bucket="conditional", Key="missing", Body=b"x", IfMatch=first["ETag"]),
                ("NoSuchKey", 404),
            )
            self.assertEqual(s3.get_object(Bucket="conditional", Key="k")["Body"].read(), b"one")
            second = s3.put_object(Bucket="conditional", Key="k", Body=b"two", IfMatch=first["ETag"])
            self.assertEqual(s3.get_object(Bucket="conditional", Key="k")["ETag"], second["ETag"])
            self.assertEqual(
                errorOf(s3.put_object, Bucket="conditional", Key="k", Body=b"3", IfNoneMatch=second["ETag"]),
                ("NotImplemented", 501),
            )
            self.assertEqual(len(self.dataFiles()), 1)

        return self.inThread(run)

    def test_completeMultipartUpload(self):
        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="conditional-mp")
            existing = s3.put_object(Bucket="conditional-mp", Key="k", Body=b"old")
            upload = s3.create_multipart_upload(Bucket="conditional-mp", Key="k")["UploadId"]
            part = s3.upload_part(
                Bucket="conditional-mp", Key="k", UploadId=upload, PartNumber=1, Body=b"new"
            )
            parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}

            def complete(**conditions):
                return s3.complete_multipart_upload(
                    Bucket="conditional-mp", Key="k", UploadId=upload, MultipartUpload=parts, **conditions
                )

            self.assertEqual(errorOf(complete, IfNoneMatch="*"), ("PreconditionFailed", 412))
            self.assertEqual(errorOf(complete, IfMatch='"0123"'), ("PreconditionFailed", 412))
            # The upload is still there: a failed condition completes nothing.
            self.assertEqual(len(s3.list_parts(Bucket="conditional-mp", Key="k", UploadId=upload)["Parts"]), 1)
            self.assertEqual(s3.get_object(Bucket="conditional-mp", Key="k")["Body"].read(), b"old")
            complete(IfMatch=existing["ETag"])
            self.assertEqual(s3.get_object(Bucket="conditional-mp", Key="k")["Body"].read(), b"new")
            fresh = s3.create_multipart_upload(Bucket="conditional-mp", Key="fresh")["UploadId"]
            part = s3.upload_part(
                Bucket="conditional-mp", Key="fresh", UploadId=fresh, PartNumber=1, Body=b"x"
            )
            s3.complete_multipart_upload(
                Bucket="conditional-mp", Key="fresh", UploadId=fresh, IfNoneMatch="*",
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
            )
            self.assertEqual(s3.get_object(Bucket="conditional-mp", Key="fresh")["Body"].read(), b"x")

        return self.inThread(run)


class MultipartTests(ClientTestCase):
    def test_completeAgain(self):
        """
        Completing a completed upload again with the same parts answers as
        the first completion did; with other parts, or after an abort, the
        upload is gone.
        """

        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="again")
            upload = s3.create_multipart_upload(Bucket="again", Key="k")["UploadId"]
            one = s3.upload_part(Bucket="again", Key="k", UploadId=upload, PartNumber=1, Body=b"a" * (5 * MiB))
            two = s3.upload_part(Bucket="again", Key="k", UploadId=upload, PartNumber=2, Body=b"b")
            parts = [{"PartNumber": 1, "ETag": one["ETag"]}, {"PartNumber": 2, "ETag": two["ETag"]}]

            def complete(parts):
                return s3.complete_multipart_upload(
                    Bucket="again", Key="k", UploadId=upload, MultipartUpload={"Parts": parts}
                )

            first = complete(parts)
            again = complete(parts)
            for name in ("Bucket", "Key", "ETag", "Location"):
                self.assertEqual(again[name], first[name])
            self.assertEqual(again["ResponseMetadata"]["HTTPStatusCode"], 200)
            self.assertEqual(s3.head_object(Bucket="again", Key="k")["ContentLength"], 5 * MiB + 1)
            self.assertEqual(errorOf(complete, parts[:1]), ("NoSuchUpload", 404))
            self.assertEqual(errorOf(s3.list_parts, Bucket="again", Key="k", UploadId=upload), ("NoSuchUpload", 404))
            self.assertEqual(s3.list_multipart_uploads(Bucket="again").get("Uploads", []), [])
            aborted = s3.create_multipart_upload(Bucket="again", Key="gone")["UploadId"]
            s3.abort_multipart_upload(Bucket="again", Key="gone", UploadId=aborted)
            self.assertEqual(
                errorOf(
                    s3.complete_multipart_upload, Bucket="again", Key="gone", UploadId=aborted,
                    MultipartUpload={"Parts": parts},
                ),
                ("NoSuchUpload", 404),
            )
            s3.delete_object(Bucket="again", Key="k")
            s3.delete_bucket(Bucket="again")

        return self.inThread(run)

    def test_repeatedPart(self):
        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="repeated")
            upload = s3.create_multipart_upload(Bucket="repeated", Key="k")["UploadId"]
            one = s3.upload_part(Bucket="repeated", Key="k", UploadId=upload, PartNumber=1, Body=b"a" * (5 * MiB))
            part = {"PartNumber": 1, "ETag": one["ETag"]}
            self.assertEqual(
                errorOf(
                    s3.complete_multipart_upload, Bucket="repeated", Key="k", UploadId=upload,
                    MultipartUpload={"Parts": [part, part]},
                ),
                ("InvalidPartOrder", 400),
            )

        return self.inThread(run)

    def test_partNumberBeyondParts(self):
        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="part-numbers")
            upload = s3.create_multipart_upload(Bucket="part-numbers", Key="k")["UploadId"]
            one = s3.upload_part(Bucket="part-numbers", Key="k", UploadId=upload, PartNumber=1, Body=b"a" * (5 * MiB))
            two = s3.upload_part(Bucket="part-numbers", Key="k", UploadId=upload, PartNumber=2, Body=b"tail")
            s3.complete_multipart_upload(
                Bucket="part-numbers", Key="k", UploadId=upload,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": one["ETag"]}, {"PartNumber": 2, "ETag": two["ETag"]}]},
            )
            part = s3.get_object(Bucket="part-numbers", Key="k", PartNumber=2)
            self.assertEqual((part["Body"].read(), part["PartsCount"]), (b"tail", 2))
            try:
                s3.get_object(Bucket="part-numbers", Key="k", PartNumber=3)
            except s3.exceptions.ClientError as e:
                error = e.response["Error"]
                self.assertEqual(
                    (error["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]),
                    ("InvalidPartNumber", 416),
                )
                self.assertEqual((error["PartNumberRequested"], error["ActualPartCount"]), ("3", "2"))
            else:
                self.fail("PartNumber 3 of 2 was served")
            self.assertEqual(errorOf(s3.head_object, Bucket="part-numbers", Key="k", PartNumber=3), ("416", 416))
            s3.put_object(Bucket="part-numbers", Key="single", Body=b"one")
            self.assertEqual(
                errorOf(s3.get_object, Bucket="part-numbers", Key="single", PartNumber=2),
                ("InvalidPartNumber", 416),
            )
            self.assertEqual(
                errorOf(s3.get_object, Bucket="part-numbers", Key="single", PartNumber=10001),
                ("InvalidArgument", 400),
            )

        return self.inThread(run)


ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


def grantsOf(response):
    """
    @return: the grants of a GetBucketAcl or GetObjectAcl answer as
        C{(type, grantee, permission)}, in their order.
    """
    return [
        (g["Grantee"]["Type"], g["Grantee"].get("ID") or g["Grantee"].get("URI"), g["Permission"])
        for g in response.get("Grants", [])
    ]


class ACLTests(ClientTestCase):
    def test_cannedOrder(self):
        """
        A canned ACL lists its group grants in order and the owner last;
        C{bucket-owner-*} the object's owner, then the bucket's.
        """

        def run():
            s3 = self.client()
            bob = self.client("AKBOB")
            s3.create_bucket(Bucket="canned", ACL="public-read-write")
            self.assertEqual(
                grantsOf(s3.get_bucket_acl(Bucket="canned")),
                [("Group", ALL_USERS, "READ"), ("Group", ALL_USERS, "WRITE"), ("CanonicalUser", "proj1", "FULL_CONTROL")],
            )
            s3.put_object(Bucket="canned", Key="auth", Body=b"x", ACL="authenticated-read")
            self.assertEqual(
                grantsOf(s3.get_object_acl(Bucket="canned", Key="auth")),
                [("Group", AUTHENTICATED_USERS, "READ"), ("CanonicalUser", "proj1", "FULL_CONTROL")],
            )
            s3.put_object(Bucket="canned", Key="plain", Body=b"x")
            self.assertEqual(
                grantsOf(s3.get_object_acl(Bucket="canned", Key="plain")),
                [("CanonicalUser", "proj1", "FULL_CONTROL")],
            )
            bob.put_object(Bucket="canned", Key="bobs", Body=b"x", ACL="bucket-owner-full-control")
            self.assertEqual(
                grantsOf(s3.get_object_acl(Bucket="canned", Key="bobs")),
                [("CanonicalUser", "proj2", "FULL_CONTROL"), ("CanonicalUser", "proj1", "FULL_CONTROL")],
            )
            s3.put_bucket_acl(Bucket="canned", ACL="private")
            self.assertEqual(
                grantsOf(s3.get_bucket_acl(Bucket="canned")), [("CanonicalUser", "proj1", "FULL_CONTROL")]
            )

        return self.inThread(run)

    def test_explicitGrants(self):
        """
        Grant headers and AccessControlPolicy documents grant what they
        list, in their order; an empty list leaves no grants (the owner
        keeps its access).
        """

        def run():
            s3 = self.client()
            bob = self.client("AKBOB")
            s3.create_bucket(Bucket="explicit")
            s3.put_object(
                Bucket="explicit", Key="k", Body=b"data",
                GrantRead=f'uri="{AUTHENTICATED_USERS}", id="proj2"',
                GrantFullControl='id="proj1"',
            )
            self.assertEqual(
                grantsOf(s3.get_object_acl(Bucket="explicit", Key="k")),
                [("Group", AUTHENTICATED_USERS, "READ"), ("CanonicalUser", "proj2", "READ"),
                 ("CanonicalUser", "proj1", "FULL_CONTROL")],
            )
            self.assertEqual(bob.get_object(Bucket="explicit", Key="k")["Body"].read(), b"data")
            owner = s3.get_bucket_acl(Bucket="explicit")["Owner"]
            policy = {
                "Owner": owner,
                "Grants": [
                    {"Grantee": {"Type": "Group", "URI": AUTHENTICATED_USERS}, "Permission": "READ"},
                    {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"},
                    {"Grantee": {"Type": "CanonicalUser", "ID": "proj1"}, "Permission": "FULL_CONTROL"},
                ],
            }
            s3.put_bucket_acl(Bucket="explicit", AccessControlPolicy=policy)
            self.assertEqual(
                grantsOf(s3.get_bucket_acl(Bucket="explicit")),
                [("Group", AUTHENTICATED_USERS, "READ"), ("Group", ALL_USERS, "READ"),
                 ("CanonicalUser", "proj1", "FULL_CONTROL")],
            )
            s3.put_bucket_acl(Bucket="explicit", AccessControlPolicy={"Owner": owner, "Grants": []})
            self.assertEqual(grantsOf(s3.get_bucket_acl(Bucket="explicit")), [])
            s3.put_object_acl(Bucket="explicit", Key="k", AccessControlPolicy={"Owner": owner, "Grants": []})
            self.assertEqual(grantsOf(s3.get_object_acl(Bucket="explicit", Key="k")), [])
            self.assertEqual(errorOf(bob.get_object, Bucket="explicit", Key="k"), ("AccessDenied", 403))
            self.assertEqual(s3.get_object(Bucket="explicit", Key="k")["Body"].read(), b"data")
            self.assertEqual([c["Key"] for c in s3.list_objects_v2(Bucket="explicit")["Contents"]], ["k"])

        return self.inThread(run)

    def test_unknownGrantee(self):
        """
        A grant to a canonical id no project has is InvalidArgument, and
        changes nothing.
        """

        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="grantees")
            owner = s3.get_bucket_acl(Bucket="grantees")["Owner"]
            nobody = {"Grantee": {"Type": "CanonicalUser", "ID": "no-such-project"}, "Permission": "READ"}
            for call, kwargs in [
                (s3.put_bucket_acl, {"Bucket": "grantees", "AccessControlPolicy": {"Owner": owner, "Grants": [nobody]}}),
                (s3.put_bucket_acl, {"Bucket": "grantees", "GrantRead": 'id="no-such-project"'}),
                (s3.put_object, {"Bucket": "grantees", "Key": "k", "Body": b"x", "GrantRead": 'id="no-such-project"'}),
                (s3.create_bucket, {"Bucket": "grantees-two", "GrantWrite": 'id="no-such-project"'}),
                (s3.create_multipart_upload, {"Bucket": "grantees", "Key": "k", "GrantFullControl": 'id="no-such-project"'}),
            ]:
                try:
                    call(**kwargs)
                except s3.exceptions.ClientError as e:
                    self.assertEqual(e.response["Error"]["Code"], "InvalidArgument")
                    self.assertEqual(e.response["Error"]["ArgumentValue"], "no-such-project")
                else:
                    self.fail(f"{call} granted to an unknown id")
            self.assertEqual(
                grantsOf(s3.get_bucket_acl(Bucket="grantees")), [("CanonicalUser", "proj1", "FULL_CONTROL")]
            )
            self.assertNotIn("Contents", s3.list_objects_v2(Bucket="grantees"))
            self.assertEqual(errorOf(s3.head_bucket, Bucket="grantees-two"), ("404", 404))
            s3.put_bucket_acl(Bucket="grantees", GrantRead='id="proj2"')
            self.assertEqual(grantsOf(s3.get_bucket_acl(Bucket="grantees")), [("CanonicalUser", "proj2", "READ")])

        return self.inThread(run)


class ListingTests(ClientTestCase):
    def test_listBucketsPaging(self):
        """
        ListBuckets pages with C{MaxBuckets} and C{ContinuationToken}, and
        filters by C{Prefix} and C{BucketRegion}.
        """

        def run():
            s3 = self.client()
            names = ["page-a", "page-b", "page-c", "page-d", "other"]
            for name in names:
                s3.create_bucket(Bucket=name)
            s3.create_bucket(Bucket="page-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
            first = s3.list_buckets(MaxBuckets=2)
            self.assertEqual([b["Name"] for b in first["Buckets"]], ["other", "page-a"])
            self.assertEqual(first["Buckets"][0]["BucketRegion"], "us-east-1")
            second = s3.list_buckets(MaxBuckets=2, ContinuationToken=first["ContinuationToken"])
            self.assertEqual([b["Name"] for b in second["Buckets"]], ["page-b", "page-c"])
            pages = s3.get_paginator("list_buckets").paginate(PaginationConfig={"PageSize": 4})
            self.assertEqual(
                [b["Name"] for p in pages for b in p["Buckets"]], sorted(names + ["page-eu"])
            )
            prefixed = s3.list_buckets(Prefix="page-", MaxBuckets=10)
            self.assertEqual(prefixed["Prefix"], "page-")
            self.assertNotIn("ContinuationToken", prefixed)
            self.assertEqual(len(prefixed["Buckets"]), 5)
            regional = s3.list_buckets(BucketRegion="eu-west-1")
            self.assertEqual([(b["Name"], b["BucketRegion"]) for b in regional["Buckets"]], [("page-eu", "eu-west-1")])
            plain = s3.list_buckets()
            self.assertEqual(len(plain["Buckets"]), 6)
            self.assertNotIn("BucketRegion", plain["Buckets"][0])
            self.assertEqual(self.client("AKBOB").list_buckets(MaxBuckets=1)["Buckets"], [])
            unchecked = self.client(parameter_validation=False)
            for bad in [0, 10001]:
                self.assertEqual(errorOf(unchecked.list_buckets, MaxBuckets=bad), ("InvalidArgument", 400))
            self.assertEqual(errorOf(s3.list_buckets, ContinuationToken="!!"), ("InvalidArgument", 400))

        return self.inThread(run)

    def test_listObjectsEcho(self):
        """
        ListObjects echoes C{Prefix} and C{Marker} as sent, URL-encoded
        only under C{encoding-type=url} (which botocore asks for, and
        decodes C{Marker} of).
        """
        from botocore.handlers import set_list_objects_encoding_type_url

        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="echoes")
            for key in ["a b/1", "a b/2", "a+b/3"]:
                s3.put_object(Bucket="echoes", Key=key, Body=b"x")
            encoded = s3.list_objects(Bucket="echoes", Prefix="a b/", Marker="a b/1")
            self.assertEqual(encoded["EncodingType"], "url")
            self.assertEqual(encoded["Marker"], "a b/1")
            self.assertEqual(encoded["Prefix"], "a%20b/")
            self.assertEqual([c["Key"] for c in encoded["Contents"]], ["a b/2"])
            s3.meta.events.unregister(
                "before-parameter-build.s3.ListObjects", set_list_objects_encoding_type_url
            )
            plain = s3.list_objects(Bucket="echoes", Prefix="a b/", Marker="a b/1")
            self.assertNotIn("EncodingType", plain)
            self.assertEqual((plain["Prefix"], plain["Marker"]), ("a b/", "a b/1"))
            self.assertEqual([c["Key"] for c in plain["Contents"]], ["a b/2"])
            plus = s3.list_objects(Bucket="echoes", Prefix="a+", Marker="a+")
            self.assertEqual((plus["Prefix"], plus["Marker"]), ("a+", "a+"))
            s3.put_bucket_acl(Bucket="echoes", ACL="public-read")
            status, _, body = self.raw("GET", "/echoes?prefix=a%2B&marker=a%20b%2F1", {})
            self.assertEqual(status, 200)
            self.assertIn(b"<Prefix>a+</Prefix><Marker>a b/1</Marker>", body)
            status, _, body = self.raw("GET", "/echoes?prefix=a%2B&marker=a%20b%2F1&encoding-type=url", {})
            self.assertIn(b"<Prefix>a%2B</Prefix><Marker>a%20b/1</Marker>", body)

        return self.inThread(run)

    def test_emptyContinuationToken(self):
        """
        ListObjectsV2 with an empty C{ContinuationToken} lists from the
        start (after C{StartAfter}) and echoes the empty token.
        """

        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="tokens")
            for key in ["a", "b", "c"]:
                s3.put_object(Bucket="tokens", Key=key, Body=b"x")
            page = s3.list_objects_v2(Bucket="tokens", ContinuationToken="")
            self.assertEqual([c["Key"] for c in page["Contents"]], ["a", "b", "c"])
            self.assertEqual(page["ContinuationToken"], "")
            after = s3.list_objects_v2(Bucket="tokens", ContinuationToken="", StartAfter="a", MaxKeys=1)
            self.assertEqual([c["Key"] for c in after["Contents"]], ["b"])
            rest = s3.list_objects_v2(Bucket="tokens", ContinuationToken=after["NextContinuationToken"])
            self.assertEqual([c["Key"] for c in rest["Contents"]], ["c"])
            self.assertEqual(
                errorOf(s3.list_objects_v2, Bucket="tokens", ContinuationToken="!!!"), ("InvalidArgument", 400)
            )

        return self.inThread(run)


class ObjectHeaderTests(ClientTestCase):
    def test_nonASCIIMetadata(self):
        """
        Non-ASCII user metadata (sent as RFC 2047 encoded words, or as raw
        UTF-8 by clients that can) is kept as text and answered as one
        C{=?UTF-8?B?...?=} word, as S3 does.
        """
        import base64
        from email.header import decode_header, make_header

        def word(text):
            return "=?UTF-8?B?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="

        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="metadata")
            s3.put_bucket_acl(Bucket="metadata", ACL="public-read-write")
            s3.put_object(
                Bucket="metadata", Key="k", Body=b"x",
                Metadata={"name": word("日本語 é"), "plain": "ascii", "q": "=?utf-8?q?caf=C3=A9?="},
            )
            got = s3.head_object(Bucket="metadata", Key="k")["Metadata"]
            self.assertEqual(got, {"name": word("日本語 é"), "plain": "ascii", "q": word("café")})
            self.assertEqual(str(make_header(decode_header(got["name"]))), "日本語 é")
            status, _, _ = self.raw(
                "PUT", "/metadata/raw", {"x-amz-meta-raw": "na\u00efve \u65e5".encode("utf-8").decode("latin-1")}, b"x"
            )
            self.assertEqual(status, 200)
            self.assertEqual(
                s3.get_object(Bucket="metadata", Key="raw")["Metadata"], {"raw": word("na\u00efve \u65e5")}
            )
            copied = s3.copy_object(Bucket="metadata", Key="copy", CopySource="metadata/k")
            self.assertTrue(copied["CopyObjectResult"]["ETag"])
            self.assertEqual(s3.head_object(Bucket="metadata", Key="copy")["Metadata"]["name"], word("日本語 é"))

        return self.inThread(run)

    def test_contentEncoding(self):
        """
        C{Content-Encoding} is kept and answered as sent.
        """

        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="encodings")
            for value in ["gzip, identity", "GZip", "br,gzip"]:
                s3.put_object(Bucket="encodings", Key="k", Body=b"x", ContentEncoding=value)
                self.assertEqual(s3.head_object(Bucket="encodings", Key="k")["ContentEncoding"], value)
                self.assertEqual(s3.get_object(Bucket="encodings", Key="k")["ContentEncoding"], value)

        return self.inThread(run)


class PresignedExpiryTests(ClientTestCase):
    def test_expiryOutOfRange(self):
        """
        A version 4 presigned URL valid for less than nothing or for more
        than seven days is AuthorizationQueryParametersError; seven days
        exactly is fine.
        """
        import urllib.error
        import urllib.request

        def fetch(url):
            try:
                with urllib.request.urlopen(url) as response:
                    return response.status, dict(response.headers), response.read()
            except urllib.error.HTTPError as e:
                return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()

        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="presigned-expiry")
            s3.put_object(Bucket="presigned-expiry", Key="k", Body=b"body")
            params = {"Bucket": "presigned-expiry", "Key": "k"}
            for expires in [-1, 604801, 10 ** 10]:
                url = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)
                self.assertEqual(
                    parsedError(*fetch(url)), ("AuthorizationQueryParametersError", 400), expires
                )
            url = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=604800)
            status, _, body = fetch(url)
            self.assertEqual((status, body), (200, b"body"))

        return self.inThread(run)


class CORSTests(ClientTestCase):
    def test_preflightWithoutConfiguration(self):
        """
        A CORS preflight to a bucket without CORS configuration answers 403
        AccessForbidden "CORS is not enabled for this bucket.", as S3 does;
        one without Origin or request method is BadRequest.
        """

        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="cors")
            preflight = {"Origin": "https://example.com", "Access-Control-Request-Method": "PUT"}
            for path, resourceType in [("/cors", b"BUCKET"), ("/cors/some/key", b"OBJECT")]:
                status, headers, body = self.raw("OPTIONS", path, preflight)
                self.assertEqual(parsedError(status, headers, body), ("AccessForbidden", 403))
                root = ET.fromstring(body)
                self.assertEqual(root.findtext("Message"), "CORSResponse: CORS is not enabled for this bucket.")
                self.assertEqual(root.findtext("Method"), "PUT")
                self.assertIn(b"<ResourceType>" + resourceType + b"</ResourceType>", body)
            status, headers, body = self.raw("OPTIONS", "/no-such-bucket/k", preflight)
            self.assertEqual(parsedError(status, headers, body), ("AccessForbidden", 403))
            for headers in [{"Access-Control-Request-Method": "GET"}, {"Origin": "https://example.com"},
                            {"Origin": "https://example.com", "Access-Control-Request-Method": "PATCH"}]:
                status, answerHeaders, body = self.raw("OPTIONS", "/cors/k", headers)
                self.assertEqual(parsedError(status, answerHeaders, body), ("BadRequest", 400))
            self.assertEqual(errorOf(s3.get_bucket_cors, Bucket="cors"), ("NoSuchCORSConfiguration", 404))

        return self.inThread(run)


class VersionsTests(ClientTestCase):
    """
    A bucket that never kept versions, as versioning-aware clients see it:
    each key has one version, C{null}.
    """

    def test_listObjectVersions(self):
        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="versions")
            keys = ["a", "b/1", "b/2", "c d", "e+f"]
            for key in keys:
                s3.put_object(Bucket="versions", Key=key, Body=key.encode())
            listed = s3.list_object_versions(Bucket="versions")
            self.assertEqual([v["Key"] for v in listed["Versions"]], keys)
            self.assertEqual({(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]}, {("null", True)})
            self.assertEqual(listed["Versions"][0]["Size"], 1)
            self.assertEqual(listed["Versions"][0]["Owner"]["ID"], "proj1")
            self.assertNotIn("DeleteMarkers", listed)
            rolled = s3.list_object_versions(Bucket="versions", Delimiter="/")
            self.assertEqual([p["Prefix"] for p in rolled["CommonPrefixes"]], ["b/"])
            self.assertEqual([v["Key"] for v in rolled["Versions"]], ["a", "c d", "e+f"])
            page = s3.list_object_versions(Bucket="versions", MaxKeys=2)
            self.assertTrue(page["IsTruncated"])
            self.assertEqual((page["NextKeyMarker"], page["NextVersionIdMarker"]), ("b/1", "null"))
            pages = s3.get_paginator("list_object_versions").paginate(
                Bucket="versions", PaginationConfig={"PageSize": 2}
            )
            self.assertEqual([v["Key"] for p in pages for v in p.get("Versions", [])], keys)
            self.assertEqual(
                errorOf(s3.list_object_versions, Bucket="versions", VersionIdMarker="null"),
                ("InvalidArgument", 400),
            )
            self.assertEqual(s3.get_bucket_versioning(Bucket="versions").get("Status"), None)

        return self.inThread(run)

    def test_cleanUp(self):
        """
        Emptying a bucket the way clients do it (ListObjectVersions, then
        DeleteObjects of every version) works on a bucket that never kept
        versions, through the client and through boto3's resource API.
        """
        import boto3
        from botocore.config import Config

        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="cleanup")
            for key in ["x", "y/z", "w"]:
                s3.put_object(Bucket="cleanup", Key=key, Body=b"data")
            listed = s3.list_object_versions(Bucket="cleanup")
            objects = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in listed["Versions"]]
            objects.append({"Key": "missing", "VersionId": "null"})
            objects.append({"Key": "w", "VersionId": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"})
            result = s3.delete_objects(Bucket="cleanup", Delete={"Objects": objects})
            self.assertEqual(
                sorted((d["Key"], d["VersionId"]) for d in result["Deleted"]),
                [("missing", "null"), ("w", "null"), ("x", "null"), ("y/z", "null")],
            )
            self.assertEqual(
                [(e["Key"], e["VersionId"], e["Code"]) for e in result["Errors"]],
                [("w", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", "InvalidArgument")],
            )
            s3.put_object(Bucket="cleanup", Key="again", Body=b"data")
            resource = boto3.resource(
                "s3", endpoint_url=self.endpoint, aws_access_key_id="AKALICE",
                aws_secret_access_key="alice-secret", region_name="us-east-1",
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
            )
            bucket = resource.Bucket("cleanup")
            bucket.object_versions.delete()
            bucket.delete()
            self.assertEqual(errorOf(s3.head_bucket, Bucket="cleanup"), ("404", 404))

        return self.inThread(run)

    def test_nullVersionId(self):
        """
        Requests may name an object's version C{null}; any other version id
        is InvalidArgument.
        """

        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="null-versions")
            s3.put_object(Bucket="null-versions", Key="k", Body=b"body")
            got = s3.get_object(Bucket="null-versions", Key="k", VersionId="null")
            self.assertEqual((got["Body"].read(), got["VersionId"]), (b"body", "null"))
            self.assertEqual(s3.head_object(Bucket="null-versions", Key="k", VersionId="null")["ContentLength"], 4)
            self.assertNotIn("VersionId", s3.head_object(Bucket="null-versions", Key="k"))
            self.assertEqual(
                s3.get_object_acl(Bucket="null-versions", Key="k", VersionId="null")["Grants"][0]["Permission"],
                "FULL_CONTROL",
            )
            for call, kwargs in [
                (s3.get_object, {}),
                (s3.delete_object, {}),
                (s3.get_object_acl, {}),
            ]:
                self.assertEqual(
                    errorOf(call, Bucket="null-versions", Key="k", VersionId="abc", **kwargs),
                    ("InvalidArgument", 400),
                )
            copied = s3.copy_object(
                Bucket="null-versions", Key="copy", CopySource={"Bucket": "null-versions", "Key": "k", "VersionId": "null"}
            )
            self.assertTrue(copied["CopyObjectResult"]["ETag"])
            deleted = s3.delete_object(Bucket="null-versions", Key="k", VersionId="null")
            self.assertEqual(deleted["VersionId"], "null")
            self.assertEqual(errorOf(s3.head_object, Bucket="null-versions", Key="k"), ("404", 404))

        return self.inThread(run)


class VersioningTests(ClientTestCase):
    """
    Buckets that keep versions, through boto3.
    """

    def versionedBucket(self, s3, name):
        s3.create_bucket(Bucket=name)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})

    def test_configuration(self):
        """
        PutBucketVersioning enables and suspends; GetBucketVersioning
        answers the status (nothing for a bucket never versioned); MFA
        delete is refused, an unknown status is illegal, and only the
        owner may change it.
        """

        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="config")
            s3.put_bucket_acl(Bucket="config", ACL="public-read-write")
            self.assertNotIn("Status", s3.get_bucket_versioning(Bucket="config"))
            s3.put_bucket_versioning(Bucket="config", VersioningConfiguration={"Status": "Enabled"})
            self.assertEqual(s3.get_bucket_versioning(Bucket="config")["Status"], "Enabled")
            s3.put_bucket_versioning(
                Bucket="config", VersioningConfiguration={"Status": "Suspended", "MFADelete": "Disabled"}
            )
            self.assertEqual(s3.get_bucket_versioning(Bucket="config")["Status"], "Suspended")
            self.assertEqual(
                errorOf(s3.put_bucket_versioning, Bucket="config",
                        VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"}),
                ("AccessDenied", 403),
            )
            self.assertEqual(
                errorOf(s3.put_bucket_versioning, Bucket="config",
                        VersioningConfiguration={"Status": "Disabled"}),
                ("IllegalVersioningConfigurationException", 400),
            )
            self.assertEqual(
                errorOf(self.client("AKBOB").put_bucket_versioning, Bucket="config",
                        VersioningConfiguration={"Status": "Enabled"}),
                ("AccessDenied", 403),
            )
            self.assertEqual(s3.get_bucket_versioning(Bucket="config")["Status"], "Suspended")

        return self.inThread(run)

    def test_versions(self):
        """
        Each PUT is a new version; reads see the latest or the version
        named; a DELETE adds a delete marker; deleting the marker brings
        the object back; deleting a version removes it for good.
        """

        def run():
            s3 = self.client()
            self.versionedBucket(s3, "versioned")
            first = s3.put_object(Bucket="versioned", Key="k", Body=b"one")["VersionId"]
            second = s3.put_object(Bucket="versioned", Key="k", Body=b"two!")["VersionId"]
            self.assertNotIn(first, (second, "null"))
            got = s3.get_object(Bucket="versioned", Key="k")
            self.assertEqual((got["Body"].read(), got["VersionId"]), (b"two!", second))
            got = s3.get_object(Bucket="versioned", Key="k", VersionId=first)
            self.assertEqual((got["Body"].read(), got["VersionId"]), (b"one", first))
            self.assertEqual(s3.head_object(Bucket="versioned", Key="k", VersionId=first)["ContentLength"], 3)
            self.assertEqual(
                errorOf(s3.get_object, Bucket="versioned", Key="k", VersionId="0" * 32),
                ("NoSuchVersion", 404),
            )
            self.assertEqual(
                errorOf(s3.get_object, Bucket="versioned", Key="k", VersionId="not-a-version"),
                ("InvalidArgument", 400),
            )
            deleted = s3.delete_object(Bucket="versioned", Key="k")
            self.assertTrue(deleted["DeleteMarker"])
            marker = deleted["VersionId"]
            try:
                s3.get_object(Bucket="versioned", Key="k")
            except ClientError as e:
                headers = e.response["ResponseMetadata"]["HTTPHeaders"]
                self.assertEqual(e.response["Error"]["Code"], "NoSuchKey")
                self.assertEqual((headers["x-amz-delete-marker"], headers["x-amz-version-id"]), ("true", marker))
            else:
                self.fail("the key was not deleted")
            self.assertEqual(
                errorOf(s3.get_object, Bucket="versioned", Key="k", VersionId=marker),
                ("MethodNotAllowed", 405),
            )
            self.assertEqual(errorOf(s3.head_object, Bucket="versioned", Key="k"), ("404", 404))
            self.assertEqual(s3.list_objects_v2(Bucket="versioned")["KeyCount"], 0)
            self.assertNotIn("Contents", s3.list_objects(Bucket="versioned"))
            self.assertEqual(s3.get_object(Bucket="versioned", Key="k", VersionId=first)["Body"].read(), b"one")
            undeleted = s3.delete_object(Bucket="versioned", Key="k", VersionId=marker)
            self.assertEqual((undeleted["VersionId"], undeleted["DeleteMarker"]), (marker, True))
            self.assertEqual(s3.get_object(Bucket="versioned", Key="k")["Body"].read(), b"two!")
            removed = s3.delete_object(Bucket="versioned", Key="k", VersionId=second)
            self.assertEqual(removed["VersionId"], second)
            self.assertNotIn("DeleteMarker", removed)
            self.assertEqual(s3.get_object(Bucket="versioned", Key="k")["Body"].read(), b"one")
            self.assertEqual(
                s3.get_object_acl(Bucket="versioned", Key="k", VersionId=first)["Grants"][0]["Permission"],
                "FULL_CONTROL",
            )

        return self.inThread(run)

    def test_suspended(self):
        """
        In a suspended bucket writes are the null version, replacing the
        previous null version; the other versions stay.
        """

        def run():
            s3 = self.client()
            s3.create_bucket(Bucket="suspended")
            s3.put_object(Bucket="suspended", Key="k", Body=b"unversioned")
            s3.put_bucket_versioning(Bucket="suspended", VersioningConfiguration={"Status": "Enabled"})
            kept = s3.put_object(Bucket="suspended", Key="k", Body=b"kept")["VersionId"]
            s3.put_bucket_versioning(Bucket="suspended", VersioningConfiguration={"Status": "Suspended"})
            self.assertEqual(s3.put_object(Bucket="suspended", Key="k", Body=b"one")["VersionId"], "null")
            s3.put_object(Bucket="suspended", Key="k", Body=b"two")
            listed = s3.list_object_versions(Bucket="suspended")
            self.assertEqual(
                [(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]], [("null", True), (kept, False)]
            )
            self.assertEqual(s3.get_object(Bucket="suspended", Key="k")["Body"].read(), b"two")
            deleted = s3.delete_object(Bucket="suspended", Key="k")
            self.assertEqual((deleted["VersionId"], deleted["DeleteMarker"]), ("null", True))
            listed = s3.list_object_versions(Bucket="suspended")
            self.assertEqual([v["VersionId"] for v in listed["Versions"]], [kept])
            self.assertEqual([(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]], [("null", True)])

        return self.inThread(run)

    def test_listObjectVersions(self):
        """
        ListObjectVersions lists versions and delete markers with their
        fields, pages by key and version id markers, rolls up common
        prefixes and encodes keys on request.
        """

        def run():
            s3 = self.client()
            self.versionedBucket(s3, "listing")
            ids = {}
            for key in ["a", "a", "b/1", "c d", "c d"]:
                ids.setdefault(key, []).insert(0, s3.put_object(Bucket="listing", Key=key, Body=b"xy")["VersionId"])
            marker = s3.delete_object(Bucket="listing", Key="a")["VersionId"]
            listed = s3.list_object_versions(Bucket="listing")
            self.assertEqual(
                [(v["Key"], v["VersionId"], v["IsLatest"]) for v in listed["Versions"]],
                [("a", ids["a"][0], False), ("a", ids["a"][1], False), ("b/1", ids["b/1"][0], True),
                 ("c d", ids["c d"][0], True), ("c d", ids["c d"][1], False)],
            )
            version = listed["Versions"][0]
            self.assertEqual((version["Size"], version["StorageClass"], version["Owner"]["ID"]), (2, "STANDARD", "proj1"))
            self.assertEqual(version["ETag"], '"%s"' % hashlib.md5(b"xy").hexdigest())
            self.assertTrue(version["LastModified"])
            [deleteMarker] = listed["DeleteMarkers"]
            self.assertEqual(
                (deleteMarker["Key"], deleteMarker["VersionId"], deleteMarker["IsLatest"], deleteMarker["Owner"]["ID"]),
                ("a", marker, True, "proj1"),
            )
            page = s3.list_object_versions(Bucket="listing", MaxKeys=2)
            self.assertTrue(page["IsTruncated"])
            self.assertEqual((page["NextKeyMarker"], page["NextVersionIdMarker"]), ("a", ids["a"][0]))
            page = s3.list_object_versions(
                Bucket="listing", MaxKeys=2, KeyMarker="a", VersionIdMarker=ids["a"][0]
            )
            self.assertEqual([v["VersionId"] for v in page["Versions"]], [ids["a"][1], ids["b/1"][0]])
            pages = s3.get_paginator("list_object_versions").paginate(
                Bucket="listing", PaginationConfig={"PageSize": 1}
            )
            count = sum(len(p.get("Versions", [])) + len(p.get("DeleteMarkers", [])) for p in pages)
            self.assertEqual(count, 6)
            rolled = s3.list_object_versions(Bucket="listing", Delimiter="/", Prefix="")
            self.assertEqual([p["Prefix"] for p in rolled["CommonPrefixes"]], ["b/"])
            self.assertEqual(len(rolled["Versions"]), 4)
            encoded = s3.list_object_versions(Bucket="listing", Prefix="c ", EncodingType="url")
            self.assertEqual({v["Key"] for v in encoded["Versions"]}, {"c%20d"})
            self.assertEqual(
                errorOf(s3.list_object_versions, Bucket="listing", KeyMarker="a", VersionIdMarker="bad"),
                ("InvalidArgument", 400),
            )

        return self.inThread(run)

    def test_deleteObjectsAndCopies(self):
        """
        DeleteObjects answers delete markers as S3 does; CopyObject and
        UploadPartCopy copy a source version; CompleteMultipartUpload
        makes a version.
        """

        def run():
            s3 = self.client()
            self.versionedBucket(s3, "batch")
            first = s3.put_object(Bucket="batch", Key="k", Body=b"first")["VersionId"]
            second = s3.put_object(Bucket="batch", Key="k", Body=b"second")["VersionId"]
            copied = s3.copy_object(
                Bucket="batch", Key="copy", CopySource={"Bucket": "batch", "Key": "k", "VersionId": first}
            )
            self.assertEqual(copied["CopySourceVersionId"], first)
            self.assertNotIn(copied["VersionId"], (first, second, "null"))
            self.assertEqual(s3.get_object(Bucket="batch", Key="copy")["Body"].read(), b"first")
            restored = s3.copy_object(
                Bucket="batch", Key="k", CopySource={"Bucket": "batch", "Key": "k", "VersionId": first}
            )
            self.assertEqual(s3.get_object(Bucket="batch", Key="k")["Body"].read(), b"first")
            self.assertEqual(
                errorOf(s3.copy_object, Bucket="batch", Key="x",
                        CopySource={"Bucket": "batch", "Key": "k", "VersionId": "0" * 32}),
                ("NoSuchVersion", 404),
            )
            upload = s3.create_multipart_upload(Bucket="batch", Key="mp")["UploadId"]
            part = s3.upload_part_copy(
                Bucket="batch", Key="mp", UploadId=upload, PartNumber=1,
                CopySource={"Bucket": "batch", "Key": "k", "VersionId": second},
            )
            self.assertEqual(part["CopySourceVersionId"], second)
            done = s3.complete_multipart_upload(
                Bucket="batch", Key="mp", UploadId=upload,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]},
            )
            self.assertTrue(done["VersionId"])
            self.assertEqual(s3.get_object(Bucket="batch", Key="mp")["Body"].read(), b"second")
            result = s3.delete_objects(Bucket="batch", Delete={"Objects": [{"Key": "copy"}, {"Key": "k", "VersionId": second}]})
            byKey = {d["Key"]: d for d in result["Deleted"]}
            self.assertTrue(byKey["copy"]["DeleteMarker"])
            markerId = byKey["copy"]["DeleteMarkerVersionId"]
            self.assertNotIn("VersionId", byKey["copy"])
            self.assertEqual(byKey["k"]["VersionId"], second)
            self.assertNotIn("DeleteMarker", byKey["k"])
            result = s3.delete_objects(
                Bucket="batch", Delete={"Objects": [{"Key": "copy", "VersionId": markerId}]}
            )
            self.assertEqual(
                result["Deleted"],
                [{"Key": "copy", "VersionId": markerId, "DeleteMarker": True, "DeleteMarkerVersionId": markerId}],
            )
            quiet = s3.delete_objects(Bucket="batch", Delete={"Objects": [{"Key": "mp"}], "Quiet": True})
            self.assertNotIn("Deleted", quiet)
            listed = s3.list_object_versions(Bucket="batch")
            self.assertEqual(
                sorted(v["VersionId"] for v in listed["Versions"] if v["Key"] == "k"),
                sorted([first, restored["VersionId"]]),
            )
            everything = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                          for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])]
            s3.delete_objects(Bucket="batch", Delete={"Objects": everything})
            self.assertNotIn("Versions", s3.list_object_versions(Bucket="batch"))
            s3.delete_bucket(Bucket="batch")

        return self.inThread(run)
