# -*- test-case-name: tests.image.test_api -*-
"""
L{ImageAPI}: the L{IImageService} that nova-api, the compute API and the
tools use.  Registering and deregistering go over RPC to nova-objectstore
(topic C{objectstore}, see L{nova.image.manager}), which holds the object
store and the cloud's key; describing, sharing and launch checks read and
write the database directly.
"""

from zope.interface import implementer

from nova.db.images import ImageRecord
from nova.image import errors  # noqa: F401 (their codes must be known to RPC)
from nova.image.catalog import ImageCatalog
from nova.image.interfaces import IImageService
from nova.image.manager import TOPIC


@implementer(IImageService)
class ImageAPI(ImageCatalog):
    """
    @ivar rpc: the L{nova.rpc.interfaces.IRPC}.
    @ivar timeout: seconds an RPC call waits (C{None}: the RPC layer's
        default).
    """

    def __init__(self, db, rpc, timeout=None):
        ImageCatalog.__init__(self, db)
        self.rpc = rpc
        self.timeout = timeout

    def registerImage(
        self,
        context,
        location,
        name=None,
        description=None,
        architecture=None,
        kernelId=None,
        ramdiskId=None,
        rootDeviceName=None,
        imageType=None,
    ):
        args = {"location": location}
        for key, value in (
            ("name", name),
            ("description", description),
            ("architecture", architecture),
            ("kernelId", kernelId),
            ("ramdiskId", ramdiskId),
            ("rootDeviceName", rootDeviceName),
            ("imageType", imageType),
        ):
            if value is not None:
                args[key] = value
        d = self.rpc.call(context, TOPIC, "registerImage", args, timeout=self.timeout)
        return d.addCallback(ImageRecord.fromDict)

    def reserveImage(
        self,
        context,
        location,
        name=None,
        description=None,
        architecture=None,
        kernelId=None,
        ramdiskId=None,
        rootDeviceName=None,
    ):
        args = {"location": location}
        for key, value in (
            ("name", name),
            ("description", description),
            ("architecture", architecture),
            ("kernelId", kernelId),
            ("ramdiskId", ramdiskId),
            ("rootDeviceName", rootDeviceName),
        ):
            if value is not None:
                args[key] = value
        d = self.rpc.call(context, TOPIC, "reserveImage", args, timeout=self.timeout)
        return d.addCallback(ImageRecord.fromDict)

    def completeImage(self, context, imageId):
        d = self.rpc.call(
            context, TOPIC, "completeImage", {"imageId": imageId}, timeout=self.timeout
        )
        return d.addCallback(ImageRecord.fromDict)

    def failImage(self, context, imageId, reason):
        d = self.rpc.call(
            context,
            TOPIC,
            "failImage",
            {"imageId": imageId, "reason": reason},
            timeout=self.timeout,
        )
        return d.addCallback(ImageRecord.fromDict)

    def deregisterImage(self, context, imageId):
        return self.rpc.call(
            context, TOPIC, "deregisterImage", {"imageId": imageId}, timeout=self.timeout
        )
