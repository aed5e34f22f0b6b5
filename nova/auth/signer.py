# -*- test-case-name: tests.auth.test_signer -*-
"""
Verification of AWS request signatures, for the EC2 Query API and for the
S3 object store.

Both APIs authenticate the same way: the client signs a canonical form of
the request with the secret key that belongs to its access key, and the
server builds the same canonical form from what it received and compares
signatures.  This module builds those canonical forms and compares; it looks
nothing up.  A caller does it in two steps, so that the secret can be
fetched asynchronously in between::

    parts = partsFromTwistedRequest(request, body)
    accessKey = ec2AccessKey(parts, params)     # or s3AccessKey(parts)
    access, project = splitAccessKey(accessKey)
    ...look up the user and its secret key (a Deferred)...
    verifyEC2(parts, params, secret, clock.seconds())

Supported schemes:

  - EC2: signature version 2 (C{HmacSHA256} or C{HmacSHA1}, with a
    C{Timestamp} or an C{Expires} parameter), and signature version 4 in the
    C{Authorization} header or in the query string (C{X-Amz-Algorithm}...).
    Signature versions 0 and 1, as Cactus accepted them, only when the
    caller asks (C{weakSignatures}; nova-api's C{--ec2_weak_signatures}):
    both are HMAC-SHA1, version 0 over C{Action} and C{Timestamp} only
    (nothing else of the request is signed), version 1 over the parameter
    names and values, sorted case-insensitively and concatenated (the
    method, host and path are not signed, nor is where one name ends).
  - S3: signature version 2 (C{Authorization: AWS access:signature} and
    presigned URLs with C{AWSAccessKeyId}, C{Expires} and C{Signature}), and
    signature version 4 (header and presigned URLs), with signed payloads,
    C{UNSIGNED-PAYLOAD} and C{STREAMING-AWS4-HMAC-SHA256-PAYLOAD} bodies,
    which L{ChunkDecoder} decodes and checks chunk by chunk.

Query strings are decoded the way C{twisted.web} decodes C{request.args}
(C{+} is a space), so what is signed is what the API acts on.

Where the rules of the two APIs differ:

  - The version 4 canonical URI: EC2 (like every service but S3) normalizes
    the path and percent-encodes the path as sent once more; S3 neither
    normalizes nor encodes twice.
  - The version 4 scope: S3 requires the service C{s3}; EC2 accepts any
    region and service, because boto 2 reads them from the endpoint's host
    name.  Either way the scope is signed.
  - Version 2 signatures of EC2 cover the host; boto 2 signs it without the
    port, botocore with it, and both are accepted.
  - S3 version 2 signs the bucket in the path even for a virtual-hosted
    request (C{bucket.s3.example.com/key}): L{verifyS3} takes the bucket as
    its C{virtualBucket} argument from the caller, which routes requests
    and so knows it.  A request on a bucket itself is signed as
    C{/bucket} by some clients and C{/bucket/} by others (botocore, boto
    2): both are accepted.

Every signature is compared with L{hmac.compare_digest}.  Everything here is
pure and synchronous: the current time is a parameter (the caller passes
C{clock.seconds()}).
"""

import base64
import calendar
import hashlib
import hmac
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote, unquote_to_bytes

import attr

from nova.exception import NovaError


# Errors


class SignerError(NovaError):
    """
    A request's authentication was refused.

    Each subclass names the EC2 answer (C{ec2Code}, C{httpStatus}) and the
    S3 answer (C{s3Code}, C{s3Status}).  Where AWS answers one class of
    failure with different S3 codes, the instance carries the code that
    applies, given to the constructor.

    @cvar s3Code: the S3 error code.
    @cvar s3Status: the HTTP status of the S3 answer.
    """

    code = "SignerError"
    ec2Code = "AuthFailure"
    httpStatus = 401
    s3Code = "AccessDenied"
    s3Status = 403

    def __init__(self, message=None, s3Code=None, s3Status=None):
        """
        @param message: one line saying what is wrong; the class docstring's
            first line when omitted.
        @param s3Code: the S3 error code, when it is not the class's.
        @param s3Status: the S3 HTTP status, when it is not the class's.
        """
        super().__init__(message)
        if s3Code is not None:
            self.s3Code = s3Code
        if s3Status is not None:
            self.s3Status = s3Status


class AuthFailure(SignerError):
    """
    The access key is missing or unknown, or the authentication is malformed.
    """

    code = "AuthFailure"
    ec2Code = "AuthFailure"
    httpStatus = 401
    s3Code = "InvalidAccessKeyId"
    s3Status = 403


class SignatureDoesNotMatch(SignerError):
    """
    The request signature we calculated does not match the signature you
    provided.
    """

    code = "SignatureDoesNotMatch"
    ec2Code = "SignatureDoesNotMatch"
    httpStatus = 403
    s3Code = "SignatureDoesNotMatch"
    s3Status = 403


class RequestExpired(SignerError):
    """
    Request has expired.
    """

    code = "RequestExpired"
    ec2Code = "RequestExpired"
    httpStatus = 400
    s3Code = "AccessDenied"
    s3Status = 403


class MissingAuthParameter(SignerError):
    """
    A parameter the authentication needs is missing or malformed.
    """

    code = "MissingAuthParameter"
    ec2Code = "MissingParameter"
    httpStatus = 400
    s3Code = "AccessDenied"
    s3Status = 403


class IncompleteBody(SignerError):
    """
    The request body terminated unexpectedly.
    """

    code = "IncompleteBody"
    ec2Code = "InvalidRequest"
    httpStatus = 400
    s3Code = "IncompleteBody"
    s3Status = 400


class InvalidChunk(SignatureDoesNotMatch):
    """
    The signature of a chunk of an aws-chunked body does not match.
    """

    code = "InvalidChunk"


# The request


def _text(value):
    """
    Decode bytes from the wire so that L{_bytes} gives them back unchanged.
    """
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


def _bytes(value):
    return value.encode("utf-8", "surrogateescape")


