# -*- test-case-name: tests.auth.test_signer -*-
"""
Tests for L{nova.auth.signer}: requests are signed by the clients' own
signers (botocore, boto 2) or taken from the AWS documentation's worked
examples, and verified by ours.
"""

import base64
import calendar
import datetime
import email.utils
import hashlib
import hmac
import time
from types import SimpleNamespace
from urllib.parse import parse_qsl, quote, urlsplit

import attr

from botocore import auth as botoauth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import boto.auth
import boto.utils
from boto.ec2.connection import EC2Connection
from boto.ec2.regioninfo import RegionInfo
from boto.s3.connection import (
    OrdinaryCallingFormat,
    S3Connection,
    SubdomainCallingFormat,
)

from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.test.requesthelper import DummyRequest

from nova.auth import signer
from nova.auth.signer import (
    AuthFailure,
    ChunkDecoder,
    HTTPRequestParts,
    IncompleteBody,
    InvalidChunk,
    MissingAuthParameter,
    RequestExpired,
    S3Verification,
    SignatureDoesNotMatch,
    ec2AccessKey,
    partsFromTwistedRequest,
    s3AccessKey,
    splitAccessKey,
    verifyEC2,
    verifyS3,
)
from nova.exception import NovaError, errorFromCode


ACCESS = "7b2d1f0e-access"
SECRET = "s3cr3t/key+with=odd~chars"
NOW = calendar.timegm((2024, 3, 1, 12, 0, 0))
EC2_URL = "http://127.0.0.1:8773/services/Cloud/"
S3_URL = "http://127.0.0.1:3333"

# The AWS documentation's examples (Signature Version 4, Amazon S3).
AWS_ACCESS = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_NOW = calendar.timegm((2013, 5, 24, 0, 0, 0))
AWS_SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
AWS_CHUNK_SIGNATURES = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
]


class FrozenDatetime(datetime.datetime):
    """
    C{datetime.datetime} whose C{utcnow} is L{NOW}.
    """

    @classmethod
    def utcnow(cls):
        return cls.fromtimestamp(NOW, datetime.timezone.utc).replace(tzinfo=None)


class FakeTime:
    """
    The parts of the C{time} module that the clients' signers use, frozen.
    """

    def __init__(self, now):
        self.now = now

    def time(self):
        return self.now

    def gmtime(self, seconds=None):
        return time.gmtime(self.now if seconds is None else seconds)

    def strftime(self, format, when=None):
        return time.strftime(format, self.gmtime() if when is None else when)


def flipByte(text, index):
    """
    Change one character of C{text} to another allowed in the same place.
    """
    old = text[index]
    new = "b" if old != "b" else "c"
    if old.isdigit():
        new = "7" if old != "7" else "8"
    return text[:index] + new + text[index + 1:]


def paramsOf(parts):
    """
    Decode the parameters as C{twisted.web} does for C{request.args}.
    """
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    if parts.body:
        params.update(parse_qsl(parts.body.decode("utf-8"), keep_blank_values=True))
    return params


def partsFromPrepared(prepared, body=True):
    """
    Build L{HTTPRequestParts} from a prepared botocore request as the
    server would receive it.
    """
    split = urlsplit(prepared.url)
    host = split.netloc
    headers = {}
    for name, value in prepared.headers.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        headers[name.lower()] = value
    headers["host"] = host
    data = prepared.body
    if isinstance(data, str):
        data = data.encode("utf-8")
    return HTTPRequestParts(
        method=prepared.method,
        host=host,
        path=split.path or "/",
        query=split.query,
        headers=headers,
        body=(data or b"") if body else None,
    )


def partsFromBoto(request):
    """
    Build L{HTTPRequestParts} from a signed boto 2 C{HTTPRequest}.
    """
    path, _, query = request.path.partition("?")
    host = request.host
    if request.port not in (80, 443) and ":" not in host:
        host = f"{host}:{request.port}"
    headers = {name.lower(): str(value) for name, value in request.headers.items()}
    headers["host"] = host
    data = request.body
    if isinstance(data, str):
        data = data.encode("utf-8")
    return HTTPRequestParts(
        method=request.method,
        host=host,
        path=path,
        query=query,
        headers=headers,
        body=data or b"",
    )


class BotocoreMixin:
    """
    Sign with botocore at a frozen time.
    """

    def freezeBotocore(self, when=NOW):
        self.patch(
            botoauth,
            "get_current_datetime",
            lambda remove_tzinfo=True: datetime.datetime.fromtimestamp(
                when, datetime.timezone.utc
            ).replace(tzinfo=None),
        )
        self.patch(botoauth, "time", FakeTime(when))
        self.patch(
            botoauth,
            "formatdate",
            lambda timeval=None, localtime=False, usegmt=False: (
                email.utils.formatdate(
                    when if timeval is None else timeval, localtime, usegmt
                )
            ),
        )

    def credentials(self, access=ACCESS, secret=SECRET):
        return Credentials(access, secret)

    def sign(self, auth, method, url, body=True, **kwargs):
        request = AWSRequest(method=method, url=url, **kwargs)
        auth.add_auth(request)
        return partsFromPrepared(request.prepare(), body=body)


class ExceptionTests(SynchronousTestCase):
    """
    The errors carry EC2 and S3 codes.
    """

    def test_codes(self):
        """
        Each error is a L{NovaError} with a distinct C{code} and the EC2 and
        S3 codes and statuses AWS uses.
        """
        expected = [
            (AuthFailure, "AuthFailure", 401, "InvalidAccessKeyId", 403),
            (SignatureDoesNotMatch, "SignatureDoesNotMatch", 403,
             "SignatureDoesNotMatch", 403),
            (RequestExpired, "RequestExpired", 400, "AccessDenied", 403),
            (MissingAuthParameter, "MissingParameter", 400, "AccessDenied", 403),
            (IncompleteBody, "InvalidRequest", 400, "IncompleteBody", 400),
            (InvalidChunk, "SignatureDoesNotMatch", 403,
             "SignatureDoesNotMatch", 403),
        ]
        codes = set()
        for cls, ec2Code, httpStatus, s3Code, s3Status in expected:
            self.assertTrue(issubclass(cls, NovaError))
            self.assertEqual(
                (cls.ec2Code, cls.httpStatus, cls.s3Code, cls.s3Status),
                (ec2Code, httpStatus, s3Code, s3Status),
            )
            codes.add(cls.code)
        self.assertEqual(len(codes), len(expected))
        self.assertTrue(issubclass(InvalidChunk, SignatureDoesNotMatch))

    def test_override(self):
        """
        An instance may carry the S3 code that applies to it, and its
        message defaults to the class docstring's first line.
        """
        error = RequestExpired(s3Code="RequestTimeTooSkewed")
        self.assertEqual(error.s3Code, "RequestTimeTooSkewed")
        self.assertEqual(error.s3Status, 403)
        self.assertEqual(str(error), "Request has expired.")
        self.assertEqual(RequestExpired.s3Code, "AccessDenied")

    def test_rpcRoundTrip(self):
        """
        The errors are rebuilt from their code on the far side of RPC.
        """
        error = errorFromCode("SignatureDoesNotMatch", "no")
        self.assertIsInstance(error, SignatureDoesNotMatch)
        self.assertEqual(error.s3Code, "SignatureDoesNotMatch")


class AccessKeyTests(SynchronousTestCase):
    """
    L{splitAccessKey}.
    """

    def test_plain(self):
        self.assertEqual(splitAccessKey("abc"), ("abc", None))

    def test_project(self):
        self.assertEqual(splitAccessKey("abc:proj"), ("abc", "proj"))

    def test_emptyProject(self):
        self.assertEqual(splitAccessKey("abc:"), ("abc", None))

    def test_empty(self):
        self.assertRaises(AuthFailure, splitAccessKey, ":proj")
        self.assertRaises(AuthFailure, splitAccessKey, "")


class PartsFromTwistedRequestTests(SynchronousTestCase):
    """
    L{partsFromTwistedRequest}.
    """

    def test_dummyRequest(self):
        """
        The method, raw path and query, lower-cased headers (repeated ones
        joined with a comma) and the given body are kept.
        """
        request = DummyRequest([b""])
        request.method = b"POST"
        request.uri = b"/services/Cloud/a%20b?Action=X&v=a+b%2F"
        request.requestHeaders.addRawHeader(b"Host", b"LocalHost:8773")
        request.requestHeaders.addRawHeader(b"X-Amz-Meta-Tag", b"one")
        request.requestHeaders.addRawHeader(b"X-Amz-Meta-Tag", b" two ")
        parts = partsFromTwistedRequest(request, b"k=v")
        self.assertEqual(
            parts,
            HTTPRequestParts(
                method="POST",
                host="LocalHost:8773",
                path="/services/Cloud/a%20b",
                query="Action=X&v=a+b%2F",
                headers={"host": "LocalHost:8773", "x-amz-meta-tag": "one,two"},
                body=b"k=v",
            ),
        )

    def test_absoluteURI(self):
        """
        An absolute-form request target keeps only its path and query.
        """
        request = DummyRequest([b""])
        request.uri = b"http://example.com:3333/bucket/key?acl"
        parts = partsFromTwistedRequest(request)
        self.assertEqual((parts.path, parts.query), ("/bucket/key", "acl"))
        self.assertIsNone(parts.body)

    def test_frozen(self):
        parts = HTTPRequestParts(method="GET", host="h", path="/")
        self.assertRaises(attr.exceptions.FrozenInstanceError,
                          setattr, parts, "path", "/x")


