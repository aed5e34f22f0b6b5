# -*- test-case-name: tests.image.test_api -*-
"""
L{ImageManager}: nova-objectstore's RPC face, on the C{objectstore} topic.

Exposed methods (C{call}s; keyword arguments, JSON values; the context is
the caller's):

  - C{registerImage(location, name=None, description=None,
    architecture=None, kernelId=None, ramdiskId=None, rootDeviceName=None,
    imageType=None)} -> the new image's record as a L{dict}
    (L{nova.db.images.ImageRecord.toDict}), state C{pending}; the
    registration goes on in the background;
  - C{reserveImage(location, name=None, description=None,
    architecture=None, kernelId=None, ramdiskId=None, rootDeviceName=None)},
    C{completeImage(imageId)} and C{failImage(imageId, reason)} -> the
    image's record as a L{dict}: a snapshot's image, reserved before the
    compute host writes its object;
  - C{deregisterImage(imageId)} -> C{None}.

Everything else about images reads and writes the database directly
(L{nova.image.api.ImageAPI}).
"""

from twisted.logger import Logger

from nova.manager import Manager, expose

#: The RPC topic nova-objectstore consumes.
TOPIC = "objectstore"


class ImageManager(Manager):
    """
    @ivar images: the L{nova.image.service.ImageService}.
    """

    log = Logger()

    def __init__(self, config, db, rpc, clock, images):
        Manager.__init__(self, config, db, rpc, clock)
        self.images = images

    def initHost(self):
        """
        Fail the registrations a previous process left unfinished.
        """
        d = self.images.recover()

        def recovered(failed):
            for imageId in failed:
                self.log.warn("{imageId}: registration interrupted; marked failed", imageId=imageId)

        return d.addCallback(recovered)

    @expose
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
        d = self.images.registerImage(
            context,
            location,
            name=name,
            description=description,
            architecture=architecture,
            kernelId=kernelId,
            ramdiskId=ramdiskId,
            rootDeviceName=rootDeviceName,
            imageType=imageType,
            tags=tags,
        )
        return d.addCallback(lambda record: record.toDict())

    @expose
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
        d = self.images.reserveImage(
            context,
            location,
            name=name,
            description=description,
            architecture=architecture,
            kernelId=kernelId,
            ramdiskId=ramdiskId,
            rootDeviceName=rootDeviceName,
            tags=tags,
        )
        return d.addCallback(lambda record: record.toDict())

    @expose
    def completeImage(self, context, imageId):
        return self.images.completeImage(context, imageId).addCallback(
            lambda record: record.toDict()
        )

    @expose
    def failImage(self, context, imageId, reason):
        return self.images.failImage(context, imageId, reason).addCallback(
            lambda record: record.toDict()
        )

    @expose
    def deregisterImage(self, context, imageId):
        return self.images.deregisterImage(context, imageId).addCallback(lambda _: None)
