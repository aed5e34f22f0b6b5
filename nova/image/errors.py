# -*- test-case-name: tests.image.test_service -*-
"""
Errors of the image service.  Each has a stable C{code} (so it is raised
again as itself on the far side of an RPC call) and the EC2 error code the
API answers with.
"""

from nova import exception
from nova.db.images import ImageNotFound, InvalidImageId

__all__ = [
    "ImageNotFound",
    "InvalidImageId",
    "ImageNotAvailable",
    "InvalidImageLocation",
    "ImageLocationNotFound",
    "ImageLocationAccessDenied",
    "InvalidImageAttribute",
    "ImageNotOwned",
    "ImageFetchError",
    "ImageChecksumMismatch",
]


class ImageNotAvailable(exception.Invalid):
    """The image is not available."""

    code = "ImageNotAvailable"
    ec2Code = "InvalidAMIID.Unavailable"


class InvalidImageLocation(exception.Invalid):
    """The image location must name a bucket and a key: bucket/key."""

    code = "InvalidImageLocation"
    ec2Code = "InvalidParameterValue"


class ImageLocationNotFound(exception.NotFound):
    """The image location does not name an object in the object store."""

    code = "ImageLocationNotFound"
    ec2Code = "InvalidManifest"


class ImageLocationAccessDenied(exception.NotAuthorized):
    """The project may not read the object at the image location."""

    code = "ImageLocationAccessDenied"
    ec2Code = "AuthFailure"


class InvalidImageAttribute(exception.Invalid):
    """The image attribute or its value is not valid."""

    code = "InvalidImageAttribute"
    ec2Code = "InvalidParameterValue"


class ImageNotOwned(exception.NotAuthorized):
    """Only the image's owner may do that."""

    code = "ImageNotOwned"
    ec2Code = "AuthFailure"


class ImageFetchError(exception.NovaError):
    """The image could not be fetched from the object store."""

    code = "ImageFetchError"


class ImageChecksumMismatch(ImageFetchError):
    """The fetched image does not match its size or SHA-256 checksum."""

    code = "ImageChecksumMismatch"
