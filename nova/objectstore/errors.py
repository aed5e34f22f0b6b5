# -*- test-case-name: tests.objectstore.test_resource -*-
"""
The errors of the S3 API.

Each class is one S3 error code: C{s3Code} is the C{<Code>} of the error
document, C{httpStatus} its status, and the docstring's first line the
C{<Message>} AWS sends.  Stores raise them (a missing bucket is
L{NoSuchBucket} whichever backend is behind), the resource turns them into
the error document in one place.  C{extra} holds the further elements AWS
adds to the document (C{BucketName}, C{Key}, C{UploadId}, ...).
"""

from nova.exception import NovaError


class S3Error(NovaError):
    """We encountered an internal error. Please try again."""

    code = "S3InternalError"
    s3Code = "InternalError"
    httpStatus = 500

    def __init__(self, message=None, **extra):
        super().__init__(message)
        self.extra = extra


def _define(name, status, message):
    cls = type(
        name,
        (S3Error,),
        {"__doc__": message, "code": "S3" + name, "s3Code": name, "httpStatus": status},
    )
    cls.__module__ = __name__
    return cls


AccessDenied = _define("AccessDenied", 403, "Access Denied")
AccessForbidden = _define(
    "AccessForbidden",
    403,
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of "
    "Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers "
    "are not whitelisted by the resource's CORS spec.",
)
BadRequest = _define("BadRequest", 400, "An error occurred when parsing the HTTP request.")
BadDigest = _define(
    "BadDigest", 400, "The Content-MD5 you specified did not match what we received."
)
BucketAlreadyExists = _define(
    "BucketAlreadyExists",
    409,
    "The requested bucket name is not available. The bucket namespace is shared by all "
    "users of the system. Please select a different name and try again.",
)
BucketAlreadyOwnedByYou = _define(
    "BucketAlreadyOwnedByYou",
    409,
    "Your previous request to create the named bucket succeeded and you already own it.",
)
BucketNotEmpty = _define("BucketNotEmpty", 409, "The bucket you tried to delete is not empty")
EntityTooLarge = _define(
    "EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size"
)
EntityTooSmall = _define(
    "EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed size"
)
IncompleteBody = _define(
    "IncompleteBody",
    400,
    "You did not provide the number of bytes specified by the Content-Length HTTP header",
)
InternalError = S3Error
InvalidArgument = _define("InvalidArgument", 400, "Invalid Argument")
InvalidBucketName = _define("InvalidBucketName", 400, "The specified bucket is not valid.")
InvalidDigest = _define("InvalidDigest", 400, "The Content-MD5 you specified was invalid.")
InvalidLocationConstraint = _define(
    "InvalidLocationConstraint", 400, "The specified location-constraint is not valid"
)
InvalidPart = _define(
    "InvalidPart",
    400,
    "One or more of the specified parts could not be found.  The part may not have been "
    "uploaded, or the specified entity tag may not match the part's entity tag.",
)
InvalidPartOrder = _define(
    "InvalidPartOrder",
    400,
    "The list of parts was not in ascending order. Parts must be ordered by part number.",
)
InvalidPartNumber = _define(
    "InvalidPartNumber", 416, "The requested partnumber is not satisfiable"
)
InvalidRange = _define("InvalidRange", 416, "The requested range is not satisfiable")
InvalidRequest = _define("InvalidRequest", 400, "Invalid Request")
InvalidURI = _define("InvalidURI", 400, "Couldn't parse the specified URI.")
KeyTooLongError = _define("KeyTooLongError", 400, "Your key is too long")
MalformedACLError = _define(
    "MalformedACLError",
    400,
    "The XML you provided was not well-formed or did not validate against our published schema",
)
MalformedXML = _define(
    "MalformedXML",
    400,
    "The XML you provided was not well-formed or did not validate against our published schema",
)
MetadataTooLarge = _define(
    "MetadataTooLarge", 400, "Your metadata headers exceed the maximum allowed metadata size"
)
MethodNotAllowed = _define(
    "MethodNotAllowed", 405, "The specified method is not allowed against this resource."
)
MissingContentLength = _define(
    "MissingContentLength", 411, "You must provide the Content-Length HTTP header."
)
MissingSecurityHeader = _define(
    "MissingSecurityHeader", 400, "Your request was missing a required header"
)
NoSuchBucket = _define("NoSuchBucket", 404, "The specified bucket does not exist")
NoSuchKey = _define("NoSuchKey", 404, "The specified key does not exist.")
NoSuchVersion = _define(
    "NoSuchVersion",
    404,
    "The specified version does not exist.",
)
IllegalVersioningConfigurationException = _define(
    "IllegalVersioningConfigurationException",
    400,
    "The Versioning element must be specified",
)
NoSuchUpload = _define(
    "NoSuchUpload",
    404,
    "The specified upload does not exist. The upload ID may be invalid, or the upload may "
    "have been aborted or completed.",
)
NotImplemented_ = _define(
    "NotImplemented", 501, "A header you provided implies functionality that is not implemented"
)
NotModified = _define("NotModified", 304, "Not Modified")
PreconditionFailed = _define(
    "PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold"
)
RequestHeaderSectionTooLarge = _define(
    "RequestHeaderSectionTooLarge",
    400,
    "Your request header section exceeds the maximum allowed size.",
)
UnexpectedContent = _define("UnexpectedContent", 400, "This request does not support content")
UnresolvableGrantByEmailAddress = _define(
    "UnresolvableGrantByEmailAddress",
    400,
    "The email address you provided does not match any account on record.",
)
XAmzContentSHA256Mismatch = _define(
    "XAmzContentSHA256Mismatch",
    400,
    "The provided 'x-amz-content-sha256' header does not match what was computed.",
)
NoSuchBucketPolicy = _define("NoSuchBucketPolicy", 404, "The bucket policy does not exist")
NoSuchCORSConfiguration = _define(
    "NoSuchCORSConfiguration", 404, "The CORS configuration does not exist"
)
NoSuchLifecycleConfiguration = _define(
    "NoSuchLifecycleConfiguration", 404, "The lifecycle configuration does not exist"
)
NoSuchTagSet = _define("NoSuchTagSet", 404, "There is no tag set associated with the bucket.")
NoSuchWebsiteConfiguration = _define(
    "NoSuchWebsiteConfiguration", 404, "The specified bucket does not have a website configuration"
)
ServiceUnavailable = _define(
    "ServiceUnavailable", 503, "Service is unable to handle request. Please try again."
)
ServerSideEncryptionConfigurationNotFoundError = _define(
    "ServerSideEncryptionConfigurationNotFoundError",
    404,
    "The server side encryption configuration was not found",
)