class _Capture(Resource):
    isLeaf = True
    parts = None

    def render(self, request):
        self.parts = partsFromTwistedRequest(request, request.content.read())
        return b"ok"


def throughTwisted(testCase, method, target, headers, body=b""):
    """
    Send a raw HTTP request through a real C{twisted.web} server in memory
    and return what L{partsFromTwistedRequest} made of it.
    """
    capture = _Capture()
    channel = Site(capture).buildProtocol(None)
    transport = StringTransport()
    channel.makeConnection(transport)
    lines = [f"{method} {target} HTTP/1.1"]
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    if body and "Content-Length" not in headers:
        lines.append(f"Content-Length: {len(body)}")
    channel.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body)
    testCase.assertIsNotNone(capture.parts, transport.value())
    channel.connectionLost(None)
    return capture.parts


class EC2SigV2Tests(BotocoreMixin, SynchronousTestCase):
    """
    EC2 signature version 2.
    """

    def setUp(self):
        self.freezeBotocore()

    def signed(self, access=ACCESS, method="POST", **params):
        params.setdefault("Action", "DescribeInstances")
        params.setdefault("Version", "2010-08-31")
        auth = botoauth.SigV2Auth(self.credentials(access))
        if method == "POST":
            return self.sign(auth, "POST", EC2_URL, data=params)
        return self.sign(auth, "GET", EC2_URL, params=params)

    def test_botocorePost(self):
        parts = self.signed(**{"InstanceId.1": "i-0000 01/ü"})
        params = paramsOf(parts)
        self.assertEqual(params["SignatureMethod"], "HmacSHA256")
        self.assertEqual(ec2AccessKey(parts, params), ACCESS)
        self.assertIsNone(verifyEC2(parts, params, SECRET, NOW))

    def test_botocoreGet(self):
        parts = self.signed(method="GET", Filter="a b+c")
        self.assertIsNone(verifyEC2(parts, paramsOf(parts), SECRET, NOW))

    def test_throughTwisted(self):
        """
        A signed POST sent over HTTP to a real C{twisted.web} server still
        verifies from what the server received.
        """
        signed = self.signed(**{"InstanceId.1": "i-1 2"})
        parts = throughTwisted(
            self, "POST", signed.path, {"Host": signed.host,
                                        "Content-Type": "application/x-www-form-urlencoded"},
            signed.body,
        )
        self.assertIsNone(verifyEC2(parts, paramsOf(parts), SECRET, NOW))

    def test_accessProject(self):
        parts = self.signed(access=ACCESS + ":myproject")
        params = paramsOf(parts)
        key = ec2AccessKey(parts, params)
        self.assertEqual(splitAccessKey(key), (ACCESS, "myproject"))
        verifyEC2(parts, params, SECRET, NOW)

    def test_wrongSecret(self):
        parts = self.signed()
        self.assertRaises(SignatureDoesNotMatch, verifyEC2, parts,
                          paramsOf(parts), SECRET + "x", NOW)

    def test_tamperedMethod(self):
        parts = self.signed(method="GET")
        self.assertRaises(SignatureDoesNotMatch, verifyEC2,
                          attr.evolve(parts, method="POST"), paramsOf(parts),
                          SECRET, NOW)

    def test_tamperedPath(self):
        parts = self.signed()
        self.assertRaises(SignatureDoesNotMatch, verifyEC2,
                          attr.evolve(parts, path="/services/Clouc/"),
                          paramsOf(parts), SECRET, NOW)

    def test_tamperedHost(self):
        parts = self.signed()
        self.assertRaises(SignatureDoesNotMatch, verifyEC2,
                          attr.evolve(parts, host="127.0.0.2:8773"),
                          paramsOf(parts), SECRET, NOW)

    def test_tamperedBody(self):
        """
        Any one changed byte of the form body is refused.
        """
        parts = self.signed(**{"InstanceId.1": "i-00000001"})
        body = parts.body.decode("ascii")
        for index in range(len(body)):
            if body[index] in "&=%":
                continue
            changed = attr.evolve(parts, body=flipByte(body, index).encode("ascii"))
            params = paramsOf(changed)
            try:
                verifyEC2(changed, params, SECRET, NOW)
            except (SignatureDoesNotMatch, MissingAuthParameter, AuthFailure,
                    RequestExpired):
                pass
            else:
                self.fail(f"changing byte {index} of {body!r} was accepted")

    def test_extraParameter(self):
        parts = self.signed()
        params = paramsOf(parts)
        params["InstanceId.1"] = "i-1"
        self.assertRaises(SignatureDoesNotMatch, verifyEC2, parts, params,
                          SECRET, NOW)

    def test_timestampSkew(self):
        parts = self.signed()
        params = paramsOf(parts)
        verifyEC2(parts, params, SECRET, NOW + 900)
        verifyEC2(parts, params, SECRET, NOW - 900)
        self.assertRaises(RequestExpired, verifyEC2, parts, params, SECRET,
                          NOW + 901)
        self.assertRaises(RequestExpired, verifyEC2, parts, params, SECRET,
                          NOW - 901)
        self.assertRaises(RequestExpired, verifyEC2, parts, params, SECRET,
                          NOW + 60, maxSkew=30)

    def test_tamperedTimestamp(self):
        parts = self.signed()
        params = paramsOf(parts)
        params["Timestamp"] = "2024-03-01T12:00:01Z"
        self.assertRaises(SignatureDoesNotMatch, verifyEC2, parts, params,
                          SECRET, NOW)

    def expiresParts(self, expires):
        """
        A request signed by botocore's version 2 signer with C{Expires}
        instead of C{Timestamp}.
        """
        auth = botoauth.SigV2Auth(self.credentials())
        params = {
            "Action": "DescribeInstances",
            "AWSAccessKeyId": ACCESS,
            "SignatureVersion": "2",
            "SignatureMethod": "HmacSHA256",
            "Expires": expires,
        }
        request = AWSRequest(method="GET", url=EC2_URL, params=params)
        _, signature = auth.calc_signature(request, params)
        params["Signature"] = signature
        return partsFromPrepared(
            AWSRequest(method="GET", url=EC2_URL, params=params).prepare()
        )

    def test_expires(self):
        parts = self.expiresParts("2024-03-01T12:30:00Z")
        params = paramsOf(parts)
        verifyEC2(parts, params, SECRET, NOW)
        verifyEC2(parts, params, SECRET, NOW + 1800)
        self.assertRaises(RequestExpired, verifyEC2, parts, params, SECRET,
                          NOW + 1801)

    def test_missingParameters(self):
        parts = self.signed()
        params = paramsOf(parts)
        for name in ("Signature", "SignatureMethod", "SignatureVersion"):
            partial = dict(params)
            del partial[name]
            self.assertRaises(MissingAuthParameter, verifyEC2, parts, partial,
                              SECRET, NOW)
        partial = dict(params)
        del partial["Timestamp"]
        self.assertRaises(MissingAuthParameter, verifyEC2, parts, partial,
                          SECRET, NOW)
        partial = dict(params)
        del partial["AWSAccessKeyId"]
        self.assertRaises(AuthFailure, ec2AccessKey, parts, partial)
        self.assertRaises(AuthFailure, verifyEC2, parts, partial, SECRET, NOW)

    def test_unsupported(self):
        parts = self.signed()
        params = paramsOf(parts)
        self.assertRaises(AuthFailure, verifyEC2, parts,
                          dict(params, SignatureVersion="1"), SECRET, NOW)
        self.assertRaises(AuthFailure, verifyEC2, parts,
                          dict(params, SignatureMethod="HmacMD5"), SECRET, NOW)
        self.assertRaises(AuthFailure, verifyEC2, parts,
                          dict(params, Timestamp="yesterday"), SECRET, NOW)


