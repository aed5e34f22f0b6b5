# -*- test-case-name: tests.image.test_service -*-
"""
L{ImageCatalog}: the part of L{nova.image.interfaces.IImageService} that
only needs the database (describing, sharing, launch checks), shared by
L{nova.image.service.ImageService} and L{nova.image.api.ImageAPI}.

Who may do what:

  - a project sees (and may launch) its own images, public images and
    images shared with it; admins see all;
  - only the owning project (or an admin) changes or deregisters an image,
    or reads its launch permissions.
"""

import re

from twisted.internet.defer import inlineCallbacks

from nova.db import images as db_images
from nova.db.images import AVAILABLE, KERNEL, MACHINE, RAMDISK, checkImageId, imageTypeOf
from nova.image.errors import (
    ImageNotAvailable,
    ImageNotFound,
    ImageNotOwned,
    InvalidImageAttribute,
)
from nova.image.interfaces import LaunchImages, LaunchPermission

_PROJECT = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.@-]{0,254}\Z")

#: Attributes describeImageAttribute answers, with the record field.
_PLAIN_ATTRIBUTES = {
    "description": "description",
    "kernel": "kernel_id",
    "ramdisk": "ramdisk_id",
    "architecture": "architecture",
    "rootDeviceName": "root_device_name",
}


def isVisible(context, record):
    """
    @return: whether C{context} may see (and launch) the image C{record}.
    """
    return (
        context.isAdmin
        or (context.projectId is not None and record.project_id == context.projectId)
        or record.is_public
        or (context.projectId is not None and context.projectId in record.launch_permissions)
    )


def mayChange(context, record):
    """
    @return: whether C{context} may change or deregister C{record}.
    """
    return context.isAdmin or (
        context.projectId is not None and record.project_id == context.projectId
    )


def _notFound(imageId):
    return ImageNotFound(f"The image id '[{imageId}]' does not exist")


def _projectIds(values):
    projects = []
    for value in values or ():
        if not isinstance(value, str) or not _PROJECT.match(value):
            raise InvalidImageAttribute(f"invalid project id {value!r}")
        projects.append(value)
    return projects