@attr.s(frozen=True)
class HTTPRequestParts:
    """
    What signature verification needs from an HTTP request.

    @ivar method: the HTTP method, such as C{"GET"}.
    @ivar host: the C{Host} header, as sent (with its port, if any).
    @ivar path: the path exactly as sent, still percent-encoded, without the
        query string.
    @ivar query: the query string exactly as sent, without the C{?}.
    @ivar headers: a L{dict} from lower-case header name to value; repeated
        headers are joined with C{","}.
    @ivar body: the request body for the EC2 API (the form of a C{POST}),
        or L{None} where the body streams (S3).
    """

    method = attr.ib()
    host = attr.ib()
    path = attr.ib()
    query = attr.ib(default="")
    headers = attr.ib(factory=dict)
    body = attr.ib(default=None)


def partsFromTwistedRequest(request, body=None):
    """
    Build L{HTTPRequestParts} from a C{twisted.web} request.

    @param request: a L{twisted.web.iweb.IRequest}.
    @param body: the body, as L{bytes}, when it is signed (EC2 C{POST}).
    @return: L{HTTPRequestParts}.
    """
    uri = _text(request.uri)
    if uri.startswith(("http://", "https://")):
        # An absolute-form request target: keep only the path and query.
        rest = uri.split("://", 1)[1]
        slash = rest.find("/")
        query = rest.find("?")
        if slash == -1 or (query != -1 and query < slash):
            uri = "/" + (rest[query:] if query != -1 else "")
        else:
            uri = rest[slash:]
    path, _, query = uri.partition("?")
    headers = {}
    for name, values in request.requestHeaders.getAllRawHeaders():
        headers[_text(name).lower()] = ",".join(
            _text(value).strip() for value in values
        )
    return HTTPRequestParts(
        method=_text(request.method),
        host=headers.get("host", ""),
        path=path,
        query=query,
        headers=headers,
        body=body,
    )


def splitAccessKey(value):
    """
    Split an access key as clients give it: C{access} or C{access:project}.

    @return: a L{tuple} of the access key and the project name, or L{None}
        when no project is named.
    @raise AuthFailure: if the access key part is empty.
    """
    access, _, project = value.partition(":")
    if not access:
        raise AuthFailure("The access key is empty.")
    return access, project or None


# Shared helpers

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_SIGV4_ALGORITHM = "AWS4-HMAC-SHA256"
_SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")
_MAX_PRESIGN_SECONDS = 7 * 24 * 3600

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


def _equal(expected, given):
    """
    Compare two signatures in constant time.
    """
    return hmac.compare_digest(_bytes(expected), _bytes(given))


def _queryPairs(query):
    """
    Decode a raw query string into (name, value) byte pairs, the way
    C{twisted.web} decodes C{request.args}: C{+} is a space, a field without
    C{=} has an empty value.
    """
    pairs = []
    for field in query.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        pairs.append(
            (
                unquote_to_bytes(name.replace("+", " ")),
                unquote_to_bytes(value.replace("+", " ")),
            )
        )
    return pairs


def _queryParams(query, names):
    """
    The values of the named parameters in a raw query string.

    @param names: the parameter names to return.
    @return: a L{dict} from name to decoded value (L{str}).
    @raise AuthFailure: if one of them is given more than once.
    """
    found = {}
    wanted = {_bytes(name): name for name in names}
    for name, value in _queryPairs(query):
        if name in wanted:
            key = wanted[name]
            if key in found:
                raise AuthFailure(
                    f"{key} is given more than once.",
                    s3Code="InvalidArgument",
                    s3Status=400,
                )
            found[key] = _text(value)
    return found


def _canonicalQuery(query, exclude=()):
    """
    The signature version 4 canonical query string of a raw query string.

    @param exclude: names of parameters to leave out.
    """
    excluded = {_bytes(name) for name in exclude}
    encoded = sorted(
        (quote(name, safe="-_.~"), quote(value, safe="-_.~"))
        for name, value in _queryPairs(query)
        if name not in excluded
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def _removeDotSegments(path):
    """
    Normalize a path as non-S3 services do: remove C{.} and C{..} segments
    and empty segments (RFC 3986 section 5.2.4, plus merged slashes).
    """
    if not path:
        return "/"
    output = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if output:
                output.pop()
        else:
            output.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and output else ""
    return first + "/".join(output) + last


def _ec2CanonicalURI(path):
    """
    The canonical URI of a non-S3 service: the normalized path, as sent,
    percent-encoded once more.
    """
    return quote(_bytes(_removeDotSegments(path)), safe="/~")


def _s3CanonicalURI(path):
    """
    The canonical URI of S3: the path encoded exactly once, whatever
    encoding the client chose for the characters it could leave alone; it is
    not normalized.
    """
    if not path:
        return "/"
    return "/".join(
        quote(unquote_to_bytes(segment), safe="-_.~")
        for segment in path.split("/")
    )


def _trimAll(value):
    return " ".join(value.split())


def _hostCandidates(host):
    """
    The host names a version 2 signature may have covered: the C{Host}
    header as sent (botocore signs it with its port), and without its port
    (boto 2 signs the host name alone), each also lower-cased (boto 2
    lower-cases it).
    """
    names = [host]
    if not host.endswith("]") and ":" in host:
        names.append(host.rsplit(":", 1)[0])
    candidates = []
    for name in names:
        for candidate in (name, name.lower()):
            if candidate not in candidates:
                candidates.append(candidate)
    return candidates


def _parseISO8601(value):
    """
    Parse an ISO 8601 timestamp; one without a zone is taken as UTC.

    @return: seconds since the epoch (L{float}).
    @raise ValueError: if it is not a timestamp.
    """
    text = value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _parseSigV4Timestamp(value):
    """
    Parse a signature version 4 timestamp (C{20130524T000000Z}).

    @return: seconds since the epoch (L{int}).
    @raise ValueError: if it is not one.
    """
    if not re.match(r"\A\d{8}T\d{6}Z\Z", value):
        raise ValueError(value)
    return calendar.timegm(datetime.strptime(value, _SIGV4_TIMESTAMP).timetuple())


def _parseHTTPDate(value):
    """
    Parse an HTTP date (RFC 1123 and its relatives).

    @return: seconds since the epoch (L{float}).
    @raise ValueError: if it is not one.
    """
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, IndexError) as e:
        raise ValueError(value) from e
    if parsed is None:
        raise ValueError(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _formatSigV4Timestamp(seconds):
    return datetime.fromtimestamp(int(seconds), timezone.utc).strftime(
        _SIGV4_TIMESTAMP
    )


def _hmacSHA256(key, message):
    return hmac.new(key, _bytes(message), hashlib.sha256).digest()


def signingKey(secretKey, date, region, service):
    """
    Derive the signature version 4 signing key.

    @param secretKey: the secret key (L{str}).
    @param date: the scope date, C{YYYYMMDD}.
    @param region: the scope region.
    @param service: the scope service.
    @return: the key (L{bytes}).
    """
    key = _hmacSHA256(_bytes("AWS4" + secretKey), date)
    key = _hmacSHA256(key, region)
    key = _hmacSHA256(key, service)
    return _hmacSHA256(key, "aws4_request")


# Signature version 4, shared by EC2 and S3


@attr.s(frozen=True)
class _SigV4:
    """
    The signature version 4 fields of a request, from its C{Authorization}
    header or from its query string.
    """

    accessKey = attr.ib()
    date = attr.ib()
    region = attr.ib()
    service = attr.ib()
    signedHeaders = attr.ib()
    signature = attr.ib()
    presigned = attr.ib()
    timestamp = attr.ib(default=None)
    expires = attr.ib(default=None)

    @property
    def scope(self):
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def _splitCredential(credential, presigned):
    """
    Split a version 4 C{Credential} into access key, date, region, service.

    @raise AuthFailure: if it is malformed.
    """
    fields = credential.rsplit("/", 4)
    if (
        len(fields) != 5
        or not fields[0]
        or not re.match(r"\A\d{8}\Z", fields[1])
        or not fields[2]
        or not fields[3]
        or fields[4] != "aws4_request"
    ):
        raise AuthFailure(
            "The Credential is malformed; expecting "
            "\"<access>/YYYYMMDD/<region>/<service>/aws4_request\".",
            s3Code=(
                "AuthorizationQueryParametersError"
                if presigned
                else "AuthorizationHeaderMalformed"
            ),
            s3Status=400,
        )
    return fields[:4]


def _isSigV4Header(parts):
    authorization = parts.headers.get("authorization", "")
    return authorization.split(" ", 1)[0] == _SIGV4_ALGORITHM


def _parseSigV4Header(parts):
    """
    Parse C{Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
    Signature=...}.

    @raise AuthFailure: if it is malformed.
    """
    authorization = parts.headers["authorization"]
    _, _, rest = authorization.partition(" ")
    fields = {}
    for item in rest.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep or name in fields:
            fields = None
            break
        fields[name] = value.strip()
    if fields is None or set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        raise AuthFailure(
            "The Authorization header is malformed; it needs Credential, "
            "SignedHeaders and Signature.",
            s3Code="AuthorizationHeaderMalformed",
            s3Status=400,
        )
    accessKey, date, region, service = _splitCredential(fields["Credential"], False)
    return _SigV4(
        accessKey=accessKey,
        date=date,
        region=region,
        service=service,
        signedHeaders=fields["SignedHeaders"],
        signature=fields["Signature"],
        presigned=False,
    )


_PRESIGN_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)