class Boto2EC2Tests(SynchronousTestCase):
    """
    EC2 signatures as boto 2's EC2 connection makes them: version 2 with
    C{QuerySignatureV2AuthHandler} (which signs the host name without the
    port), and version 4 with C{HmacAuthV4Handler}, its default (which takes
    the scope's service and region from the host name).
    """

    def setUp(self):
        self.patch(boto.utils, "time", FakeTime(NOW))
        self.patch(boto.auth, "formatdate",
                   lambda usegmt=False: email.utils.formatdate(NOW, usegmt=usegmt))
        self.patch(boto.auth, "datetime", SimpleNamespace(datetime=FrozenDatetime))

    def signed(self, verb="POST", access=ACCESS, sha1=False, v4=False,
               endpoint="127.0.0.1", **params):
        connection = EC2Connection(
            access,
            SECRET,
            is_secure=False,
            port=8773,
            path="/services/Cloud",
            region=RegionInfo(name="nova", endpoint=endpoint),
        )
        if not v4:
            connection._auth_handler = boto.auth.QuerySignatureV2AuthHandler(
                connection.host, boto.config, connection.provider)
        if sha1:
            connection._auth_handler._hmac_256 = None
        captured = []
        connection._mexe = lambda request, *a, **kw: captured.append(request)
        connection.make_request("DescribeInstances", params, "/", verb)
        [request] = captured
        request.authorize(connection=connection)
        return partsFromBoto(request)

    def test_post(self):
        parts = self.signed(**{"InstanceId.1": "i-1 2", "Name": "ü~*"})
        params = paramsOf(parts)
        self.assertEqual(parts.host, "127.0.0.1:8773")
        self.assertEqual(params["SignatureMethod"], "HmacSHA256")
        self.assertEqual(ec2AccessKey(parts, params), ACCESS)
        verifyEC2(parts, params, SECRET, NOW)

    def test_get(self):
        parts = self.signed(verb="GET", Filter="x y")
        self.assertTrue(parts.query)
        verifyEC2(parts, paramsOf(parts), SECRET, NOW)

    def test_hmacSHA1(self):
        parts = self.signed(sha1=True)
        params = paramsOf(parts)
        self.assertEqual(params["SignatureMethod"], "HmacSHA1")
        verifyEC2(parts, params, SECRET, NOW)
        self.assertRaises(SignatureDoesNotMatch, verifyEC2, parts,
                          dict(params, SignatureMethod="HmacSHA256"), SECRET, NOW)

    def test_accessProject(self):
        parts = self.signed(access="someone:proj")
        params = paramsOf(parts)
        self.assertEqual(splitAccessKey(ec2AccessKey(parts, params)),
                         ("someone", "proj"))
        verifyEC2(parts, params, SECRET, NOW)

    def test_tampered(self):
        parts = self.signed(**{"InstanceId.1": "i-1"})
        params = paramsOf(parts)
        self.assertRaises(SignatureDoesNotMatch, verifyEC2, parts,
                          dict(params, **{"InstanceId.1": "i-2"}), SECRET, NOW)
        self.assertRaises(SignatureDoesNotMatch, verifyEC2,
                          attr.evolve(parts, method="GET"), params, SECRET, NOW)
        self.assertRaises(RequestExpired, verifyEC2, parts, params, SECRET,
                          NOW + 3600)

    def test_sigV4(self):
        """
        boto 2's default EC2 signer, version 4, scoped to the service and
        region it reads from the host name.
        """
        for endpoint in ("127.0.0.1", "nova.region1.example.com"):
            parts = self.signed(v4=True, endpoint=endpoint,
                                **{"InstanceId.1": "i-1 2/ü"})
            self.assertTrue(parts.headers["authorization"].startswith("AWS4-HMAC-SHA256"))
            params = paramsOf(parts)
            self.assertEqual(ec2AccessKey(parts, params), ACCESS)
            verifyEC2(parts, params, SECRET, NOW)
            body = parts.body.replace(b"i-1", b"i-2")
            self.assertRaises(SignatureDoesNotMatch, verifyEC2,
                              attr.evolve(parts, body=body), params, SECRET, NOW)
            self.assertRaises(RequestExpired, verifyEC2, parts, params, SECRET,
                              NOW + 901)

    def test_sigV4Get(self):
        parts = self.signed(v4=True, verb="GET", Filter="x y")
        self.assertTrue(parts.query)
        verifyEC2(parts, paramsOf(parts), SECRET, NOW)
        self.assertRaises(SignatureDoesNotMatch, verifyEC2,
                          attr.evolve(parts, query=parts.query.replace("x", "z")),
                          paramsOf(parts), SECRET, NOW)


def signWeak(params, version, secret=SECRET):
    """
    Sign EC2 parameters with signature version 0 or 1 as the AWS
    documentation of the time describes them (HMAC-SHA1 of C{Action} and
    C{Timestamp}; of every name and value, sorted case-insensitively),
    independently of the server's signer.

    @return: the parameters with the signature added.
    """
    signed = dict(params, AWSAccessKeyId=ACCESS, SignatureVersion=version)
    signed.setdefault("Timestamp", "2024-03-01T12:00:00Z")
    if version == "0":
        text = signed["Action"] + signed["Timestamp"]
    else:
        text = "".join(name + signed[name] for name in sorted(signed, key=str.lower))
    mac = hmac.new(secret.encode(), text.encode("utf-8"), hashlib.sha1)
    signed["Signature"] = base64.b64encode(mac.digest()).decode("ascii")
    return signed


class EC2WeakSignatureTests(SynchronousTestCase):
    """
    EC2 signature versions 0 and 1, as Cactus accepted them, only with
    C{weakSignatures}.
    """

    parts = HTTPRequestParts("POST", "127.0.0.1:8773", "/services/Cloud/")

    def setUp(self):
        self.patch(boto.utils, "time", FakeTime(NOW))

    def verify(self, params, **kwargs):
        return verifyEC2(self.parts, params, SECRET, NOW, weakSignatures=True, **kwargs)

    def test_disabledByDefault(self):
        """
        Without C{weakSignatures}, a version 0 or 1 request is AuthFailure
        saying those versions are disabled, whatever its signature.
        """
        for version in ("0", "1"):
            params = signWeak({"Action": "DescribeInstances"}, version)
            error = self.assertRaises(
                AuthFailure, verifyEC2, self.parts, params, SECRET, NOW
            )
            self.assertIn(f"Signature version {version} is disabled", str(error))
            self.assertIn("weak", str(error))
            self.assertEqual((error.ec2Code, error.httpStatus), ("AuthFailure", 401))

    def test_version0(self):
        """
        Version 0 signs Action and Timestamp: only they are checked.
        """
        params = signWeak({"Action": "DescribeInstances", "Version": "2010-08-31"}, "0")
        self.assertIsNone(self.verify(params))
        self.assertIsNone(self.verify(dict(params, Version="other")))
        self.assertRaises(SignatureDoesNotMatch, self.verify, dict(params, Action="RunInstances"))
        self.assertRaises(
            SignatureDoesNotMatch, self.verify, dict(params, Timestamp="2024-03-01T12:00:01Z")
        )
        self.assertRaises(
            SignatureDoesNotMatch,
            verifyEC2, self.parts, params, SECRET + "x", NOW, weakSignatures=True,
        )

    def test_version0NeedsTimestamp(self):
        params = signWeak({"Action": "DescribeInstances"}, "0")
        del params["Timestamp"]
        params["Expires"] = "2024-03-01T12:30:00Z"
        self.assertRaises(MissingAuthParameter, self.verify, params)

    def test_version1(self):
        """
        Version 1 signs every parameter's name and value.
        """
        params = signWeak(
            {"Action": "DescribeInstances", "Version": "2010-08-31", "InstanceId.1": "i-1 ü",
             "aLower": "x"},
            "1",
        )
        self.assertIsNone(self.verify(params))
        self.assertRaises(SignatureDoesNotMatch, self.verify, dict(params, Version="other"))
        self.assertRaises(SignatureDoesNotMatch, self.verify, dict(params, Extra="1"))
        self.assertRaises(
            SignatureDoesNotMatch, self.verify, dict(params, SignatureMethod="HmacSHA1")
        )

    def test_version1Boto2(self):
        """
        boto 2's C{QuerySignatureV1AuthHandler} signs requests the server
        accepts.
        """
        connection = EC2Connection(
            ACCESS, SECRET, is_secure=False, port=8773, path="/services/Cloud",
            region=RegionInfo(name="nova", endpoint="127.0.0.1"),
        )
        connection._auth_handler = boto.auth.QuerySignatureV1AuthHandler(
            connection.host, boto.config, connection.provider
        )
        captured = []
        connection._mexe = lambda request, *a, **kw: captured.append(request)
        connection.make_request("DescribeInstances", {"InstanceId.1": "i-1 2"}, "/", "POST")
        [request] = captured
        request.authorize(connection=connection)
        parts = partsFromBoto(request)
        params = paramsOf(parts)
        self.assertEqual(params["SignatureVersion"], "1")
        verifyEC2(parts, params, SECRET, NOW, weakSignatures=True)
        self.assertRaises(AuthFailure, verifyEC2, parts, params, SECRET, NOW)
        self.assertRaises(
            SignatureDoesNotMatch, verifyEC2, parts, dict(params, **{"InstanceId.1": "i-2"}),
            SECRET, NOW, weakSignatures=True,
        )

    def test_timeAndMethod(self):
        """
        The timestamp is checked as for version 2; the method, if given,
        is HmacSHA1.
        """
        for version in ("0", "1"):
            params = signWeak({"Action": "DescribeInstances"}, version)
            self.assertRaises(
                RequestExpired, verifyEC2, self.parts, params, SECRET, NOW + 901,
                weakSignatures=True,
            )
            self.assertRaises(
                AuthFailure, self.verify, dict(params, SignatureMethod="HmacSHA256")
            )

    def test_otherVersions(self):
        params = signWeak({"Action": "DescribeInstances"}, "1")
        for version in ("3", "01", ""):
            self.assertRaises(
                (AuthFailure, MissingAuthParameter), self.verify,
                dict(params, SignatureVersion=version),
            )


