# -*- test-case-name: tests.image.test_service -*-
"""
L{ImageStorage}: the data of registered images, one file per image in a
directory (C{--images_path}) of the nova-objectstore host::

    <images_path>/<image id>        an available image, never changed
    <images_path>/.tmp/<id>.<rand>  an image being unpacked or copied

An image is written under C{.tmp}, synced, and renamed into place only once
it is complete and checked, so a reader finds either no file or the whole
image.  Leftovers of a crash in C{.tmp} (files untouched for an hour) are
removed when the storage is opened.  Every file operation runs in a thread.
"""

import os
import shutil
import time
import uuid

from zope.interface import implementer

from nova.db.images import checkImageId
from nova.objectstore.interfaces import IObjectReader
from nova.util.files import ThreadedFileReader, preadAll, replaceFile, unlinkQuietly

#: Seconds after which an untouched temporary file counts as a crashed
#: process's leftover.
LEFTOVER_AGE = 3600


@implementer(IObjectReader)
class ImageFileReader(ThreadedFileReader):
    """
    An open image file, read in a thread; the version opened stays
    readable until L{close}, even if the image is deregistered meanwhile.

    @ivar info: the image's L{nova.db.images.ImageRecord}.
    @ivar size: the file's size.
    """

    def __init__(self, fd, size, info, runInThread):
        self.info = info
        self.size = size
        self._fd = fd
        self._runInThread = runInThread

    def readAtOnce(self, offset, length):
        if length <= 0 or offset >= self.size:
            return b""
        return None

    def readInThread(self, offset, length):
        return self._runInThread(preadAll, self._fd, offset, length)

    def closeFiles(self):
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


class ImageStorage:
    """
    Image files under one directory.

    @ivar path: the directory.
    """

    def __init__(self, path, runInThread, fsync=True):
        """
        @param runInThread: called as C{runInThread(f, *args)}, runs C{f}
            in a thread, returns a L{Deferred} of its result.
        @param fsync: whether to sync images before they are committed.
        """
        self.path = os.path.abspath(path)
        self.temporaryPath = os.path.join(self.path, ".tmp")
        self.runInThread = runInThread
        self.fsync = fsync
        os.makedirs(self.temporaryPath, exist_ok=True)
        self._removeLeftovers()

    def _removeLeftovers(self, maxAge=LEFTOVER_AGE):
        """
        Remove what a crashed process left in C{.tmp}: files not written to
        for C{maxAge} seconds (another process, such as C{nova-manage},
        may be registering an image into the same directory right now).
        """
        cutoff = time.time() - maxAge
        for name in os.listdir(self.temporaryPath):
            leftover = os.path.join(self.temporaryPath, name)
            try:
                if os.lstat(leftover).st_mtime >= cutoff:
                    continue
                if os.path.isdir(leftover):
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    os.unlink(leftover)
            except FileNotFoundError:
                pass

    def imagePath(self, imageId):
        """
        @return: the file name of an image's data.
        @raise InvalidImageId: for anything but an image id.
        """
        return os.path.join(self.path, checkImageId(imageId))

    # Used from worker threads.

    def thd_create(self, imageId):
        """
        @return: C{(path, file)}: a new temporary file for an image's data,
            open for writing.
        """
        checkImageId(imageId)
        path = os.path.join(self.temporaryPath, f"{imageId}.{uuid.uuid4().hex}")
        return path, open(path, "xb")

    def thd_commit(self, temporary, imageId):
        """
        Sync a complete temporary file and rename it into place.
        """
        replaceFile(temporary, self.imagePath(imageId), fsync=self.fsync)

    def thd_discard(self, path):
        """
        Remove a file if it is there.
        """
        unlinkQuietly(path)

    # From the reactor.

    def remove(self, imageId):
        """
        Remove an image's data (if any).

        @return: L{Deferred} firing with C{None}.
        """
        return self.runInThread(self.thd_discard, self.imagePath(imageId))

    def exists(self, imageId):
        """
        @return: L{Deferred} firing with whether an image's data is there.
        """
        return self.runInThread(os.path.exists, self.imagePath(imageId))

    def open(self, record):
        """
        Open an image's data for reading.

        @param record: the image's L{nova.db.images.ImageRecord}.
        @return: L{Deferred} firing with an L{ImageFileReader}; failing
            with L{FileNotFoundError} if there is no data.
        """
        path = self.imagePath(record.ec2_id)

        def thd_open():
            fd = os.open(path, os.O_RDONLY)
            return fd, os.fstat(fd).st_size

        d = self.runInThread(thd_open)
        d.addCallback(lambda opened: ImageFileReader(opened[0], opened[1], record, self.runInThread))
        return d