def _isSigV4Query(parts):
    return any(
        name in (b"X-Amz-Algorithm", b"X-Amz-Credential", b"X-Amz-Signature")
        for name, _ in _queryPairs(parts.query)
    )


def _parseSigV4Query(parts):
    """
    Parse the C{X-Amz-*} parameters of a presigned request.

    @raise MissingAuthParameter: if one is missing or malformed.
    @raise AuthFailure: if the algorithm is not supported.
    """
    params = _queryParams(parts.query, _PRESIGN_PARAMS)
    missing = [name for name in _PRESIGN_PARAMS if not params.get(name)]
    if missing:
        raise MissingAuthParameter(
            "Query-string authentication version 4 requires the "
            "X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, "
            "X-Amz-SignedHeaders, and X-Amz-Expires parameters; missing "
            + ", ".join(missing) + ".",
            s3Code="AuthorizationQueryParametersError",
            s3Status=400,
        )
    if params["X-Amz-Algorithm"] != _SIGV4_ALGORITHM:
        raise AuthFailure(
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\".",
            s3Code="AuthorizationQueryParametersError",
            s3Status=400,
        )
    expires = params["X-Amz-Expires"]
    if not re.match(r"\A\d{1,9}\Z", expires):
        raise MissingAuthParameter(
            "X-Amz-Expires should be a number of seconds.",
            s3Code="AuthorizationQueryParametersError",
            s3Status=400,
        )
    expires = int(expires)
    if expires > _MAX_PRESIGN_SECONDS:
        raise MissingAuthParameter(
            "X-Amz-Expires must be less than a week (in seconds) that is, "
            "the given X-Amz-Expires must be less than 604800 seconds.",
            s3Code="AuthorizationQueryParametersError",
            s3Status=400,
        )
    accessKey, date, region, service = _splitCredential(
        params["X-Amz-Credential"], True
    )
    return _SigV4(
        accessKey=accessKey,
        date=date,
        region=region,
        service=service,
        signedHeaders=params["X-Amz-SignedHeaders"],
        signature=params["X-Amz-Signature"],
        presigned=True,
        timestamp=params["X-Amz-Date"],
        expires=expires,
    )


def _headerTimestamp(parts):
    """
    The timestamp of a request signed in its C{Authorization} header: the
    C{X-Amz-Date} header, or else the C{Date} header.

    @return: a L{tuple} of the timestamp as signed (C{YYYYMMDDTHHMMSSZ}) and
        seconds since the epoch.
    @raise MissingAuthParameter: if neither header holds a valid date.
    """
    amzDate = parts.headers.get("x-amz-date")
    try:
        if amzDate is not None:
            seconds = _parseSigV4Timestamp(amzDate.strip())
            return amzDate.strip(), seconds
        date = parts.headers.get("date")
        if date is not None:
            seconds = _parseHTTPDate(date)
            return _formatSigV4Timestamp(seconds), seconds
    except ValueError:
        pass
    raise MissingAuthParameter(
        "AWS authentication requires a valid Date or x-amz-date header."
    )