class EC2SigV4Tests(BotocoreMixin, SynchronousTestCase):
    """
    EC2 signature version 4, in the header and in the query string.
    """

    def setUp(self):
        self.freezeBotocore()

    def signed(self, access=ACCESS, url=EC2_URL, region="nova", service="ec2",
               **params):
        params.setdefault("Action", "DescribeInstances")
        params.setdefault("Version", "2010-08-31")
        auth = botoauth.SigV4Auth(self.credentials(access), service, region)
        return self.sign(auth, "POST", url, data=params)

    def presigned(self, expires=300, access=ACCESS, **params):
        params.setdefault("Action", "DescribeInstances")
        auth = botoauth.SigV4QueryAuth(self.credentials(access), "ec2", "nova",
                                       expires=expires)
        return self.sign(auth, "GET", EC2_URL, params=params)

    def test_header(self):
        parts = self.signed(**{"InstanceId.1": "i-1 /ü"})
        params = paramsOf(parts)
        self.assertTrue(parts.headers["authorization"].startswith("AWS4-HMAC-SHA256"))
        self.assertEqual(ec2AccessKey(parts, params), ACCESS)
        self.assertIsNone(verifyEC2(parts, params, SECRET, NOW))

    def test_throughTwisted(self):
        signed = self.signed(**{"InstanceId.1": "i-1 2"})
        headers = {"Host": signed.host, "X-Amz-Date": signed.headers["x-amz-date"],
                   "Authorization": signed.headers["authorization"]}
        parts = throughTwisted(self, "POST", signed.path, headers, signed.body)
        verifyEC2(parts, paramsOf(parts), SECRET, NOW)

    def test_hostWithDefaultPort(self):
        """
        botocore signs the host without the port when the port is the
        scheme's default, and with it otherwise.
        """
        parts = self.signed(url="http://ec2.example.com/services/Cloud/")
        self.assertEqual(parts.host, "ec2.example.com")
        verifyEC2(parts, paramsOf(parts), SECRET, NOW)
        parts = self.signed()
        self.assertRaises(SignatureDoesNotMatch, verifyEC2,
                          attr.evolve(parts, host="127.0.0.1"), paramsOf(parts),
                          SECRET, NOW)

    def test_accessProject(self):
        parts = self.signed(access=ACCESS + ":proj")
        params = paramsOf(parts)
        self.assertEqual(ec2AccessKey(parts, params), ACCESS + ":proj")
        verifyEC2(parts, params, SECRET, NOW)

    def test_wrongSecret(self):
        parts = self.signed()
        self.assertRaises(SignatureDoesNotMatch, verifyEC2, parts,
                          paramsOf(parts), "other", NOW)

    def test_tamperedBody(self):
        """
        One changed byte anywhere in the body is refused: version 4 signs
        the body's hash.
        """
        parts = self.signed(**{"InstanceId.1": "i-00000001"})
        for index in range(len(parts.body)):
            body = bytearray(parts.body)
            body[index] ^= 0x01
            changed = attr.evolve(parts, body=bytes(body))
            self.assertRaises(SignatureDoesNotMatch, verifyEC2, changed,
                              paramsOf(changed), SECRET, NOW)

    def test_tamperedRequestLine(self):
        parts = self.signed()
        params = paramsOf(parts)
        for changed in [
            attr.evolve(parts, method="PUT"),
            attr.evolve(parts, path="/services/Cloud"),
            attr.evolve(parts, path="/services/cloud/"),
            attr.evolve(parts, query="Action=RunInstances"),
            attr.evolve(parts, host="127.0.0.1:8774"),
        ]:
            self.assertRaises(SignatureDoesNotMatch, verifyEC2, changed, params,
                              SECRET, NOW)

    def test_tamperedDate(self):
        parts = self.signed()
        headers = dict(parts.headers, **{"x-amz-date": "20240301T120001Z"})
        self.assertRaises(SignatureDoesNotMatch, verifyEC2,
                          attr.evolve(parts, headers=headers), paramsOf(parts),
                          SECRET, NOW)

    def test_tamperedSignature(self):
        parts = self.signed()
        authorization = parts.headers["authorization"]
        for index in (len(authorization) - 1, len(authorization) - 30):
            headers = dict(parts.headers, authorization=flipByte(authorization, index))
            self.assertRaises(SignatureDoesNotMatch, verifyEC2,
                              attr.evolve(parts, headers=headers),
                              paramsOf(parts), SECRET, NOW)

    def test_skew(self):
        parts = self.signed()
        params = paramsOf(parts)
        verifyEC2(parts, params, SECRET, NOW + 900)
        self.assertRaises(RequestExpired, verifyEC2, parts, params, SECRET,
                          NOW + 901)
        self.assertRaises(RequestExpired, verifyEC2, parts, params, SECRET,
                          NOW - 901)

    def test_dateHeader(self):
        """
        botocore signs with the C{Date} header when the request has one;
        the signed timestamp is then the C{Date}'s.
        """
        auth = botoauth.SigV4Auth(self.credentials(), "ec2", "nova")
        parts = self.sign(auth, "POST", EC2_URL, data={"Action": "X"},
                          headers={"Date": "anything"})
        self.assertNotIn("x-amz-date", parts.headers)
        verifyEC2(parts, paramsOf(parts), SECRET, NOW)
        self.assertRaises(RequestExpired, verifyEC2, parts, paramsOf(parts),
                          SECRET, NOW + 1000)

    def test_scope(self):
        """
        Any region and service may scope an EC2 signature (boto 2 reads them
        from the host name), but the scope is signed: changing it after
        signing is refused.
        """
        parts = self.signed(service="nova", region="cloud1")
        verifyEC2(parts, paramsOf(parts), SECRET, NOW)
        authorization = parts.headers["authorization"]
        for old, new in [("/cloud1/", "/cloud2/"), ("/nova/", "/ec2/")]:
            headers = dict(parts.headers,
                           authorization=authorization.replace(old, new))
            self.assertRaises(SignatureDoesNotMatch, verifyEC2,
                              attr.evolve(parts, headers=headers),
                              paramsOf(parts), SECRET, NOW)

    def test_malformedHeader(self):
        parts = self.signed()
        for value in [
            "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 garbage",
        ]:
            headers = dict(parts.headers, authorization=value)
            self.assertRaises(AuthFailure, verifyEC2,
                              attr.evolve(parts, headers=headers),
                              paramsOf(parts), SECRET, NOW)

    def test_unsignedHost(self):
        """
        A signature that does not cover the host is refused.
        """
        parts = self.signed()
        headers = dict(
            parts.headers,
            authorization=parts.headers["authorization"].replace(
                "SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date"
            ),
        )
        self.assertRaises(MissingAuthParameter, verifyEC2,
                          attr.evolve(parts, headers=headers), paramsOf(parts),
                          SECRET, NOW)

    def test_presigned(self):
        parts = self.presigned(Filter="a b/ü")
        params = paramsOf(parts)
        self.assertIn("X-Amz-Signature", params)
        self.assertEqual(ec2AccessKey(parts, params), ACCESS)
        verifyEC2(parts, params, SECRET, NOW)
        verifyEC2(parts, params, SECRET, NOW + 300)

    def test_presignedAccessProject(self):
        parts = self.presigned(access=ACCESS + ":p")
        self.assertEqual(ec2AccessKey(parts, paramsOf(parts)), ACCESS + ":p")
        verifyEC2(parts, paramsOf(parts), SECRET, NOW)

    def test_presignedExpired(self):
        parts = self.presigned(expires=300)
        self.assertRaises(RequestExpired, verifyEC2, parts, paramsOf(parts),
                          SECRET, NOW + 301)

    def test_presignedFuture(self):
        parts = self.presigned()
        self.assertRaises(RequestExpired, verifyEC2, parts, paramsOf(parts),
                          SECRET, NOW - 901)

    def test_presignedTampered(self):
        """
        Any one changed character of a parameter value of a presigned URL
        is refused.
        """
        parts = self.presigned(Filter="abc")
        for index, char in enumerate(parts.query):
            if char in "&=%" or not char.isalnum():
                continue
            changed = attr.evolve(parts, query=flipByte(parts.query, index))
            try:
                verifyEC2(changed, paramsOf(changed), SECRET, NOW)
            except (SignatureDoesNotMatch, AuthFailure, MissingAuthParameter,
                    RequestExpired):
                pass
            else:
                self.fail(f"changing {changed.query!r} was accepted")

    def test_presignedMissing(self):
        parts = self.presigned()
        query = "&".join(
            field for field in parts.query.split("&")
            if not field.startswith("X-Amz-Expires=")
        )
        self.assertRaises(MissingAuthParameter, ec2AccessKey,
                          attr.evolve(parts, query=query), {})


