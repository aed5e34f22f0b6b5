# -*- test-case-name: tests.image.test_service -*-
"""
The image service's interface and records.

L{IImageService} is what the EC2 API, nova-manage and the compute API use
to register, describe, share and deregister images.  Two providers:

  - L{nova.image.service.ImageService}, in nova-objectstore, next to the
    object store and the cloud's private key: it registers and deregisters
    itself;
  - L{nova.image.api.ImageAPI}, everywhere else: registration and
    deregistration go over RPC to the C{objectstore} topic, the rest reads
    and writes the database directly.

Images are named by their EC2 ids (C{ami-}, C{aki-}, C{ari-} and eight hex
digits) and returned as L{nova.db.images.ImageRecord}s.  A project sees its
own images, public ones and those shared with it (admins see all); for
anything else an image "does not exist" (L{ImageNotFound}).
"""

import attr
from zope.interface import Interface


@attr.s(frozen=True)
class LaunchImages:
    """
    What an instance boots: its machine image and the kernel and ramdisk
    it uses.

    @ivar image: the machine image's L{nova.db.images.ImageRecord}.
    @ivar kernel: the kernel's record, or C{None}.
    @ivar ramdisk: the ramdisk's record, or C{None}.
    """

    image = attr.ib()
    kernel = attr.ib(default=None)
    ramdisk = attr.ib(default=None)

    @property
    def imageId(self):
        return self.image.ec2_id

    @property
    def kernelId(self):
        return None if self.kernel is None else self.kernel.ec2_id

    @property
    def ramdiskId(self):
        return None if self.ramdisk is None else self.ramdisk.ec2_id


@attr.s(frozen=True)
class LaunchPermission:
    """
    An image's launch permission attribute, as EC2 shows it.

    @ivar groups: C{("all",)} for a public image, else C{()}.
    @ivar projects: the projects it is shared with.
    """

    groups = attr.ib(converter=tuple, default=())
    projects = attr.ib(converter=tuple, default=())