def _checkSignedHeaders(sigv4, parts, s3):
    """
    Check the list of signed headers and build the canonical headers.

    @return: the canonical headers block (each line ending with a newline).
    @raise MissingAuthParameter: if the host is not signed, or (S3) an
        C{x-amz-*} header is present but not signed.
    @raise SignatureDoesNotMatch: if a signed header is absent.
    """
    names = sigv4.signedHeaders.split(";")
    if names != sorted(set(names)) or any(name != name.lower() for name in names):
        raise SignatureDoesNotMatch(
            "SignedHeaders must be lower-case header names, sorted, "
            "separated by ';'."
        )
    if "host" not in names:
        raise MissingAuthParameter(
            "The host header must be signed.",
            s3Code="AccessDenied",
            s3Status=403,
        )
    if s3:
        unsigned = sorted(
            name
            for name in parts.headers
            if name.startswith("x-amz-") and name not in names
        )
        if unsigned:
            raise MissingAuthParameter(
                "There were headers present in the request which were not "
                "signed: " + ", ".join(unsigned) + ".",
                s3Code="AccessDenied",
                s3Status=403,
            )
    lines = []
    for name in names:
        if name == "host":
            value = parts.host
        elif name in parts.headers:
            value = parts.headers[name]
        else:
            raise SignatureDoesNotMatch(f"The signed header {name} is absent.")
        lines.append(f"{name}:{_trimAll(value)}\n")
    return "".join(lines)


def _checkSigV4Time(sigv4, timestamp, seconds, now, maxSkew):
    """
    Check a version 4 request's time: the scope date, the clock skew of a
    header-signed request, or the validity period of a presigned one.

    @raise SignatureDoesNotMatch: if the scope date is not the request's.
    @raise RequestExpired: if the request is too old or too new.
    """
    if sigv4.date != timestamp[:8]:
        raise SignatureDoesNotMatch(
            "The date in the Credential scope does not match the date of "
            "the request."
        )
    if sigv4.presigned:
        if seconds - now > maxSkew:
            raise RequestExpired("Request is not valid yet.")
        if now > seconds + sigv4.expires:
            raise RequestExpired("Request has expired.")
    elif abs(now - seconds) > maxSkew:
        raise RequestExpired(
            "The difference between the request time and the current time "
            "is too large.",
            s3Code="RequestTimeTooSkewed",
            s3Status=403,
        )


def _sigV4CanonicalRequest(parts, sigv4, canonicalURI, canonicalHeaders, payloadHash):
    """
    @param canonicalURI: the path as the service canonicalizes it
        (L{_ec2CanonicalURI} or L{_s3CanonicalURI}).
    @return: the version 4 canonical request (L{str}).
    """
    return "\n".join(
        [
            parts.method,
            canonicalURI,
            _canonicalQuery(
                parts.query, exclude=("X-Amz-Signature",) if sigv4.presigned else ()
            ),
            canonicalHeaders,
            sigv4.signedHeaders,
            payloadHash,
        ]
    )


def _sigV4Signature(secretKey, sigv4, timestamp, canonicalRequest):
    """
    @return: the signing key and the signature of C{canonicalRequest}.
    """
    stringToSign = "\n".join(
        [
            _SIGV4_ALGORITHM,
            timestamp,
            sigv4.scope,
            hashlib.sha256(_bytes(canonicalRequest)).hexdigest(),
        ]
    )
    key = signingKey(secretKey, sigv4.date, sigv4.region, sigv4.service)
    return key, hmac.new(key, _bytes(stringToSign), hashlib.sha256).hexdigest()


def _checkService(sigv4, service):
    if sigv4.service != service:
        raise AuthFailure(
            f"Credential should be scoped to correct service: '{service}'.",
            s3Code=(
                "AuthorizationQueryParametersError"
                if sigv4.presigned
                else "AuthorizationHeaderMalformed"
            ),
            s3Status=400,
        )


def _sigV4Timestamp(sigv4, parts):
    if sigv4.presigned:
        try:
            return sigv4.timestamp, _parseSigV4Timestamp(sigv4.timestamp)
        except ValueError:
            raise MissingAuthParameter(
                "X-Amz-Date must be in the ISO8601 Long Format "
                "\"yyyyMMdd'T'HHmmss'Z'\".",
                s3Code="AuthorizationQueryParametersError",
                s3Status=400,
            ) from None
    return _headerTimestamp(parts)


# EC2


def _isSigV2Params(params):
    return "AWSAccessKeyId" in params


def ec2AccessKey(parts, params):
    """
    Find the access key an EC2 request claims.

    @param parts: the L{HTTPRequestParts}.
    @param params: the decoded query (or, for C{POST}, form) parameters,
        a L{dict} from L{str} to L{str}: what the API will act on.
    @return: the access key as given (maybe C{access:project}; see
        L{splitAccessKey}).
    @raise AuthFailure: if the request carries no credentials or malformed
        ones.
    @raise MissingAuthParameter: if a presigned request lacks a parameter.
    """
    if _isSigV4Header(parts):
        return _parseSigV4Header(parts).accessKey
    if _isSigV4Query(parts):
        return _parseSigV4Query(parts).accessKey
    if _isSigV2Params(params):
        accessKey = params["AWSAccessKeyId"]
        if accessKey:
            return accessKey
    raise AuthFailure("AWS was not able to validate the provided access credentials.")


def verifyEC2(parts, params, secretKey, now, maxSkew=900, weakSignatures=False):
    """
    Verify the signature of an EC2 Query API request.

    @param parts: the L{HTTPRequestParts}; C{body} is the form body of a
        C{POST} (its hash is signed in version 4).
    @param params: the decoded parameters the API will act on (see
        L{ec2AccessKey}); version 2 signs these.
    @param secretKey: the secret key of the access key that
        L{ec2AccessKey} returned.
    @param now: the current time, in seconds since the epoch.
    @param maxSkew: how far, in seconds, a request's timestamp may be from
        C{now}.
    @param weakSignatures: whether signature versions 0 and 1 are
        accepted; if not, they are refused with L{AuthFailure} saying so.
    @raise AuthFailure: if the authentication is malformed or unsupported.
    @raise MissingAuthParameter: if a parameter it needs is missing.
    @raise RequestExpired: if the timestamp is too old or too far in the
        future, or C{Expires} or C{X-Amz-Expires} has passed.
    @raise SignatureDoesNotMatch: if the signature does not match.
    """
    if _isSigV4Header(parts):
        _verifyEC2SigV4(parts, _parseSigV4Header(parts), secretKey, now, maxSkew)
    elif _isSigV4Query(parts):
        _verifyEC2SigV4(parts, _parseSigV4Query(parts), secretKey, now, maxSkew)
    elif _isSigV2Params(params):
        _verifyEC2Query(parts, params, secretKey, now, maxSkew, weakSignatures)
    else:
        raise AuthFailure(
            "AWS was not able to validate the provided access credentials."
        )