class S3V2Tests(BotocoreMixin, SynchronousTestCase):
    """
    S3 signature version 2 (C{HmacV1Auth}, C{HmacV1QueryAuth}).
    """

    def setUp(self):
        self.freezeBotocore()

    def signed(self, method="PUT", path="/bucket/my%20key", query="",
               access=ACCESS, headers=None, url=S3_URL):
        auth = botoauth.HmacV1Auth(self.credentials(access))
        target = url + path + ("?" + query if query else "")
        return self.sign(auth, method, target, body=False,
                         headers=dict(headers or {}))

    def presigned(self, path="/bucket/key", query="", expires=600, headers=None):
        """
        A presigned URL, as whoever is given it sends it: with no headers
        but the host.
        """
        auth = botoauth.HmacV1QueryAuth(self.credentials(), expires=expires)
        target = S3_URL + path + ("?" + query if query else "")
        parts = self.sign(auth, "GET", target, body=False,
                          headers=dict(headers or {}))
        return attr.evolve(parts, headers={"host": parts.host})

    def test_header(self):
        parts = self.signed(headers={"Content-Type": "text/plain",
                                     "Content-MD5": "XrY7u+Ae7tCTyyK7j1rNww==",
                                     "x-amz-meta-colour": "blue",
                                     "x-amz-acl": "public-read"})
        self.assertEqual(s3AccessKey(parts), ACCESS)
        self.assertEqual(verifyS3(parts, SECRET, NOW), S3Verification(accessKey=ACCESS))

    def test_anonymous(self):
        parts = HTTPRequestParts(method="GET", host="h", path="/bucket/key",
                                 query="acl", headers={"host": "h"})
        self.assertIsNone(s3AccessKey(parts))
        self.assertRaises(AuthFailure, verifyS3, parts, SECRET, NOW)

    def test_throughTwisted(self):
        signed = self.signed(path="/bucket/a%20b/%C3%BC", query="acl",
                             headers={"x-amz-meta-k": "v"})
        headers = {name.title(): value for name, value in signed.headers.items()}
        parts = throughTwisted(self, "PUT", signed.path + "?" + signed.query,
                               headers)
        verifyS3(parts, SECRET, NOW)

    def test_subresources(self):
        """
        Sub-resources are signed: changing or adding one is refused; other
        query parameters are not signed.
        """
        parts = self.signed(method="GET", query="acl")
        verifyS3(parts, SECRET, NOW)
        self.assertRaises(SignatureDoesNotMatch, verifyS3,
                          attr.evolve(parts, query="policy"), SECRET, NOW)
        self.assertRaises(SignatureDoesNotMatch, verifyS3,
                          attr.evolve(parts, query=""), SECRET, NOW)
        parts = self.signed(method="GET", path="/bucket",
                            query="prefix=a&max-keys=3")
        verifyS3(attr.evolve(parts, query="prefix=b"), SECRET, NOW)

    def test_multipartSubresources(self):
        parts = self.signed(query="partNumber=3&uploadId=abc%2Fdef")
        verifyS3(parts, SECRET, NOW)
        self.assertRaises(SignatureDoesNotMatch, verifyS3,
                          attr.evolve(parts, query="partNumber=4&uploadId=abc%2Fdef"),
                          SECRET, NOW)
        self.assertRaises(SignatureDoesNotMatch, verifyS3,
                          attr.evolve(parts, query="partNumber=3&uploadId=abc%2Fdeg"),
                          SECRET, NOW)

    def test_responseOverrides(self):
        parts = self.signed(
            method="GET",
            query="response-content-disposition=attachment%3B%20filename%3Dx"
                  "&versionId=2&response-content-type=text%2Fplain",
        )
        verifyS3(parts, SECRET, NOW)
        self.assertRaises(
            SignatureDoesNotMatch, verifyS3,
            attr.evolve(parts, query=parts.query.replace("plain", "plaim")),
            SECRET, NOW,
        )

    def test_accessProject(self):
        parts = self.signed(access=ACCESS + ":proj")
        self.assertEqual(splitAccessKey(s3AccessKey(parts)), (ACCESS, "proj"))
        self.assertEqual(verifyS3(parts, SECRET, NOW).accessKey, ACCESS + ":proj")

    def test_wrongSecret(self):
        self.assertRaises(SignatureDoesNotMatch, verifyS3, self.signed(),
                          SECRET[:-1], NOW)

    def test_tampered(self):
        parts = self.signed(headers={"Content-Type": "text/plain",
                                     "x-amz-meta-colour": "blue"})
        headers = parts.headers
        for changed in [
            attr.evolve(parts, method="POST"),
            attr.evolve(parts, path="/bucket/my%20kez"),
            attr.evolve(parts, path="/bucket/my key"),
            attr.evolve(parts, headers=dict(headers, **{"content-type": "text/plaim"})),
            attr.evolve(parts, headers=dict(headers, **{"x-amz-meta-colour": "bluf"})),
            attr.evolve(parts, headers=dict(headers, **{"x-amz-acl": "public-read"})),
            attr.evolve(parts, headers=dict(headers, **{"content-md5": "AAAA"})),
            attr.evolve(parts, headers=dict(headers, date=email.utils.formatdate(NOW + 1, usegmt=True))),
        ]:
            self.assertRaises(SignatureDoesNotMatch, verifyS3, changed, SECRET, NOW)

    def test_dateSkew(self):
        parts = self.signed()
        verifyS3(parts, SECRET, NOW - 900)
        for now in (NOW - 901, NOW + 901):
            error = self.assertRaises(RequestExpired, verifyS3, parts, SECRET, now)
            self.assertEqual(error.s3Code, "RequestTimeTooSkewed")

    def test_missingDate(self):
        parts = self.signed()
        headers = dict(parts.headers)
        del headers["date"]
        self.assertRaises(MissingAuthParameter, verifyS3,
                          attr.evolve(parts, headers=headers), SECRET, NOW)

    def test_malformed(self):
        parts = self.signed()
        for value in ("AWS " + ACCESS, "AWS :sig", "Basic abc"):
            headers = dict(parts.headers, authorization=value)
            self.assertRaises(AuthFailure, s3AccessKey,
                              attr.evolve(parts, headers=headers))

    def test_virtualHost(self):
        """
        A virtual-hosted-style request signs C{/bucket/key} while it sends
        C{/key}: the caller names the bucket.
        """
        auth = botoauth.HmacV1Auth(self.credentials())
        request = AWSRequest(method="GET", url="http://bucket.s3.example.com:3333/key")
        request.auth_path = "/bucket/key"
        auth.add_auth(request)
        parts = partsFromPrepared(request.prepare(), body=False)
        verifyS3(parts, SECRET, NOW, virtualBucket="bucket")
        self.assertRaises(SignatureDoesNotMatch, verifyS3, parts, SECRET, NOW)
        self.assertRaises(SignatureDoesNotMatch, verifyS3, parts, SECRET, NOW,
                          virtualBucket="other")

    def signedAs(self, url, authPath):
        auth = botoauth.HmacV1Auth(self.credentials())
        request = AWSRequest(method="GET", url=url)
        request.auth_path = authPath
        auth.add_auth(request)
        return partsFromPrepared(request.prepare(), body=False)

    def test_bucketBothSpellings(self):
        """
        A request on a bucket itself is accepted signed as C{/bucket}
        (AWS's rule for path style) or as C{/bucket/} (what botocore signs
        in both styles, and boto 2 sends), path-style or virtual-hosted.
        """
        for url in (S3_URL + "/bucket", S3_URL + "/bucket/"):
            for authPath in ("/bucket", "/bucket/"):
                verifyS3(self.signedAs(url, authPath), SECRET, NOW)
                verifyS3(self.signedAs(url + "?acl", authPath), SECRET, NOW)
        for authPath in ("/bucket", "/bucket/"):
            parts = self.signedAs("http://bucket.s3.example.com:3333/", authPath)
            verifyS3(parts, SECRET, NOW, virtualBucket="bucket")
        self.assertRaises(SignatureDoesNotMatch, verifyS3,
                          self.signedAs(S3_URL + "/bucket", "/other/"), SECRET, NOW)
        self.assertRaises(SignatureDoesNotMatch, verifyS3,
                          self.signedAs(S3_URL + "/bucket?acl", "/bucket/"),
                          SECRET[:-1], NOW)

    def test_objectOneSpelling(self):
        """
        Only a bucket has two spellings: an object's resource and the
        service's do not gain or lose a slash.
        """
        verifyS3(self.signedAs(S3_URL + "/bucket/key", "/bucket/key"), SECRET, NOW)
        for url, authPath in [
            (S3_URL + "/bucket/key", "/bucket/key/"),
            (S3_URL + "/bucket/key/", "/bucket/key"),
            (S3_URL + "/", ""),
            (S3_URL + "/", "//"),
        ]:
            self.assertRaises(SignatureDoesNotMatch, verifyS3,
                              self.signedAs(url, authPath), SECRET, NOW)

    def test_presigned(self):
        parts = self.presigned(expires=600)
        self.assertEqual(s3AccessKey(parts), ACCESS)
        verifyS3(parts, SECRET, NOW)
        verifyS3(parts, SECRET, NOW + 600)
        error = self.assertRaises(RequestExpired, verifyS3, parts, SECRET, NOW + 601)
        self.assertEqual((error.s3Code, error.s3Status), ("AccessDenied", 403))

    def test_presignedAmzHeaders(self):
        """
        botocore moves C{x-amz-*} headers into a presigned URL's query; they
        are signed there.
        """
        parts = self.presigned(headers={"x-amz-meta-a": "b c"})
        self.assertIn("x-amz-meta-a=", parts.query)
        self.assertNotIn("x-amz-meta-a", parts.headers)
        verifyS3(parts, SECRET, NOW)
        self.assertRaises(
            SignatureDoesNotMatch, verifyS3,
            attr.evolve(parts, query=parts.query.replace("x-amz-meta-a=b", "x-amz-meta-a=x")),
            SECRET, NOW,
        )

    def test_presignedTampered(self):
        parts = self.presigned(query="versionId=3")
        for changed in [
            attr.evolve(parts, path="/bucket/kez"),
            attr.evolve(parts, query=parts.query.replace("versionId=3", "versionId=4")),
            attr.evolve(parts, query=parts.query.replace("Expires=", "Expires=1")),
        ]:
            self.assertRaises(SignatureDoesNotMatch, verifyS3, changed, SECRET, NOW)

    def test_presignedMissing(self):
        parts = self.presigned()
        query = "&".join(
            field for field in parts.query.split("&")
            if not field.startswith("Expires=")
        )
        error = self.assertRaises(MissingAuthParameter, s3AccessKey,
                                  attr.evolve(parts, query=query))
        self.assertEqual(error.s3Code, "AccessDenied")

    def test_headerAndQuery(self):
        parts = self.signed(query="Signature=abc")
        self.assertRaises(AuthFailure, s3AccessKey, parts)


