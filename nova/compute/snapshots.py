# -*- test-case-name: tests.compute.test_snapshots -*-
"""
Where a compute host puts the snapshot of an instance's disk: an object in
the object store, which nova-objectstore then copies as the data of the
machine image reserved for it (L{nova.image.interfaces.IImageService}'s
C{reserveImage} and C{completeImage}).

The objects go to the bucket L{SNAPSHOT_BUCKET}, owned by L{SNAPSHOT_OWNER}
(a name no project can have, so that no project lists the bucket), under
C{<project>/<uuid>.img}; each object is owned by the instance's project,
which alone (with administrators) may read it.

L{ObjectStoreUploader} writes into an
L{nova.objectstore.interfaces.IObjectStore} of the same process: what
nova-all does.  A nova-compute of its own has no uploader yet (it would
need one that writes over S3): its snapshots fail, saying so.
"""

import hashlib
import os
import tempfile
import uuid

from twisted.internet.defer import inlineCallbacks
from zope.interface import Interface, implementer

from nova.objectstore import errors as s3errors
from nova.objectstore.body import BodySummary
from nova.objectstore.interfaces import ObjectSettings
from nova.util.files import unlinkQuietly
from nova.util.threads import reactorThreads

#: The bucket snapshots are written to, and its owner.
SNAPSHOT_BUCKET = "nova-snapshots"
SNAPSHOT_OWNER = "_nova"

#: The size of the pieces a snapshot is read in.
READ_SIZE = 1 << 20


def snapshotLocation(projectId):
    """
    @return: a new C{bucket/key} for a snapshot of C{projectId}.
    """
    return f"{SNAPSHOT_BUCKET}/{projectId}/{uuid.uuid4().hex}.img"


class IImageUploader(Interface):
    """
    Puts snapshot files into the object store.
    """

    def upload(context, location, write):
        """
        Have C{write(path)} make a file, then store it as the object at
        C{location}, owned by the context's project.  The file is removed
        afterwards, whatever happened.

        @param location: C{bucket/key}.
        @param write: called with the path of a file to write (absent, in a
            directory of the uploader's); returns a L{Deferred}.
        @return: L{Deferred} firing with what C{write} fired with; failing
            with what C{write} failed with, or an
            L{nova.objectstore.errors.S3Error} or L{OSError}.
        """


class FileBody:
    """
    An L{nova.objectstore.interfaces.IRequestBody} reading a file (in the
    store's worker thread, as the interface says).
    """

    def __init__(self, path):
        self.path = path
        self._file = None
        self._done = False
        self._md5 = hashlib.md5()
        self._size = 0

    def read(self, size=READ_SIZE):
        if self._done:
            return b""
        if self._file is None:
            self._file = open(self.path, "rb")
        data = self._file.read(size)
        self._md5.update(data)
        self._size += len(data)
        if not data:
            self.close()
        return data

    def close(self):
        """
        Close the file (a store that failed may not have read it all).
        """
        self._done = True
        if self._file is not None:
            self._file.close()

    def stagedPath(self):
        return None

    def finish(self):
        while self.read():
            pass
        return BodySummary(self._size, self._md5.hexdigest(), {})


def _thd_newPath(directory):
    os.makedirs(directory, mode=0o755, exist_ok=True)
    return os.path.join(directory, f"snapshot-{uuid.uuid4().hex}")


@implementer(IImageUploader)
class ObjectStoreUploader:
    """
    Writes snapshots straight into an object store of this process.

    @ivar store: the L{nova.objectstore.interfaces.IObjectStore}.
    @ivar directory: where snapshot files are made before they are stored.
    """

    def __init__(self, store, runInThread, directory=None):
        """
        @param runInThread: called as C{runInThread(function, *args)},
            returns a L{Deferred} of its result.
        @param directory: by default a C{nova-snapshots} directory in the
            system's temporary directory.
        """
        self.store = store
        self.runInThread = runInThread
        self.directory = directory or os.path.join(tempfile.gettempdir(), "nova-snapshots")

    @classmethod
    def fromConfig(cls, config, reactor, store):
        """
        @return: an L{ObjectStoreUploader} into C{store}, making its files
            in C{<instances_path>/_snapshots} with the reactor's threads.
        """

        runInThread = reactorThreads(reactor)

        return cls(store, runInThread, os.path.join(config.instances_path, "_snapshots"))

    @inlineCallbacks
    def _ensureBucket(self, bucket):
        try:
            yield self.store.getBucket(bucket)
        except s3errors.NoSuchBucket:
            try:
                yield self.store.createBucket(bucket, SNAPSHOT_OWNER)
            except (s3errors.BucketAlreadyExists, s3errors.BucketAlreadyOwnedByYou):
                # Made meanwhile by another upload.
                yield self.store.getBucket(bucket)

    @inlineCallbacks
    def upload(self, context, location, write):
        bucket, _, key = location.partition("/")
        path = yield self.runInThread(_thd_newPath, self.directory)
        body = FileBody(path)
        try:
            result = yield write(path)
            yield self._ensureBucket(bucket)
            yield self.store.putObject(bucket, key, body, ObjectSettings(owner=context.projectId))
        finally:
            yield self.runInThread(body.close)
            yield self.runInThread(unlinkQuietly, path)
        return result