_SIGV2_METHODS = {"HmacSHA256": hashlib.sha256, "HmacSHA1": hashlib.sha1}


#: The signature versions of EC2's query parameters that are weak: signed
#: with HMAC-SHA1, over too little (version 0) or ambiguously (version 1).
WEAK_SIGNATURE_VERSIONS = ("0", "1")


def _verifyEC2Query(parts, params, secretKey, now, maxSkew, weakSignatures):
    """
    Verify a signature carried in the parameters (C{AWSAccessKeyId},
    C{SignatureVersion}, C{Signature}): version 2, or 0 and 1 when
    C{weakSignatures} is set.
    """
    for name in ("Signature", "SignatureVersion"):
        if not params.get(name):
            raise MissingAuthParameter(
                f"The request must contain the parameter {name}."
            )
    version = params["SignatureVersion"]
    if version in WEAK_SIGNATURE_VERSIONS:
        if not weakSignatures:
            raise AuthFailure(
                f"Signature version {version} is disabled on this server: "
                "signature versions 0 and 1 are weak. Use signature version "
                "2 or 4."
            )
        _verifyEC2SigV0V1(params, secretKey, now, maxSkew)
    elif version == "2":
        _verifyEC2SigV2(parts, params, secretKey, now, maxSkew)
    else:
        raise AuthFailure(f"Signature version {version[:20]} is not supported.")


def _verifyEC2SigV0V1(params, secretKey, now, maxSkew):
    """
    Verify signature version 0 or 1, as Cactus (and boto 2's
    C{QuerySignatureV0AuthHandler} and C{QuerySignatureV1AuthHandler})
    computed them: HMAC-SHA1 of C{Action} followed by C{Timestamp}
    (version 0), or of every parameter but C{Signature}, sorted by name
    case-insensitively, each name followed by its value (version 1).
    """
    method = params.get("SignatureMethod")
    if method not in (None, "", "HmacSHA1"):
        raise AuthFailure(
            f"Signature method {method[:20]} is not supported with signature "
            f"version {params['SignatureVersion']}; it is HmacSHA1."
        )
    if params["SignatureVersion"] == "0":
        for name in ("Action", "Timestamp"):
            if not params.get(name):
                raise MissingAuthParameter(
                    f"The request must contain the parameter {name}."
                )
        _checkSigV2Time(params, now, maxSkew)
        stringToSign = _bytes(params["Action"] + params["Timestamp"])
    else:
        _checkSigV2Time(params, now, maxSkew)
        names = sorted((name for name in params if name != "Signature"), key=str.lower)
        stringToSign = b"".join(_bytes(name) + _bytes(params[name]) for name in names)
    mac = hmac.new(_bytes(secretKey), stringToSign, hashlib.sha1)
    expected = base64.b64encode(mac.digest()).decode("ascii")
    if not _equal(expected, params["Signature"]):
        raise SignatureDoesNotMatch()


def _verifyEC2SigV2(parts, params, secretKey, now, maxSkew):
    if not params.get("SignatureMethod"):
        raise MissingAuthParameter(
            "The request must contain the parameter SignatureMethod."
        )
    digest = _SIGV2_METHODS.get(params["SignatureMethod"])
    if digest is None:
        raise AuthFailure(
            f"Signature method {params['SignatureMethod']} is not supported."
        )
    _checkSigV2Time(params, now, maxSkew)

    query = "&".join(
        quote(_bytes(name), safe="") + "=" + quote(_bytes(params[name]), safe="-_~")
        for name in sorted(params)
        if name != "Signature"
    )
    path = parts.path or "/"
    given = params["Signature"]
    matched = False
    for host in _hostCandidates(parts.host):
        stringToSign = f"{parts.method}\n{host}\n{path}\n{query}"
        mac = hmac.new(_bytes(secretKey), _bytes(stringToSign), digest)
        expected = base64.b64encode(mac.digest()).decode("ascii")
        matched |= _equal(expected, given)
    if not matched:
        raise SignatureDoesNotMatch()


def _checkSigV2Time(params, now, maxSkew):
    timestamp = params.get("Timestamp")
    expires = params.get("Expires")
    if timestamp is None and expires is None:
        raise MissingAuthParameter(
            "The request must contain either a valid Timestamp or Expires "
            "parameter."
        )
    if timestamp is not None and expires is not None:
        raise AuthFailure("The request must not contain both Timestamp and Expires.")
    name, value = ("Timestamp", timestamp) if timestamp is not None else (
        "Expires", expires
    )
    try:
        seconds = _parseISO8601(value)
    except ValueError:
        raise AuthFailure(f"Invalid {name}: {value!r}.") from None
    if timestamp is not None:
        if now - seconds > maxSkew:
            raise RequestExpired(f"Request has expired; Timestamp is {value}.")
        if seconds - now > maxSkew:
            raise RequestExpired(
                f"Timestamp {value} is too far in the future."
            )
    elif now > seconds:
        raise RequestExpired(f"Request has expired; Expires is {value}.")


def _verifyEC2SigV4(parts, sigv4, secretKey, now, maxSkew):
    # The scope's region and service are not checked: boto 2 takes them
    # from the endpoint's host name (C{<service>.<region>.example.com}).
    # They only select the signing key; the canonical request still binds
    # the host, path, query and body.
    timestamp, seconds = _sigV4Timestamp(sigv4, parts)
    _checkSigV4Time(sigv4, timestamp, seconds, now, maxSkew)
    canonicalHeaders = _checkSignedHeaders(sigv4, parts, False)
    payloadHash = hashlib.sha256(parts.body or b"").hexdigest()
    canonicalRequest = _sigV4CanonicalRequest(
        parts, sigv4, _ec2CanonicalURI(parts.path), canonicalHeaders, payloadHash
    )
    _, expected = _sigV4Signature(secretKey, sigv4, timestamp, canonicalRequest)
    if not _equal(expected, sigv4.signature):
        raise SignatureDoesNotMatch()


# S3


