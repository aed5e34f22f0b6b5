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


def _given(**values):
    """
    @return: the arguments of C{values} that are not L{None}.
    """
    return {name: value for name, value in values.items() if value is not None}


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

    def _call(self, context, method, args):
        d = self.rpc.call(context, TOPIC, method, args, timeout=self.timeout)
        return d.addCallback(ImageRecord.fromDict)

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
        tags=(),
    ):
        return self._call(
            context,
            "registerImage",
            _given(
                tags=list(tags) or None,
                location=location,
                name=name,
                description=description,
                architecture=architecture,
                kernelId=kernelId,
                ramdiskId=ramdiskId,
                rootDeviceName=rootDeviceName,
                imageType=imageType,
            ),
        )

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
        tags=(),
    ):
        return self._call(
            context,
            "reserveImage",
            _given(
                tags=list(tags) or None,
                location=location,
                name=name,
                description=description,
                architecture=architecture,
                kernelId=kernelId,
                ramdiskId=ramdiskId,
                rootDeviceName=rootDeviceName,
            ),
        )

    def completeImage(self, context, imageId):
        return self._call(context, "completeImage", {"imageId": imageId})

    def failImage(self, context, imageId, reason):
        return self._call(context, "failImage", {"imageId": imageId, "reason": reason})

    def deregisterImage(self, context, imageId):
        return self.rpc.call(
            context, TOPIC, "deregisterImage", {"imageId": imageId}, timeout=self.timeout
        )
