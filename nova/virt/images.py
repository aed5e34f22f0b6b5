# -*- test-case-name: tests.virt.test_libvirt -*-
"""
Images on a compute host: the per-host cache of fetched images, and the
disks of instances made from it.

An image is fetched once per host, into C{<instances_path>/_base/<image
id>}, through an injected L{IImageFetcher} (the object store's
L{nova.image.fetch.ImageFetcher} in production).  Instances booting the
same image at the same time share one download: the first asks the
fetcher, the others wait for its result.  A base file is complete or
absent: the fetch writes beside it and renames.

An instance's root disk is a copy-on-write qcow2 overlay on the base file
(C{qemu-img create -f qcow2 -F <format> -b <base>}), or a plain copy when
C{--use_cow_images} is off; it has the image's own size.  An instance type
with local storage (C{local_gb} above 0) also gets an empty ephemeral disk
of that many GiB: a sparse qcow2 file (C{qemu-img create -f qcow2 <path>
<N>G}), or a sparse raw file when C{--use_cow_images} is off.  C{qemu-img}
runs through an L{nova.util.process.IProcessRunner}; file work runs in
threads.

Images are user data: the format of a base file is read from its first
bytes (qcow2 or raw), and a qcow2 image that names a backing file of its
own is refused, since that file would be read from this host.
"""

import json
import os
import re
import shutil
import uuid

import attr
from twisted.internet.defer import Deferred, fail, inlineCallbacks
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Interface, implementer

from nova.util.process import ProcessError, runChecked
from nova.virt.errors import VirtError

GIB = 1 << 30

#: The directory of the image cache under C{instances_path}.
BASE_DIRECTORY = "_base"

_QCOW2_MAGIC = b"QFI\xfb"
_IMAGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ImageError(VirtError):
    """An image could not be fetched or made into a disk."""

    code = "VirtImageError"


class IImageFetcher(Interface):
    """
    Gets an image's bytes onto this host.
    """

    def fetch(context, imageId, destinationPath):
        """
        Write the image C{imageId} to C{destinationPath}.

        @param context: the L{nova.context.RequestContext} the image is
            fetched for (the instance's owner).
        @param destinationPath: the file to write; its directory exists.
        @return: L{Deferred} firing (with anything) once the whole image is
            at C{destinationPath}; failing if it could not be fetched.
        """


def checkImageId(imageId):
    """
    @return: C{imageId}, safe as a file name.
    @raise ImageError: for anything else.
    """
    if not isinstance(imageId, str) or not _IMAGE_ID.match(imageId):
        raise ImageError(f"image id {imageId!r} is not a valid image id")
    return imageId


def _thd_copy(source, destination):
    shutil.copyfile(source, destination)
    os.chmod(destination, 0o644)


def _thd_sparseFile(path, size):
    with open(path, "xb") as f:
        f.truncate(size)
    os.chmod(path, 0o644)


def _thd_unlinkQuietly(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


@implementer(IImageFetcher)
class DirectoryImageFetcher:
    """
    Copies images from a directory holding one file per image id: the
    object store's C{--images_path} when nova-compute runs on the object
    store's host (C{nova-all}), or any directory in tests and tools.

    @ivar path: the directory.
    @ivar fetched: the image ids fetched so far, in order.
    """

    def __init__(self, path, runInThread):
        """
        @param runInThread: called as C{runInThread(function, *args)},
            returns a L{Deferred} of its result (a thread pool).
        """
        self.path = path
        self.runInThread = runInThread
        self.fetched = []

    def fetch(self, context, imageId, destinationPath):
        self.fetched.append(imageId)
        try:
            source = os.path.join(self.path, checkImageId(imageId))
        except ImageError as e:
            return fail(e)

        def copy():
            if not os.path.isfile(source):
                raise ImageError(f"image {imageId} is not in {self.path}")
            _thd_copy(source, destinationPath)

        return self.runInThread(copy)


@attr.s(frozen=True)
class ImageInfo:
    """
    What a base file is.

    @ivar format: C{raw} or C{qcow2}.
    @ivar virtualSize: the size of the disk it holds, in bytes.
    """

    format = attr.ib()
    virtualSize = attr.ib()


class ImageCache:
    """
    The images fetched to this host, one file each under C{basePath}.

    @ivar basePath: the cache directory (C{<instances_path>/_base}).
    @ivar fetcher: the L{IImageFetcher}.
    """

    log = Logger()

    def __init__(self, basePath, fetcher, runInThread):
        """
        @param runInThread: called as C{runInThread(function, *args)},
            returns a L{Deferred} of its result.
        """
        self.basePath = basePath
        self.fetcher = fetcher
        self.runInThread = runInThread
        self._pending = {}

    def pathOf(self, imageId):
        """
        @return: the cache file of C{imageId}.
        @raise ImageError: for an unsafe image id.
        """
        return os.path.join(self.basePath, checkImageId(imageId))

    def fetch(self, context, imageId):
        """
        Make sure the image is in the cache, fetching it if it is not.
        Calls for an image whose fetch is under way wait for that fetch.

        @return: L{Deferred} firing with the path of the cached file;
            failing with L{ImageError} (or the fetcher's error).  A failed
            fetch leaves nothing behind, and the next call tries again.
        """
        try:
            path = self.pathOf(imageId)
        except ImageError as e:
            return fail(e)
        waiters = self._pending.get(imageId)
        if waiters is not None:
            d = Deferred()
            waiters.append(d)
            return d
        waiters = self._pending[imageId] = []
        d = self._fetch(context, imageId, path)

        def done(result):
            del self._pending[imageId]
            for waiter in waiters:
                if isinstance(result, Failure):
                    waiter.errback(result)
                else:
                    waiter.callback(result)
            return result

        return d.addBoth(done)

    def _thd_prepare(self, path):
        os.makedirs(self.basePath, exist_ok=True)
        return os.path.isfile(path)

    @inlineCallbacks
    def _fetch(self, context, imageId, path):
        present = yield self.runInThread(self._thd_prepare, path)
        if present:
            return path
        temporary = os.path.join(self.basePath, f".{imageId}.part-{uuid.uuid4().hex}")
        self.log.info("Fetching image {imageId} to {path}", imageId=imageId, path=path)
        try:
            yield self.fetcher.fetch(context, imageId, temporary)
            yield self.runInThread(self._thd_publish, temporary, path)
        except BaseException:
            yield self.runInThread(_thd_unlinkQuietly, temporary)
            raise
        return path

    def _thd_publish(self, temporary, path):
        if not os.path.isfile(temporary):
            raise ImageError(f"fetching {os.path.basename(path)} produced no file")
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)