@attr.s(frozen=True)
class S3Verification:
    """
    The outcome of verifying an S3 request's signature.

    @ivar accessKey: the access key as given (see L{splitAccessKey}).
    @ivar payloadHash: for signature version 4, the C{x-amz-content-sha256}
        that was signed: a SHA-256 hex digest that the caller must compare
        with the digest of the body it receives (answering
        C{XAmzContentSHA256Mismatch} otherwise), or L{UNSIGNED_PAYLOAD}, or
        L{STREAMING_PAYLOAD}.  L{None} for signature version 2.
    @ivar chunkDecoder: for L{STREAMING_PAYLOAD}, the L{ChunkDecoder} the
        body must be fed through; otherwise L{None}.
    """

    accessKey = attr.ib()
    payloadHash = attr.ib(default=None)
    chunkDecoder = attr.ib(default=None)


# The sub-resources that version 2 signatures cover: the union of what
# botocore and boto sign.
S3_SUBRESOURCES = frozenset(
    [
        "accelerate", "acl", "analytics", "billing", "compose", "cors",
        "defaultObjectAcl", "delete", "encryptionConfig", "inventory",
        "lifecycle", "location", "logging", "metrics", "notification",
        "object-lock", "partNumber", "policy", "replication",
        "requestPayment", "response-cache-control",
        "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-content-type",
        "response-expires", "restore", "select", "select-type",
        "storageClass", "tagging", "torrent", "uploadId", "uploads",
        "userProject", "versionId", "versioning", "versions", "website",
        "websiteConfig",
    ]
)

_S3V2_QUERY_PARAMS = ("AWSAccessKeyId", "Expires", "Signature")