class IImageService(Interface):
    """
    Registering and managing images.  Every method returns a L{Deferred};
    failures are L{nova.exception.NovaError}s as each method says
    (L{nova.image.errors}).
    """

    def registerImage(
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
        """
        Register an image from the object store, for the context's project;
        its tags (C{tags}, C{(key, value)} pairs) are written with it.

        C{location} is C{bucket/key}.  A key ending in C{.manifest.xml} is
        the manifest of a bundle made by C{ec2-bundle-image} (or
        C{nova-bundle-image}) for the cloud's certificate: its parts, beside
        it in the bucket, are checked against their digests, decrypted with
        the cloud's private key (the project's CA key with
        C{--use_project_ca}), decompressed and untarred, and the image
        stored.  Any other key is a plain image (raw or qcow2, or a kernel
        or ramdisk) copied as it is.

        The answer comes at once, in state C{pending}; the work goes on in
        the background through C{decrypting} and C{untarring} to
        C{available}, or to C{failed} with the reason in C{state_reason}
        (a digest mismatch, a key that does not decrypt, data that is not a
        gzipped tar of one plain file, a missing part, a malformed
        manifest...); a failed registration stores nothing.

        @param imageType: C{machine}, C{kernel} or C{ramdisk}, for a plain
            image (default: the object's C{x-amz-meta-image-type}, else
            C{machine}); a bundle's type comes from its manifest.
        @param kernelId: for a machine image, the kernel (overriding the
            manifest's); it must exist, be a kernel and be visible to the
            project.  Likewise C{ramdiskId}.
        @param architecture: overrides the manifest's (default
            C{x86_64}).
        @return: L{Deferred} firing with the new image's
            L{nova.db.images.ImageRecord}; failing with
            L{InvalidImageLocation}, L{ImageLocationNotFound},
            L{ImageLocationAccessDenied} (the project may not read the
            object under the object store's rules), L{ImageNotFound} (an
            unknown kernel or ramdisk) or L{InvalidImageAttribute}.
        """

    def reserveImage(
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
        """
        Make the record (and C{tags}) of a machine image of the context's
        project whose data is not written yet (a snapshot of an instance): state
        C{pending}, at C{location} (C{bucket/key}), where the object is
        to be written before L{completeImage}.  The arguments are checked
        as L{registerImage} checks them.

        @return: L{Deferred} firing with the new image's
            L{nova.db.images.ImageRecord}.
        """

    def completeImage(context, imageId):
        """
        The object of a reserved image is written: copy it as the data of
        the image, as L{registerImage} does for a plain image (the answer
        comes at once; the image goes on to C{available}, or C{failed}).

        @return: L{Deferred} firing with the image's record; failing with
            L{ImageNotAvailable} unless the image is a reserved one still
            C{pending}, L{ImageLocationNotFound},
            L{ImageLocationAccessDenied}, L{ImageNotFound} or
            L{ImageNotOwned}.
        """

    def failImage(context, imageId, reason):
        """
        Give up a reserved image: it goes to C{failed} with C{reason} (an
        image that is being copied already is left to its copy).

        @return: L{Deferred} firing with the image's record.
        """

    def deregisterImage(context, imageId):
        """
        Remove an image of the context's project (any image, for admins):
        its record and its stored data; a registration at work is stopped.
        The bundle in the object store is left alone.

        @return: L{Deferred} firing with C{None}; failing with
            L{ImageNotFound} or L{ImageNotOwned}.
        """

    def getImage(context, imageId):
        """
        @return: L{Deferred} firing with the
            L{nova.db.images.ImageRecord} of an image the context may see;
            failing with L{ImageNotFound} or L{InvalidImageId}.
        """

    def describeImages(context, imageIds=None, owners=None, executableBy=None):
        """
        List the images the context may see, as EC2's DescribeImages does.

        @param imageIds: only these (each must exist and be visible, or the
            call fails with L{ImageNotFound}).
        @param owners: only images of these projects (C{self} is the
            context's project).
        @param executableBy: only images these may launch: C{all} (public
            images), C{self} (the context's project: its own and those
            shared with it) or a project id (its own, shared with it,
            public).
        @return: L{Deferred} firing with a L{list} of
            L{nova.db.images.ImageRecord}s.
        """

    def describeImageAttribute(context, imageId, attribute):
        """
        @param attribute: C{launchPermission} (owners only), C{description},
            C{kernel}, C{ramdisk}, C{architecture} or C{rootDeviceName}.
        @return: L{Deferred} firing with a L{LaunchPermission} for
            C{launchPermission}, else the value (L{str} or C{None}).
        """

    def modifyImageAttribute(context, imageId, attribute, operation=None, userIds=(), userGroups=(), value=None):
        """
        Change an image of the context's project (any image, for admins).

        @param attribute: C{launchPermission} (C{operation} C{add} or
            C{remove}; C{userGroups} may hold C{all}, making the image
            public or private; C{userIds} are projects to share it with or
            take it from), or C{description} (C{value}).
        @return: L{Deferred} firing with the changed record; failing with
            L{ImageNotOwned}, L{ImageNotFound} or L{InvalidImageAttribute}.
        """

    def updateImage(context, imageId, name=None, description=None):
        """
        Change the name and the description of an image of the context's
        project (any image, for admins): Cactus's C{UpdateImage}.  L{None}
        leaves a field as it is.

        @return: L{Deferred} firing with the changed record; failing with
            L{ImageNotOwned}, L{ImageNotFound} or L{InvalidImageAttribute}
            (a value that is not text of up to 255 characters).
        """

    def resetImageAttribute(context, imageId, attribute):
        """
        Reset C{launchPermission}: the image becomes private, shared with no
        project.

        @return: L{Deferred} firing with the changed record.
        """

    def checkLaunch(context, imageId, kernelId=None, ramdiskId=None):
        """
        Check what an instance of the context's project would boot, for
        RunInstances: a machine image, available and launchable by the
        project, and its kernel and ramdisk (the image's own unless given),
        each of the right type, available and launchable.

        @return: L{Deferred} firing with a L{LaunchImages}; failing with
            L{ImageNotFound}, L{InvalidImageId} or L{ImageNotAvailable}.
        """