class Boto2S3Tests(SynchronousTestCase):
    """
    S3 signature version 2 as boto 2's C{HmacAuthV1Handler} and
    C{generate_url} sign it.
    """

    def setUp(self):
        self.patch(boto.auth, "formatdate",
                   lambda usegmt=False: email.utils.formatdate(NOW, usegmt=usegmt))

    def connection(self, callingFormat=None, access=ACCESS):
        return S3Connection(
            access, SECRET, host="s3.example.com", port=3333, is_secure=False,
            calling_format=callingFormat or OrdinaryCallingFormat(),
        )

    def signed(self, method, bucket, key, headers=None, queryArgs=None, **kw):
        connection = self.connection(**kw)
        captured = []
        connection._mexe = lambda request, *a, **k: captured.append(request)
        connection.make_request(method, bucket, key, headers=headers or {},
                                data=b"payload", query_args=queryArgs)
        [request] = captured
        request.authorize(connection=connection)
        return partsFromBoto(request)

    def test_put(self):
        parts = self.signed("PUT", "bucket", "dir/my key ü.txt",
                            {"Content-Type": "text/plain",
                             "x-amz-meta-colour": "blue"})
        self.assertEqual(parts.path, "/bucket/dir/my%20key%20%C3%BC.txt")
        self.assertEqual(s3AccessKey(parts), ACCESS)
        verifyS3(parts, SECRET, NOW)
        headers = dict(parts.headers, **{"x-amz-meta-colour": "red"})
        self.assertRaises(SignatureDoesNotMatch, verifyS3,
                          attr.evolve(parts, headers=headers), SECRET, NOW)

    def test_subresource(self):
        parts = self.signed("GET", "bucket", "key", queryArgs="acl")
        self.assertEqual(parts.query, "acl")
        verifyS3(parts, SECRET, NOW)
        self.assertRaises(SignatureDoesNotMatch, verifyS3,
                          attr.evolve(parts, query="torrent"), SECRET, NOW)

    def test_accessProject(self):
        parts = self.signed("GET", "bucket", "", access="me:proj")
        self.assertEqual(splitAccessKey(s3AccessKey(parts)), ("me", "proj"))
        verifyS3(parts, SECRET, NOW)

    def test_virtualHost(self):
        parts = self.signed("GET", "bucket", "key",
                            callingFormat=SubdomainCallingFormat())
        self.assertEqual((parts.host, parts.path),
                         ("bucket.s3.example.com:3333", "/key"))
        verifyS3(parts, SECRET, NOW, virtualBucket="bucket")
        self.assertRaises(SignatureDoesNotMatch, verifyS3, parts, SECRET, NOW)

    def urlParts(self, url):
        split = urlsplit(url)
        return HTTPRequestParts(method="GET", host=split.netloc, path=split.path,
                                query=split.query, headers={"host": split.netloc})

    def test_generateURL(self):
        url = self.connection().generate_url(
            NOW + 60, "GET", "bucket", "some key/ü", expires_in_absolute=True,
            response_headers={"response-content-type": "text/plain; charset=x"},
        )
        parts = self.urlParts(url)
        self.assertEqual(s3AccessKey(parts), ACCESS)
        verifyS3(parts, SECRET, NOW)
        verifyS3(parts, SECRET, NOW + 60)
        self.assertRaises(RequestExpired, verifyS3, parts, SECRET, NOW + 61)
        self.assertRaises(
            SignatureDoesNotMatch, verifyS3,
            attr.evolve(parts, query=parts.query.replace("plain", "html")),
            SECRET, NOW,
        )

    def test_generateURLAmzHeaders(self):
        url = self.connection().generate_url(
            NOW + 60, "PUT", "bucket", "key", expires_in_absolute=True,
            headers={"x-amz-acl": "public-read"},
        )
        parts = self.urlParts(url)
        verifyS3(attr.evolve(parts, method="PUT"), SECRET, NOW)
        self.assertRaises(SignatureDoesNotMatch, verifyS3, parts, SECRET, NOW)