def _s3Scheme(parts):
    """
    Which scheme authenticates an S3 request.

    @return: C{"v4"}, C{"v2"}, C{"v4-query"}, C{"v2-query"} or L{None}
        (anonymous).
    @raise AuthFailure: if the C{Authorization} header is of an unknown
        kind, or both a header and query parameters authenticate.
    """
    authorization = parts.headers.get("authorization")
    names = {_text(name) for name, _ in _queryPairs(parts.query)}
    v4Query = bool(names & {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"})
    v2Query = bool(names & {"AWSAccessKeyId", "Signature"})
    if authorization is not None:
        if v4Query or v2Query:
            raise AuthFailure(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm "
                "query parameter, Signature query string parameter or the "
                "Authorization header should be specified.",
                s3Code="InvalidArgument",
                s3Status=400,
            )
        scheme = authorization.split(" ", 1)[0]
        if scheme == _SIGV4_ALGORITHM:
            return "v4"
        if scheme == "AWS":
            return "v2"
        raise AuthFailure(
            "Unsupported Authorization Type.",
            s3Code="InvalidArgument",
            s3Status=400,
        )
    if v4Query and v2Query:
        raise AuthFailure(
            "Only one auth mechanism allowed.",
            s3Code="InvalidArgument",
            s3Status=400,
        )
    if v4Query:
        return "v4-query"
    if v2Query:
        return "v2-query"
    return None


def _parseS3V2Header(parts):
    authorization = parts.headers["authorization"]
    credentials = authorization.split(" ", 1)[1].strip() if " " in authorization else ""
    accessKey, sep, signature = credentials.rpartition(":")
    if not sep or not accessKey or not signature:
        raise AuthFailure(
            "The Authorization header is malformed; expecting "
            "\"AWS <access>:<signature>\".",
            s3Code="InvalidArgument",
            s3Status=400,
        )
    return accessKey, signature


def _parseS3V2Query(parts):
    params = _queryParams(parts.query, _S3V2_QUERY_PARAMS)
    if any(not params.get(name) for name in _S3V2_QUERY_PARAMS):
        raise MissingAuthParameter(
            "Query-string authentication requires the Signature, Expires and "
            "AWSAccessKeyId parameters.",
            s3Code="AccessDenied",
            s3Status=403,
        )
    return params


def s3AccessKey(parts):
    """
    Find the access key an S3 request claims.

    @param parts: the L{HTTPRequestParts}.
    @return: the access key as given (maybe C{access:project}; see
        L{splitAccessKey}), or L{None} for an anonymous request (no
        C{Authorization} header and no presigning parameters).
    @raise AuthFailure: if the credentials are malformed.
    @raise MissingAuthParameter: if presigning parameters are missing.
    """
    scheme = _s3Scheme(parts)
    if scheme is None:
        return None
    if scheme == "v4":
        return _parseSigV4Header(parts).accessKey
    if scheme == "v4-query":
        return _parseSigV4Query(parts).accessKey
    if scheme == "v2":
        return _parseS3V2Header(parts)[0]
    return _parseS3V2Query(parts)["AWSAccessKeyId"]


def verifyS3(
    parts,
    secretKey,
    now,
    maxSkew=900,
    virtualBucket=None,
    maxChunkSize=None,
):
    """
    Verify the signature of an authenticated S3 request (one for which
    L{s3AccessKey} did not return L{None}).

    @param parts: the L{HTTPRequestParts}; its C{body} is not used (the
        payload streams: see L{S3Verification.payloadHash} and
        L{S3Verification.chunkDecoder}).
    @param secretKey: the secret key of the access key that
        L{s3AccessKey} returned.
    @param now: the current time, in seconds since the epoch.
    @param maxSkew: how far, in seconds, the time of a request signed in
        its header may be from C{now}.
    @param virtualBucket: for a virtual-hosted-style request (the bucket is
        named by the C{Host} header, as C{bucket.s3.example.com}), the
        bucket's name: version 2 signs C{/bucket/key}, while the path sent is
        C{/key}.  The caller, which routes the request, knows it.  L{None}
        for path-style requests.
    @param maxChunkSize: the largest chunk a L{ChunkDecoder} accepts
        (L{ChunkDecoder.MAX_CHUNK_SIZE} when L{None}).
    @return: an L{S3Verification}.
    @raise AuthFailure: if the authentication is missing, malformed or
        unsupported.
    @raise MissingAuthParameter: if a parameter or header it needs is
        missing, or an C{x-amz-*} header is not signed.
    @raise RequestExpired: if the request's time is too far from C{now} or
        a presigned request has expired.
    @raise SignatureDoesNotMatch: if the signature does not match.
    """
    scheme = _s3Scheme(parts)
    if scheme is None:
        raise AuthFailure("The request is not authenticated.", s3Code="AccessDenied")
    if scheme in ("v4", "v4-query"):
        sigv4 = (
            _parseSigV4Header(parts) if scheme == "v4" else _parseSigV4Query(parts)
        )
        return _verifyS3SigV4(parts, sigv4, secretKey, now, maxSkew, maxChunkSize)
    return _verifyS3SigV2(parts, scheme, secretKey, now, maxSkew, virtualBucket)


_BUCKET_RESOURCE = re.compile(r"\A/[^/]+/?\Z")


def _s3V2CanonicalResources(parts, virtualBucket):
    """
    The canonical resources a version 2 signature of the request may
    cover: the path (with the bucket in front for a virtual-hosted
    request) and the signed sub-resources.

    A request on a bucket itself is spelt two ways by clients: AWS's rule
    gives C{/bucket} for the path-style C{GET /bucket} and C{/bucket/} for
    a virtual-hosted C{GET /}; botocore signs C{/bucket/} in both styles,
    boto 2 sends and signs C{/bucket/}.  Both spellings are accepted for a
    bucket, and only for a bucket.

    @return: a L{tuple} of one or two resources (L{str}).
    """
    path = parts.path or "/"
    if virtualBucket is not None:
        path = "/" + virtualBucket + path
    paths = [path]
    if _BUCKET_RESOURCE.match(path):
        paths.append(path[:-1] if path.endswith("/") else path + "/")
    subresources = []
    for field in parts.query.split("&"):
        name, sep, value = field.partition("=")
        if name in S3_SUBRESOURCES:
            subresources.append((name, sep, unquote(value, errors="surrogateescape")))
    suffix = ""
    if subresources:
        subresources.sort(key=lambda item: item[0])
        suffix = "?" + "&".join("".join(item) for item in subresources)
    return tuple(path + suffix for path in paths)


def _s3V2Date(headers):
    """
    The time of a version 2 request signed in its header: its
    C{x-amz-date}, or else its C{Date}.

    @return: seconds since the epoch.
    @raise MissingAuthParameter: if neither holds a valid date.
    """
    text = headers.get("x-amz-date", headers.get("date"))
    if text is not None:
        for parse in (_parseHTTPDate, _parseSigV4Timestamp):
            try:
                return parse(text.strip())
            except ValueError:
                pass
    raise MissingAuthParameter(
        "AWS authentication requires a valid Date or x-amz-date header."
    )


def _verifyS3SigV2(parts, scheme, secretKey, now, maxSkew, virtualBucket):
    headers = parts.headers
    amzHeaders = {
        name: value
        for name, value in headers.items()
        if name.startswith("x-amz-")
    }
    standard = {
        name: headers[name]
        for name in ("content-md5", "content-type")
        if name in headers
    }
    if scheme == "v2":
        accessKey, given = _parseS3V2Header(parts)
        # With an x-amz-date header, the Date line is empty (x-amz-date is
        # signed among the x-amz-* headers).
        dateLine = "" if "x-amz-date" in headers else headers.get("date", "")
        seconds = _s3V2Date(headers)
        if abs(now - seconds) > maxSkew:
            raise RequestExpired(
                "The difference between the request time and the current "
                "time is too large.",
                s3Code="RequestTimeTooSkewed",
                s3Status=403,
            )
    else:
        params = _parseS3V2Query(parts)
        accessKey, given = params["AWSAccessKeyId"], params["Signature"]
        if not re.match(r"\A\d{1,12}\Z", params["Expires"]):
            raise AuthFailure(
                "Invalid date (should be seconds since epoch): "
                f"{params['Expires']!r}.",
                s3Code="AccessDenied",
            )
        dateLine = params["Expires"]
        if now > int(dateLine):
            raise RequestExpired("Request has expired.")
        # Presigning clients move x-amz-* headers, Content-Type and
        # Content-MD5 into the query string.
        for name, value in _queryPairs(parts.query):
            name = _text(name).lower()
            if name.startswith("x-amz-"):
                amzHeaders.setdefault(name, _text(value))
            elif name in ("content-md5", "content-type"):
                standard.setdefault(name, _text(value))

    lines = [
        parts.method,
        standard.get("content-md5", "").strip(),
        standard.get("content-type", "").strip(),
        dateLine.strip(),
    ]
    lines.extend(f"{name}:{amzHeaders[name].strip()}" for name in sorted(amzHeaders))
    for resource in _s3V2CanonicalResources(parts, virtualBucket):
        stringToSign = "\n".join(lines + [resource])
        mac = hmac.new(_bytes(secretKey), _bytes(stringToSign), hashlib.sha1)
        expected = base64.b64encode(mac.digest()).decode("ascii")
        if _equal(expected, given):
            return S3Verification(accessKey=accessKey)
    raise SignatureDoesNotMatch()


def _verifyS3SigV4(parts, sigv4, secretKey, now, maxSkew, maxChunkSize):
    _checkService(sigv4, "s3")
    timestamp, seconds = _sigV4Timestamp(sigv4, parts)
    _checkSigV4Time(sigv4, timestamp, seconds, now, maxSkew)
    if sigv4.presigned:
        given = _queryParams(parts.query, ("X-Amz-Content-Sha256",))
        payloadHash = given.get(
            "X-Amz-Content-Sha256",
            parts.headers.get("x-amz-content-sha256", UNSIGNED_PAYLOAD),
        )
    else:
        payloadHash = parts.headers.get("x-amz-content-sha256")
        if payloadHash is None:
            raise MissingAuthParameter(
                "Missing required header for this request: x-amz-content-sha256.",
                s3Code="InvalidRequest",
                s3Status=400,
            )
    if payloadHash not in (UNSIGNED_PAYLOAD, STREAMING_PAYLOAD) and not _HEX64.match(
        payloadHash
    ):
        raise AuthFailure(
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.",
            s3Code="InvalidArgument",
            s3Status=400,
        )
    if payloadHash == STREAMING_PAYLOAD and sigv4.presigned:
        raise AuthFailure(
            "A presigned request cannot stream a signed payload.",
            s3Code="InvalidArgument",
            s3Status=400,
        )
    decodedLength = None
    if payloadHash == STREAMING_PAYLOAD:
        text = parts.headers.get("x-amz-decoded-content-length", "").strip()
        if not text.isdigit():
            raise MissingAuthParameter(
                "A streaming upload needs an x-amz-decoded-content-length header.",
                s3Code="MissingContentLength",
                s3Status=411,
            )
        decodedLength = int(text)

    canonicalHeaders = _checkSignedHeaders(sigv4, parts, True)
    canonicalRequest = _sigV4CanonicalRequest(
        parts, sigv4, _s3CanonicalURI(parts.path), canonicalHeaders, payloadHash
    )
    key, expected = _sigV4Signature(secretKey, sigv4, timestamp, canonicalRequest)
    if not _equal(expected, sigv4.signature):
        raise SignatureDoesNotMatch()
    decoder = None
    if payloadHash == STREAMING_PAYLOAD:
        decoder = ChunkDecoder(
            key,
            timestamp,
            sigv4.scope,
            expected,
            decodedLength=decodedLength,
            maxChunkSize=maxChunkSize,
        )
    return S3Verification(
        accessKey=sigv4.accessKey, payloadHash=payloadHash, chunkDecoder=decoder
    )


# aws-chunked bodies


class ChunkDecoder:
    """
    Decode an C{aws-chunked} body (C{STREAMING-AWS4-HMAC-SHA256-PAYLOAD})
    incrementally, checking the signature of each chunk.

    The body is a series of chunks::

        <hex size>;chunk-signature=<signature>\\r\\n<data>\\r\\n

    ending with a chunk of size 0.  Each chunk's signature chains from the
    previous one, starting at the seed signature of the request's headers.
    Data is returned only once its chunk's signature has been checked, so
    at most one chunk is held in memory (at most C{maxChunkSize} bytes).

    @cvar MAX_CHUNK_SIZE: the default largest chunk accepted.
    @cvar MAX_LINE: the longest chunk header line accepted.
    """

    MAX_CHUNK_SIZE = 16 * 1024 * 1024
    MAX_LINE = 1024

    _HEADER = re.compile(rb"\A([0-9a-fA-F]{1,16});chunk-signature=([0-9a-f]{64})\r\n\Z")

    def __init__(
        self,
        signingKey,
        timestamp,
        scope,
        seedSignature,
        decodedLength=None,
        maxChunkSize=None,
    ):
        """
        @param signingKey: the version 4 signing key (see L{signingKey}).
        @param timestamp: the request's timestamp, C{YYYYMMDDTHHMMSSZ}.
        @param scope: the credential scope, C{date/region/s3/aws4_request}.
        @param seedSignature: the signature of the request's headers.
        @param decodedLength: the C{x-amz-decoded-content-length}, or
            L{None} not to check the length.
        @param maxChunkSize: the largest chunk accepted;
            L{MAX_CHUNK_SIZE} when L{None}.
        """
        self._key = signingKey
        self._prefix = f"AWS4-HMAC-SHA256-PAYLOAD\n{timestamp}\n{scope}\n"
        self._previous = seedSignature
        self._decodedLength = decodedLength
        self._maxChunkSize = (
            self.MAX_CHUNK_SIZE if maxChunkSize is None else maxChunkSize
        )
        self._state = "header"
        self._line = bytearray()
        self._chunk = bytearray()
        self._hash = None
        self._size = 0
        self._remaining = 0
        self._signature = None
        self.decoded = 0
        self.finished = False

    def feed(self, data):
        """
        Decode more of the body.

        @param data: the next bytes of the body, split anywhere.
        @return: the payload bytes of the chunks completed and verified so
            far by this call (maybe empty).
        @raise InvalidChunk: if a chunk's signature does not match (this is
            a L{SignatureDoesNotMatch}).
        @raise IncompleteBody: if the body is not well-formed
            C{aws-chunked}, continues past its final chunk, or is longer
            than its declared decoded length.
        """
        data = bytes(data)
        output = []
        view = memoryview(data)
        position, end = 0, len(data)
        while position < end:
            if self._state == "header":
                newline = data.find(b"\n", position, position + self.MAX_LINE)
                stop = end if newline == -1 else newline + 1
                self._line += view[position:stop]
                position = stop
                if len(self._line) > self.MAX_LINE:
                    raise IncompleteBody("A chunk header line is too long.")
                if newline != -1:
                    self._startChunk()
            elif self._state == "data":
                take = min(self._remaining, end - position)
                piece = view[position:position + take]
                self._hash.update(piece)
                self._chunk += piece
                self._remaining -= take
                position += take
                if self._remaining == 0:
                    self._verifyChunk()
            elif self._state == "crlf":
                take = min(2 - len(self._line), end - position)
                self._line += view[position:position + take]
                position += take
                if len(self._line) == 2:
                    if self._line != b"\r\n":
                        raise IncompleteBody("A chunk does not end with CRLF.")
                    self._line.clear()
                    if self._size == 0:
                        self._state = "done"
                        self.finished = True
                    else:
                        output.append(bytes(self._chunk))
                        self._chunk.clear()
                        self._state = "header"
            else:
                raise IncompleteBody("The body continues after its final chunk.")
        return b"".join(output)

    def _startChunk(self):
        match = self._HEADER.match(bytes(self._line))
        self._line.clear()
        if match is None:
            raise IncompleteBody("A chunk header is malformed.")
        size = int(match.group(1), 16)
        if size > self._maxChunkSize:
            raise IncompleteBody(
                f"A chunk of {size} bytes is larger than the "
                f"{self._maxChunkSize} bytes allowed."
            )
        total = self.decoded + size
        if self._decodedLength is not None and total > self._decodedLength:
            raise IncompleteBody(
                "The body is longer than its x-amz-decoded-content-length."
            )
        self._size = self._remaining = size
        self._signature = match.group(2).decode("ascii")
        self._hash = hashlib.sha256()
        if size == 0:
            self._verifyChunk()
        else:
            self._state = "data"

    def _verifyChunk(self):
        stringToSign = (
            f"{self._prefix}{self._previous}\n{_EMPTY_SHA256}\n"
            f"{self._hash.hexdigest()}"
        )
        expected = hmac.new(
            self._key, stringToSign.encode("ascii"), hashlib.sha256
        ).hexdigest()
        if not _equal(expected, self._signature):
            raise InvalidChunk()
        self._previous = expected
        self.decoded += self._size
        self._state = "crlf"

    def finish(self):
        """
        Check that the whole body arrived.

        @raise IncompleteBody: if the final chunk did not arrive, or the
            decoded length is not the declared one.
        """
        if not self.finished:
            raise IncompleteBody()
        if self._decodedLength is not None and self.decoded != self._decodedLength:
            raise IncompleteBody(
                f"The body decoded to {self.decoded} bytes, not the "
                f"{self._decodedLength} of its x-amz-decoded-content-length."
            )
