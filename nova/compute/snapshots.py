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
nova-all does.  L{S3Uploader} is what a nova-compute of its own uses
(with C{--snapshot_upload_user}): it PUTs the file to nova-objectstore
over S3, signed with an administrator's keys acting in the service's
project (which then owns the bucket and the object), and grants the
instance's project full control of the object, so that the image service,
acting for the requester, may copy it in.  Without an uploader a host's
snapshots fail, saying so.
"""

import hashlib
import os
import tempfile
import uuid

from twisted.internet.defer import inlineCallbacks
from zope.interface import Interface, implementer

from nova.exception import NovaError
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


class ServiceCredentials:
    """
    The keys of the administrator a compute host uploads snapshots as
    (C{--snapshot_upload_user}), from the
    L{nova.auth.manager.AuthManager}.
    """

    def __init__(self, authManager, spec):
        """
        @param spec: C{USER} or C{USER:PROJECT}: the user, and the project
            it acts in (its own default when none is given).
        """
        self.authManager = authManager
        self.userName, _, self.project = spec.partition(":")

    @inlineCallbacks
    def credentials(self):
        """
        @return: L{Deferred} firing with C{(accessKey, secretKey)}; the
            access key is C{access:project} when a project is named.
        """
        user = yield self.authManager.getUser(self.userName)
        access = f"{user.accessKey}:{self.project}" if self.project else user.accessKey
        return access, user.secretKey


def _thd_putObject(endpoint, accessKey, secretKey, bucket, key, path, grantee):
    """
    Store the file at C{path} as C{bucket/key} over S3, making the bucket
    first if it is missing, with full control granted to the project
    C{grantee} (blocking).

    @return: the size of the file.
    @raise nova.exception.NovaError: naming what the object store
        answered.
    """
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=accessKey,
        aws_secret_access_key=secretKey,
        region_name="us-east-1",
        config=Config(
            signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 2}
        ),
    )
    try:
        try:
            client.head_bucket(Bucket=bucket)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise
            try:
                client.create_bucket(Bucket=bucket)
            except ClientError as e:
                code = e.response.get("Error", {}).get("Code")
                if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
        with open(path, "rb") as body:
            client.put_object(
                Bucket=bucket, Key=key, Body=body, GrantFullControl=f'id="{grantee}"'
            )
        return os.path.getsize(path)
    except (BotoCoreError, ClientError) as e:
        raise NovaError(f"the object store refused the snapshot {bucket}/{key}: {e}") from None
    finally:
        client.close()


@implementer(IImageUploader)
class S3Uploader:
    """
    Writes snapshots to nova-objectstore over S3 (a compute host of its
    own).

    @ivar endpoint: the object store's URL.
    @ivar credentials: provides C{credentials()}, firing with C{(accessKey,
        secretKey)} (L{ServiceCredentials}).
    @ivar directory: where snapshot files are made before they are sent.
    """

    def __init__(self, endpoint, credentials, runInThread, directory=None):
        """
        @param runInThread: called as C{runInThread(function, *args)},
            returns a L{Deferred} of its result.
        """
        self.endpoint = endpoint
        self.credentials = credentials
        self.runInThread = runInThread
        self.directory = directory or os.path.join(tempfile.gettempdir(), "nova-snapshots")

    @classmethod
    def fromConfig(cls, config, reactor, authManager):
        """
        @return: an L{S3Uploader} to C{--s3_host}:C{--s3_port} signing as
            C{--snapshot_upload_user}, making its files in
            C{<instances_path>/_snapshots}.
        """
        return cls(
            f"http://{config.s3_host}:{config.s3_port}",
            ServiceCredentials(authManager, config.snapshot_upload_user),
            reactorThreads(reactor),
            os.path.join(config.instances_path, "_snapshots"),
        )

    @inlineCallbacks
    def upload(self, context, location, write):
        if context.projectId is None:
            raise NovaError("a snapshot needs the project it is made for")
        bucket, _, key = location.partition("/")
        path = yield self.runInThread(_thd_newPath, self.directory)
        try:
            result = yield write(path)
            accessKey, secretKey = yield self.credentials.credentials()
            yield self.runInThread(
                _thd_putObject,
                self.endpoint,
                accessKey,
                secretKey,
                bucket,
                key,
                path,
                context.projectId,
            )
        finally:
            yield self.runInThread(unlinkQuietly, path)
        return result