class S3SigV4Tests(BotocoreMixin, SynchronousTestCase):
    """
    S3 signature version 4 (C{S3SigV4Auth}, C{S3SigV4QueryAuth}).
    """

    def setUp(self):
        self.freezeBotocore()

    def signed(self, method="PUT", path="/bucket/key", query="", data=b"hello",
               headers=None, access=ACCESS, unsigned=False, auth=None):
        auth = auth or botoauth.S3SigV4Auth(self.credentials(access), "s3", "nova")
        request = AWSRequest(method=method,
                             url=S3_URL + path + ("?" + query if query else ""),
                             data=data, headers=dict(headers or {}))
        if unsigned:
            request.context["client_config"] = SimpleNamespace(
                s3={"payload_signing_enabled": False})
        auth.add_auth(request)
        return partsFromPrepared(request.prepare(), body=False)

    def presigned(self, method="GET", path="/bucket/key", query="", expires=3600,
                  headers=None, access=ACCESS):
        auth = botoauth.S3SigV4QueryAuth(self.credentials(access), "s3", "nova",
                                         expires=expires)
        request = AWSRequest(method=method,
                             url=S3_URL + path + ("?" + query if query else ""),
                             headers=dict(headers or {}))
        auth.add_auth(request)
        return partsFromPrepared(request.prepare(), body=False)

    def test_awsExampleGet(self):
        """
        The AWS documentation's C{GET Object} example verifies.
        """
        host = "examplebucket.s3.amazonaws.com"
        parts = HTTPRequestParts(
            method="GET", host=host, path="/test.txt", headers={
                "host": host,
                "range": "bytes=0-9",
                "x-amz-content-sha256": hashlib.sha256(b"").hexdigest(),
                "x-amz-date": "20130524T000000Z",
                "authorization": (
                    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
                    "us-east-1/s3/aws4_request,SignedHeaders=host;range;"
                    "x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e8"
                    "57bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
            })
        self.assertEqual(s3AccessKey(parts), AWS_ACCESS)
        result = verifyS3(parts, AWS_SECRET, AWS_NOW)
        self.assertEqual(result.payloadHash, hashlib.sha256(b"").hexdigest())
        headers = dict(parts.headers, range="bytes=0-8")
        self.assertRaises(SignatureDoesNotMatch, verifyS3,
                          attr.evolve(parts, headers=headers), AWS_SECRET, AWS_NOW)

    def test_awsExamplePresigned(self):
        """
        The AWS documentation's presigned URL example verifies during its
        86400 seconds.
        """
        host = "examplebucket.s3.amazonaws.com"
        parts = HTTPRequestParts(
            method="GET", host=host, path="/test.txt", headers={"host": host},
            query="X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7"
                  "EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date="
                  "20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-"
                  "Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d"
                  "157751f604d404")
        result = verifyS3(parts, AWS_SECRET, AWS_NOW + 86400)
        self.assertEqual(result.payloadHash, "UNSIGNED-PAYLOAD")
        self.assertRaises(RequestExpired, verifyS3, parts, AWS_SECRET,
                          AWS_NOW + 86401)

    def test_header(self):
        parts = self.signed(headers={"x-amz-meta-colour": "blue",
                                     "Content-Type": "text/plain"})
        self.assertEqual(s3AccessKey(parts), ACCESS)
        result = verifyS3(parts, SECRET, NOW)
        self.assertEqual(
            result,
            S3Verification(accessKey=ACCESS,
                           payloadHash=hashlib.sha256(b"hello").hexdigest()),
        )

    def test_throughTwisted(self):
        signed = self.signed(path="/bucket/a%20b/%C3%BC~x", query="tagging",
                             headers={"x-amz-meta-k": "v"})
        headers = {name.title(): value for name, value in signed.headers.items()}
        parts = throughTwisted(self, "PUT", signed.path + "?" + signed.query,
                               headers, b"hello")
        self.assertEqual(verifyS3(parts, SECRET, NOW).payloadHash,
                         hashlib.sha256(b"hello").hexdigest())

    def test_unsignedPayload(self):
        parts = self.signed(unsigned=True)
        self.assertEqual(parts.headers["x-amz-content-sha256"], "UNSIGNED-PAYLOAD")
        self.assertEqual(verifyS3(parts, SECRET, NOW).payloadHash, "UNSIGNED-PAYLOAD")

    def test_payloadHashSigned(self):
        """
        The signed payload hash cannot be swapped for C{UNSIGNED-PAYLOAD} or
        another digest.
        """
        parts = self.signed()
        for value in ("UNSIGNED-PAYLOAD", hashlib.sha256(b"other").hexdigest()):
            headers = dict(parts.headers, **{"x-amz-content-sha256": value})
            self.assertRaises(SignatureDoesNotMatch, verifyS3,
                              attr.evolve(parts, headers=headers), SECRET, NOW)

    def test_payloadHashRequired(self):
        parts = self.signed()
        headers = dict(parts.headers)
        del headers["x-amz-content-sha256"]
        error = self.assertRaises(MissingAuthParameter, verifyS3,
                                  attr.evolve(parts, headers=headers), SECRET, NOW)
        self.assertEqual((error.s3Code, error.s3Status), ("InvalidRequest", 400))
        headers["x-amz-content-sha256"] = "nothex"
        error = self.assertRaises(AuthFailure, verifyS3,
                                  attr.evolve(parts, headers=headers), SECRET, NOW)
        self.assertEqual(error.s3Code, "InvalidArgument")

    def test_keyEncoding(self):
        """
        The S3 canonical URI is the path encoded once (not normalized, not
        encoded again), whichever unreserved characters the client chose to
        escape.
        """
        key = "dir//./../my key+ü~(1)!.txt"
        path = "/bucket/" + quote(key, safe="/~")
        parts = self.signed(path=path)
        verifyS3(parts, SECRET, NOW)
        verifyS3(attr.evolve(parts, path=path.replace("~", "%7E")), SECRET, NOW)
        self.assertRaises(SignatureDoesNotMatch, verifyS3,
                          attr.evolve(parts, path="/bucket/" + quote("dir/my key+ü~(1)!.txt", safe="/~")),
                          SECRET, NOW)

    def test_ec2PathEncodedTwice(self):
        """
        Other services than S3 normalize the path and encode it twice; S3
        does neither.  A path that needs either verifies only under its own
        service's rule.
        """
        empty = hashlib.sha256(b"").hexdigest()
        for path, differs in [("/a%20b/./c", True), ("/a//b", True),
                              ("/ab/c", False)]:
            generic = botoauth.SigV4Auth(self.credentials(), "s3", "nova")
            asGeneric = self.signed(method="GET", path=path, data=b"",
                                    auth=generic,
                                    headers={"X-Amz-Content-SHA256": empty})
            asS3 = self.signed(method="GET", path=path, data=b"")
            verifyS3(asS3, SECRET, NOW)
            verifyEC2(asGeneric, {}, SECRET, NOW)
            if differs:
                self.assertRaises(SignatureDoesNotMatch, verifyS3, asGeneric,
                                  SECRET, NOW)
                self.assertRaises(SignatureDoesNotMatch, verifyEC2, asS3, {},
                                  SECRET, NOW)
            else:
                verifyS3(asGeneric, SECRET, NOW)
                verifyEC2(asS3, {}, SECRET, NOW)

    def test_query(self):
        parts = self.signed(method="GET", path="/bucket", data=b"",
                            query="list-type=2&prefix=a%20b%2Fc&delimiter=%2F")
        verifyS3(parts, SECRET, NOW)
        self.assertRaises(SignatureDoesNotMatch, verifyS3,
                          attr.evolve(parts, query=parts.query.replace("a%20b", "a%20c")),
                          SECRET, NOW)
        self.assertRaises(SignatureDoesNotMatch, verifyS3,
                          attr.evolve(parts, query=parts.query + "&max-keys=1"),
                          SECRET, NOW)

    def test_tampered(self):
        parts = self.signed(headers={"x-amz-meta-colour": "blue"})
        headers = parts.headers
        for changed in [
            attr.evolve(parts, method="POST"),
            attr.evolve(parts, path="/bucket/kez"),
            attr.evolve(parts, host="127.0.0.1:3334"),
            attr.evolve(parts, headers=dict(headers, **{"x-amz-meta-colour": "bluf"})),
            attr.evolve(parts, headers=dict(headers, **{"x-amz-date": "20240301T120001Z"})),
        ]:
            self.assertRaises(SignatureDoesNotMatch, verifyS3, changed, SECRET, NOW)

    def test_unsignedAmzHeader(self):
        parts = self.signed()
        headers = dict(parts.headers, **{"x-amz-acl": "public-read-write"})
        error = self.assertRaises(MissingAuthParameter, verifyS3,
                                  attr.evolve(parts, headers=headers), SECRET, NOW)
        self.assertEqual(error.s3Code, "AccessDenied")

    def test_accessProject(self):
        parts = self.signed(access=ACCESS + ":proj")
        self.assertEqual(verifyS3(parts, SECRET, NOW).accessKey, ACCESS + ":proj")

    def test_wrongSecret(self):
        self.assertRaises(SignatureDoesNotMatch, verifyS3, self.signed(), "x", NOW)

    def test_skew(self):
        parts = self.signed()
        verifyS3(parts, SECRET, NOW + 900)
        error = self.assertRaises(RequestExpired, verifyS3, parts, SECRET, NOW + 901)
        self.assertEqual(error.s3Code, "RequestTimeTooSkewed")
        self.assertRaises(RequestExpired, verifyS3, parts, SECRET, NOW - 901)

    def test_wrongService(self):
        auth = botoauth.S3SigV4Auth(self.credentials(), "ec2", "nova")
        error = self.assertRaises(AuthFailure, verifyS3, self.signed(auth=auth),
                                  SECRET, NOW)
        self.assertEqual(error.s3Code, "AuthorizationHeaderMalformed")

    def test_presigned(self):
        parts = self.presigned(query="versionId=3")
        self.assertEqual(s3AccessKey(parts), ACCESS)
        result = verifyS3(parts, SECRET, NOW)
        self.assertEqual(result.payloadHash, "UNSIGNED-PAYLOAD")
        verifyS3(parts, SECRET, NOW + 3600)
        error = self.assertRaises(RequestExpired, verifyS3, parts, SECRET, NOW + 3601)
        self.assertEqual(error.s3Code, "AccessDenied")
        self.assertRaises(RequestExpired, verifyS3, parts, SECRET, NOW - 901)

    def test_presignedPut(self):
        parts = self.presigned(method="PUT", path="/bucket/new%20key")
        verifyS3(parts, SECRET, NOW)
        self.assertRaises(SignatureDoesNotMatch, verifyS3,
                          attr.evolve(parts, method="DELETE"), SECRET, NOW)

    def test_presignedSevenDays(self):
        verifyS3(self.presigned(expires=604800), SECRET, NOW + 604800)
        error = self.assertRaises(MissingAuthParameter, verifyS3,
                                  self.presigned(expires=604801), SECRET, NOW)
        self.assertEqual((error.s3Code, error.s3Status),
                         ("AuthorizationQueryParametersError", 400))

    def test_presignedTampered(self):
        parts = self.presigned(query="versionId=3")
        for changed in [
            attr.evolve(parts, path="/bucket/kez"),
            attr.evolve(parts, query=parts.query.replace("versionId=3", "versionId=4")),
            attr.evolve(parts, query=parts.query.replace("X-Amz-Expires=3600", "X-Amz-Expires=3601")),
            attr.evolve(parts, query=parts.query + "&acl"),
        ]:
            self.assertRaises(SignatureDoesNotMatch, verifyS3, changed, SECRET, NOW)

    def test_presignedDuplicate(self):
        parts = self.presigned()
        self.assertRaises(AuthFailure, verifyS3,
                          attr.evolve(parts, query=parts.query + "&X-Amz-Date=20240301T120000Z"),
                          SECRET, NOW)

    def test_presignedMissing(self):
        parts = self.presigned()
        query = "&".join(field for field in parts.query.split("&")
                         if not field.startswith("X-Amz-SignedHeaders="))
        error = self.assertRaises(MissingAuthParameter, s3AccessKey,
                                  attr.evolve(parts, query=query))
        self.assertEqual(error.s3Code, "AuthorizationQueryParametersError")

    def test_headerAndPresigned(self):
        parts = self.presigned()
        headers = dict(parts.headers, authorization="AWS a:b")
        error = self.assertRaises(AuthFailure, s3AccessKey,
                                  attr.evolve(parts, headers=headers))
        self.assertEqual(error.s3Code, "InvalidArgument")


def signChunks(key, timestamp, scope, seed, chunks):
    """
    A reference aws-chunked encoder: sign C{chunks} (a list of L{bytes},
    to which the final empty chunk is added) chained from C{seed}.

    @return: the body (L{bytes}) and the list of chunk signatures.
    """
    body, signatures, previous = [], [], seed
    for data in list(chunks) + [b""]:
        stringToSign = "\n".join([
            "AWS4-HMAC-SHA256-PAYLOAD", timestamp, scope, previous,
            hashlib.sha256(b"").hexdigest(), hashlib.sha256(data).hexdigest(),
        ])
        previous = hmac.new(key, stringToSign.encode(), hashlib.sha256).hexdigest()
        signatures.append(previous)
        body.append(b"%x;chunk-signature=%s\r\n%s\r\n" % (
            len(data), previous.encode(), data))
    return b"".join(body), signatures


class StreamingS3SigV4Auth(botoauth.S3SigV4Auth):
    """
    botocore's S3 signer, announcing an aws-chunked signed payload.
    """

    def payload(self, request):
        return signer.STREAMING_PAYLOAD


class ChunkDecoderTests(BotocoreMixin, SynchronousTestCase):
    """
    C{STREAMING-AWS4-HMAC-SHA256-PAYLOAD} bodies and L{ChunkDecoder}.
    """

    def awsExample(self):
        host = "s3.amazonaws.com"
        parts = HTTPRequestParts(
            method="PUT", host=host, path="/examplebucket/chunkObject.txt",
            headers={
                "host": host,
                "x-amz-date": "20130524T000000Z",
                "x-amz-storage-class": "REDUCED_REDUNDANCY",
                "authorization": (
                    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
                    "us-east-1/s3/aws4_request,SignedHeaders=content-encoding;"
                    "content-length;host;x-amz-content-sha256;x-amz-date;"
                    "x-amz-decoded-content-length;x-amz-storage-class,"
                    "Signature=" + AWS_SEED),
                "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                "content-encoding": "aws-chunked",
                "x-amz-decoded-content-length": "66560",
                "content-length": "66824",
            })
        body = b"".join(
            b"%x;chunk-signature=%s\r\n%s\r\n" % (size, signature.encode(), b"a" * size)
            for size, signature in zip((65536, 1024, 0), AWS_CHUNK_SIGNATURES)
        )
        return parts, body

    def awsDecoder(self):
        parts, body = self.awsExample()
        result = verifyS3(parts, AWS_SECRET, AWS_NOW)
        self.assertEqual(result.payloadHash, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        self.assertIsInstance(result.chunkDecoder, ChunkDecoder)
        return result.chunkDecoder, body

    def test_awsExample(self):
        """
        The AWS documentation's seed and chunk signatures verify.
        """
        decoder, body = self.awsDecoder()
        self.assertEqual(len(body), 66824)
        self.assertEqual(decoder.feed(body), b"a" * 66560)
        decoder.finish()

    def test_awsExampleOneByteAtATime(self):
        decoder, body = self.awsDecoder()
        output = []
        for index in range(len(body)):
            piece = decoder.feed(body[index:index + 1])
            output.append(piece)
            if piece:
                # Data comes out only when its whole chunk has been checked.
                self.assertIn(len(piece), (65536, 1024))
        self.assertEqual(b"".join(output), b"a" * 66560)
        decoder.finish()

    def test_awsExampleSeedTampered(self):
        parts, _ = self.awsExample()
        headers = dict(parts.headers, **{"x-amz-decoded-content-length": "66561"})
        self.assertRaises(SignatureDoesNotMatch, verifyS3,
                          attr.evolve(parts, headers=headers), AWS_SECRET, AWS_NOW)

    def test_awsExampleFlippedData(self):
        """
        A flipped byte in a chunk's data fails that chunk, in either chunk.
        """
        for offset in (88 + 100, 65626 + 86 + 5):
            decoder, body = self.awsDecoder()
            body = bytearray(body)
            body[offset] ^= 0x01
            self.assertRaises(InvalidChunk, decoder.feed, bytes(body))

    def test_awsExampleFlippedSignature(self):
        decoder, body = self.awsDecoder()
        body = body.replace(AWS_CHUNK_SIGNATURES[1].encode(),
                            flipByte(AWS_CHUNK_SIGNATURES[1], 10).encode())
        self.assertEqual(decoder.feed(body[:65626]), b"a" * 65536)
        self.assertRaises(SignatureDoesNotMatch, decoder.feed, body[65626:])

    def test_awsExampleReordered(self):
        """
        Chunks are chained: the final chunk's signature does not verify in
        place of the second one.
        """
        decoder, body = self.awsDecoder()
        self.assertEqual(decoder.feed(body[:65626]), b"a" * 65536)
        self.assertRaises(SignatureDoesNotMatch, decoder.feed, body[-86:])

    def test_awsExampleTruncated(self):
        decoder, body = self.awsDecoder()
        decoder.feed(body[:-86])
        self.assertRaises(IncompleteBody, decoder.finish)
        decoder, body = self.awsDecoder()
        decoder.feed(body[:-1])
        self.assertRaises(IncompleteBody, decoder.finish)

    def streamingRequest(self, chunks, decodedLength=None):
        """
        A streaming upload whose headers botocore signs, with chunks signed
        by the reference encoder.
        """
        self.freezeBotocore()
        total = sum(len(chunk) for chunk in chunks)
        headers = {
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(
                total if decodedLength is None else decodedLength),
        }
        auth = StreamingS3SigV4Auth(self.credentials(), "s3", "nova")
        request = AWSRequest(method="PUT", url=S3_URL + "/bucket/big", headers=headers)
        auth.add_auth(request)
        parts = partsFromPrepared(request.prepare(), body=False)
        seed = parts.headers["authorization"].rsplit("Signature=", 1)[1]
        timestamp = parts.headers["x-amz-date"]
        scope = f"{timestamp[:8]}/nova/s3/aws4_request"
        key = signer.signingKey(SECRET, timestamp[:8], "nova", "s3")
        body, _ = signChunks(key, timestamp, scope, seed, chunks)
        return parts, body

    def test_oddSplits(self):
        """
        Any split of the body decodes to the same payload.
        """
        chunks = [bytes(range(256)) * 3, b"\r\n0;chunk-signature=" * 5, b"z"]
        parts, body = self.streamingRequest(chunks)
        for step in (1, 2, 3, 7, 64, 100, 769, len(body)):
            decoder = verifyS3(parts, SECRET, NOW).chunkDecoder
            output = b"".join(
                decoder.feed(body[index:index + step])
                for index in range(0, len(body), step)
            )
            self.assertEqual(output, b"".join(chunks), step)
            decoder.finish()
        for split in range(len(body)):
            decoder = verifyS3(parts, SECRET, NOW).chunkDecoder
            output = decoder.feed(body[:split]) + decoder.feed(body[split:])
            self.assertEqual(output, b"".join(chunks))
            decoder.finish()

    def test_emptyBody(self):
        parts, body = self.streamingRequest([])
        decoder = verifyS3(parts, SECRET, NOW).chunkDecoder
        self.assertEqual(decoder.feed(body), b"")
        decoder.finish()

    def test_everyByteChecked(self):
        """
        Any one changed byte of the body is refused, by the chunk
        signatures or by the framing.
        """
        parts, body = self.streamingRequest([b"abc" * 10, b"de"])
        for index in range(len(body)):
            changed = bytearray(body)
            changed[index] ^= 0x01
            decoder = verifyS3(parts, SECRET, NOW).chunkDecoder
            try:
                decoder.feed(bytes(changed))
                decoder.finish()
            except (SignatureDoesNotMatch, IncompleteBody):
                pass
            else:
                self.fail(f"changing byte {index} was accepted")

    def test_decodedLength(self):
        parts, body = self.streamingRequest([b"abc", b"de"], decodedLength=6)
        decoder = verifyS3(parts, SECRET, NOW).chunkDecoder
        self.assertEqual(decoder.feed(body), b"abcde")
        self.assertRaises(IncompleteBody, decoder.finish)
        parts, body = self.streamingRequest([b"abc", b"de"], decodedLength=4)
        decoder = verifyS3(parts, SECRET, NOW).chunkDecoder
        first = body.index(b"abc\r\n") + 5
        self.assertEqual(decoder.feed(body[:first]), b"abc")
        self.assertRaises(IncompleteBody, decoder.feed, body[first:])

    def test_decodedLengthRequired(self):
        parts, _ = self.streamingRequest([b"abc"])
        headers = dict(parts.headers)
        del headers["x-amz-decoded-content-length"]
        error = self.assertRaises(MissingAuthParameter, verifyS3,
                                  attr.evolve(parts, headers=headers), SECRET, NOW)
        self.assertEqual((error.s3Code, error.s3Status), ("MissingContentLength", 411))

    def test_trailingData(self):
        parts, body = self.streamingRequest([b"abc"])
        decoder = verifyS3(parts, SECRET, NOW).chunkDecoder
        self.assertRaises(IncompleteBody, decoder.feed, body + b"x")

    def test_malformed(self):
        parts, _ = self.streamingRequest([b"abc"])
        for body in [
            b"3\r\nabc\r\n",
            b"zz;chunk-signature=" + b"0" * 64 + b"\r\n",
            b"3;chunk-signature=" + b"0" * 63 + b"\r\n",
            b"3;chunk-signature=" + b"0" * 64 + b"\n",
            b"3;chunk-signature=" + b"0" * 64 + b"X" * 2000,
        ]:
            decoder = verifyS3(parts, SECRET, NOW).chunkDecoder
            self.assertRaises(IncompleteBody, decoder.feed, body)

    def test_missingCRLF(self):
        parts, body = self.streamingRequest([b"abc"])
        decoder = verifyS3(parts, SECRET, NOW).chunkDecoder
        broken = body.replace(b"abc\r\n", b"abcXY", 1)
        self.assertRaises(IncompleteBody, decoder.feed, broken)

    def test_chunkTooLarge(self):
        """
        A chunk larger than the limit is refused from its header, before
        its data is held.
        """
        parts, body = self.streamingRequest([b"x" * 100])
        decoder = verifyS3(parts, SECRET, NOW, maxChunkSize=99).chunkDecoder
        self.assertRaises(IncompleteBody, decoder.feed, body[:90])
        decoder = verifyS3(parts, SECRET, NOW, maxChunkSize=100).chunkDecoder
        self.assertEqual(decoder.feed(body), b"x" * 100)

    def test_wrongSecret(self):
        parts, body = self.streamingRequest([b"abc"])
        self.assertRaises(SignatureDoesNotMatch, verifyS3, parts, SECRET + "!", NOW)

    def test_presignedStreamingRefused(self):
        self.freezeBotocore()
        auth = botoauth.S3SigV4QueryAuth(self.credentials(), "s3", "nova")
        request = AWSRequest(method="PUT", url=S3_URL + "/bucket/key",
                             headers={"X-Amz-Content-SHA256": signer.STREAMING_PAYLOAD})
        auth.add_auth(request)
        parts = partsFromPrepared(request.prepare(), body=False)
        self.assertRaises(AuthFailure, verifyS3, parts, SECRET, NOW)