class DiskMaker:
    """
    Makes instance disks from cached images with C{qemu-img}.

    @ivar runner: the L{nova.util.process.IProcessRunner}.
    @ivar timeout: seconds a C{qemu-img} command may take.
    """

    def __init__(self, runner, runInThread, timeout=600.0):
        self.runner = runner
        self.runInThread = runInThread
        self.timeout = timeout
        self._infos = {}

    def _qemuImg(self, *args):
        d = runChecked(self.runner, ("qemu-img",) + args, timeout=self.timeout)

        def failed(failure):
            failure.trap(ProcessError)
            raise ImageError(str(failure.value))

        return d.addErrback(failed)

    @staticmethod
    def _thd_probe(path):
        with open(path, "rb") as f:
            magic = f.read(4)
        size = os.path.getsize(path)
        return ("qcow2" if magic == _QCOW2_MAGIC else "raw"), size

    @inlineCallbacks
    def info(self, path):
        """
        Find out what a base file holds.  Base files never change once
        cached, so the answer is remembered.

        @return: L{Deferred} firing with an L{ImageInfo}; failing with
            L{ImageError} for a qcow2 image with a backing file.
        """
        known = self._infos.get(path)
        if known is not None:
            return known
        fmt, size = yield self.runInThread(self._thd_probe, path)
        if fmt == "qcow2":
            out, _ = yield self._qemuImg("info", "--output=json", "-f", "qcow2", path)
            try:
                details = json.loads(out.decode("utf-8"))
                size = int(details["virtual-size"])
            except (ValueError, KeyError, TypeError) as e:
                raise ImageError(f"qemu-img info of {path} is unreadable: {e}")
            if details.get("backing-filename") or details.get("full-backing-filename"):
                raise ImageError(
                    f"image {os.path.basename(path)} is a qcow2 image with a backing file"
                )
        info = self._infos[path] = ImageInfo(fmt, size)
        return info

    @inlineCallbacks
    def makeRootDisk(self, base, path, copyOnWrite=True):
        """
        Make an instance's root disk from a cached image.  The disk has the
        image's own size.

        @param base: the cached image file.
        @param path: the disk to make (absent).
        @param copyOnWrite: make a qcow2 overlay on C{base}; otherwise copy
            it.
        @return: L{Deferred} firing with the disk's format (C{qcow2} or
            C{raw}).
        """
        info = yield self.info(base)
        if copyOnWrite:
            yield self._qemuImg(
                "create", "-f", "qcow2", "-F", info.format, "-b", os.path.abspath(base), path
            )
            return "qcow2"
        yield self.runInThread(_thd_copy, base, path)
        return info.format

    @inlineCallbacks
    def makeEphemeralDisk(self, path, sizeGb, copyOnWrite=True):
        """
        Make an instance's empty local (ephemeral) disk.

        @param path: the disk to make (absent).
        @param sizeGb: its size in GiB, more than 0.
        @param copyOnWrite: make a sparse qcow2 file with C{qemu-img};
            otherwise a sparse raw file.
        @return: L{Deferred} firing with the disk's format (C{qcow2} or
            C{raw}).
        @raise ImageError: for a size that is not a positive integer.
        """
        if isinstance(sizeGb, bool) or not isinstance(sizeGb, int) or sizeGb <= 0:
            raise ImageError(f"ephemeral disk size {sizeGb!r} is not a positive number of GiB")
        if copyOnWrite:
            yield self._qemuImg("create", "-f", "qcow2", path, f"{sizeGb}G")
            return "qcow2"
        yield self.runInThread(_thd_sparseFile, path, sizeGb * GIB)
        return "raw"

    def convert(self, source, sourceFormat, destination, destinationFormat="qcow2", shared=False):
        """
        Copy a disk into one self-contained file (C{qemu-img convert}): the
        data of a qcow2 overlay's backing file is copied in.

        @param sourceFormat: C{raw} or C{qcow2}.
        @param destination: the file to write (absent).
        @param shared: read a disk a running QEMU holds open for writing
            (C{-U}: no image lock is taken).
        @return: L{Deferred} firing with C{None}; failing with
            L{ImageError}.
        """
        share = ("-U",) if shared else ()
        d = self._qemuImg(
            "convert", *share, "-f", sourceFormat, "-O", destinationFormat, source, destination
        )
        return d.addCallback(lambda _: None)

    def copy(self, source, destination):
        """
        Copy a cached file (a kernel, a ramdisk) for one instance.

        @return: L{Deferred} firing with C{None}.
        """
        return self.runInThread(_thd_copy, source, destination)

