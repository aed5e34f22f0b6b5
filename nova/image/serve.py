# -*- test-case-name: tests.image.test_fetch -*-
"""
Serving registered images to compute hosts: C{GET /_images/<image id>} on
the object store's port (no bucket can be named C{_images}).

The request must be signed like any S3 request (signature version 2 or 4,
header or presigned) with the keys of a user acting in a project that may
launch the image: its owner, a project it is shared with, any project for
a public image; admins may fetch any image.  Compute hosts sign with the
instance owner's keys (L{nova.image.fetch}).  An image that does not exist
or that the project may not launch answers C{404 NoSuchKey}; one that is
not available yet answers C{403 InvalidObjectState}; anonymous requests
answer C{403 AccessDenied}.

The answer streams the image file with its size, C{ETag} (the quoted
SHA-256 hex digest), C{x-nova-image-sha256}, C{x-nova-image-format} and
C{x-nova-image-type}; C{Range} requests are answered with C{206}, so a
client may resume.
"""

from nova.db.images import AVAILABLE, imageTypeOf
from nova.image.errors import ImageNotFound, InvalidImageId
from nova.objectstore import errors
from nova.objectstore.resource import Response, httpDate, parseRange

#: The first path segment of image requests.
IMAGES_SEGMENT = "_images"


class InvalidObjectState(errors.S3Error):
    """The operation is not valid for the current state of the object."""

    code = "S3InvalidObjectState"
    s3Code = "InvalidObjectState"
    httpStatus = 403


class ImageDataRoute:
    """
    The handler of C{/_images/<image id>}, for
    L{nova.objectstore.resource.S3Resource}'s C{reservedRoutes}.
    """

    def __init__(self, images):
        """
        @param images: the L{nova.image.service.ImageService}.
        """
        self.images = images

    async def __call__(self, call):
        if call.method not in ("GET", "HEAD"):
            raise errors.MethodNotAllowed(Method=call.method, ResourceType="OBJECT")
        if call.context is None:
            raise errors.AccessDenied()
        imageId = call.key or ""
        if imageTypeOf(imageId) is None:
            raise errors.NoSuchKey(Key=imageId)
        try:
            record = await self.images.getImage(call.context, imageId)
        except (ImageNotFound, InvalidImageId):
            raise errors.NoSuchKey(Key=imageId)
        if record.state != AVAILABLE:
            raise InvalidObjectState(
                f"Image {imageId} is not available (state {record.state})",
                Key=imageId,
            )
        try:
            reader = await self.images.storage.open(record)
        except FileNotFoundError:
            raise errors.NoSuchKey(Key=imageId)
        try:
            return self._response(call, record, reader)
        except BaseException:
            reader.close()
            raise

    def _response(self, call, record, reader):
        size = reader.size
        headers = [
            ("Content-Type", "application/octet-stream"),
            ("Accept-Ranges", "bytes"),
            ("Last-Modified", httpDate(_seconds(record.updated_at))),
            ("x-nova-image-type", record.image_type),
        ]
        if record.checksum:
            headers.append(("ETag", f'"{record.checksum}"'))
            headers.append(("x-nova-image-sha256", record.checksum))
        if record.disk_format:
            headers.append(("x-nova-image-format", record.disk_format))
        status, offset, length = 200, 0, size
        rangeHeader = call.request.getHeader(b"range")
        if rangeHeader is not None:
            chosen = parseRange(rangeHeader.decode("latin-1"), size)
            if chosen is not None:
                first, last = chosen
                status, offset, length = 206, first, last - first + 1
                headers.append(("Content-Range", f"bytes {first}-{last}/{size}"))
        return Response(status, headers, None, reader, offset, length)


def _seconds(moment):
    from datetime import timezone

    return moment.replace(tzinfo=timezone.utc).timestamp()