class ImageCatalog:
    """
    The database half of L{IImageService}.

    @ivar db: the L{nova.db.api.NovaDatabase}.
    """

    def __init__(self, db):
        self.db = db

    @inlineCallbacks
    def getImage(self, context, imageId):
        checkImageId(imageId)
        try:
            record = yield self.db.images.get(imageId)
        except ImageNotFound:
            raise _notFound(imageId)
        if not isVisible(context, record):
            raise _notFound(imageId)
        return record

    @inlineCallbacks
    def _owned(self, context, imageId):
        record = yield self.getImage(context, imageId)
        if not mayChange(context, record):
            raise ImageNotOwned(f"Only the owner of {imageId} may change it")
        return record

    @inlineCallbacks
    def describeImages(self, context, imageIds=None, owners=None, executableBy=None):
        if imageIds:
            for imageId in imageIds:
                checkImageId(imageId)
        ownerProjects = None
        if owners:
            ownerProjects = []
            for owner in owners:
                if owner == "self":
                    if context.projectId is not None:
                        ownerProjects.append(context.projectId)
                else:
                    ownerProjects.append(owner)
        visibleTo = None if context.isAdmin else (context.projectId or "")
        records = yield self.db.images.find(
            ec2Ids=list(imageIds) if imageIds else None,
            owners=ownerProjects,
            visibleTo=visibleTo,
        )
        if executableBy:
            records = [r for r in records if _executableBy(context, r, executableBy)]
        if imageIds:
            found = {r.ec2_id for r in records}
            missing = [i for i in imageIds if i not in found]
            if missing and not (owners or executableBy):
                raise _notFound(missing[0])
        return records

    @inlineCallbacks
    def describeImageAttribute(self, context, imageId, attribute):
        if attribute == "launchPermission":
            record = yield self._owned(context, imageId)
            return LaunchPermission(
                groups=("all",) if record.is_public else (),
                projects=record.launch_permissions,
            )
        if attribute not in _PLAIN_ATTRIBUTES:
            raise InvalidImageAttribute(f"unknown image attribute {attribute!r}")
        record = yield self.getImage(context, imageId)
        return getattr(record, _PLAIN_ATTRIBUTES[attribute])

    @inlineCallbacks
    def modifyImageAttribute(
        self, context, imageId, attribute, operation=None, userIds=(), userGroups=(), value=None
    ):
        if attribute == "description":
            if value is not None and (not isinstance(value, str) or len(value) > 255):
                raise InvalidImageAttribute("a description is text of up to 255 characters")
            yield self._owned(context, imageId)
            return (yield self.db.images.update(imageId, description=value))
        if attribute != "launchPermission":
            raise InvalidImageAttribute(f"attribute {attribute!r} cannot be changed")
        if operation not in ("add", "remove"):
            raise InvalidImageAttribute("the launch permission operation is add or remove")
        groups = list(userGroups or ())
        for group in groups:
            if group != "all":
                raise InvalidImageAttribute(f"unknown launch permission group {group!r}")
        projects = _projectIds(userIds)
        if not groups and not projects:
            raise InvalidImageAttribute("name a group (all) or projects to change")
        record = yield self._owned(context, imageId)
        if groups:
            record = yield self.db.images.update(imageId, is_public=(operation == "add"))
        if projects:
            if operation == "add":
                record = yield self.db.images.addLaunchPermissions(imageId, projects)
            else:
                record = yield self.db.images.removeLaunchPermissions(imageId, projects)
        return record

    @inlineCallbacks
    def updateImage(self, context, imageId, name=None, description=None):
        fields = {}
        for value, what in ((name, "name"), (description, "description")):
            if value is None:
                continue
            if not isinstance(value, str) or len(value) > 255:
                raise InvalidImageAttribute(f"the {what} is text of up to 255 characters")
            fields[what] = value
        record = yield self._owned(context, imageId)
        if not fields:
            return record
        return (yield self.db.images.update(imageId, **fields))

    @inlineCallbacks
    def resetImageAttribute(self, context, imageId, attribute):
        if attribute != "launchPermission":
            raise InvalidImageAttribute(f"attribute {attribute!r} cannot be reset")
        yield self._owned(context, imageId)
        return (yield self.db.images.resetLaunchPermissions(imageId))

    def setPublic(self, context, imageId, public):
        """
        Make an image public or private (launch permission group C{all}).

        @return: L{Deferred} firing with the changed record.
        """
        return self.modifyImageAttribute(
            context, imageId, "launchPermission", "add" if public else "remove", userGroups=["all"]
        )

    @inlineCallbacks
    def _launchable(self, context, imageId, imageType):
        if imageTypeOf(imageId) != imageType:
            checkImageId(imageId)
            raise _notFound(imageId)
        record = yield self.getImage(context, imageId)
        if record.state != AVAILABLE:
            raise ImageNotAvailable(f"Image {imageId} is not available (state {record.state})")
        return record

    @inlineCallbacks
    def checkLaunch(self, context, imageId, kernelId=None, ramdiskId=None):
        image = yield self._launchable(context, imageId, MACHINE)
        kernelId = kernelId or image.kernel_id
        ramdiskId = ramdiskId or image.ramdisk_id
        kernel = ramdisk = None
        if kernelId:
            kernel = yield self._launchable(context, kernelId, KERNEL)
        if ramdiskId:
            ramdisk = yield self._launchable(context, ramdiskId, RAMDISK)
        return LaunchImages(image, kernel, ramdisk)

    @inlineCallbacks
    def checkReferences(self, context, kernelId, ramdiskId):
        """
        Check the kernel and ramdisk a machine image being registered
        names: each must exist, be of its type, be visible to the project
        and not have failed.

        @raise ImageNotFound: otherwise.
        """
        for imageId, imageType in ((kernelId, KERNEL), (ramdiskId, RAMDISK)):
            if imageId is None:
                continue
            if imageTypeOf(imageId) != imageType:
                raise InvalidImageAttribute(f"{imageId!r} is not a {imageType} image id")
            record = yield self.getImage(context, imageId)
            if record.state == db_images.FAILED:
                raise ImageNotAvailable(f"Image {imageId} failed to register")


def _executableBy(context, record, executableBy):
    for who in executableBy:
        if who == "all":
            if record.is_public:
                return True
        elif who == "self":
            project = context.projectId
            if project is not None and (
                record.project_id == project or project in record.launch_permissions
            ):
                return True
        elif (
            record.is_public
            or record.project_id == who
            or who in record.launch_permissions
        ):
            return True
    return False
