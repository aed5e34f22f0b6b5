# -*- test-case-name: tests.image.test_service -*-
"""
L{ImageService}: image registration in nova-objectstore, next to the
L{nova.objectstore.interfaces.IObjectStore} the bundles are in and the
certificate authority whose key decrypts them.

A registration checks the location and the caller's right to read it
under the object store's rules, reads and parses a bundle's manifest,
writes the image's record (state C{pending}) and answers; a job then does
the work in a thread of the service's own pool (C{--image_threads}
threads), streaming each part from the store through digest checks,
AES decryption, gunzip and the tar reader into a temporary file of the
L{ImageStorage}, which is renamed into place once everything checked out.
The worker thread reaches the store and the database through the reactor
(C{blockingCallFromThread}), one chunk at a time, so memory use does not
depend on the image's size and the reactor never waits for the work.

States (see L{nova.db.images}): C{pending} while the job waits for a
thread; C{decrypting} from when the bundle's key is being decrypted and its
parts read; C{untarring} from when the archive's image entry is found and
written out (decryption continues underneath, the archive streams);
C{available}; or C{failed} with the reason.  A plain image goes from
C{pending} straight to C{available}.

An image can also be reserved before its data exists
(L{ImageService.reserveImage}: a machine image of a snapshot, whose
record, C{pending}, names the object the compute host is going to write),
then completed (L{ImageService.completeImage}: the object is copied as a
plain image's is) or failed (L{ImageService.failImage}).
"""

import os
import re

import attr
from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, inlineCallbacks, maybeDeferred, succeed
from twisted.internet.threads import blockingCallFromThread, deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from nova import exception
from nova.auth import crypto
from nova.db.images import (
    AVAILABLE,
    FAILED,
    IMAGE_TYPES,
    KERNEL,
    MACHINE,
    PENDING,
    RAMDISK,
    UNTARRING,
    WORKING_STATES,
    imageTypeOf,
)
from nova.image import bundle
from nova.image.catalog import ImageCatalog
from nova.image.errors import (
    ImageLocationAccessDenied,
    ImageNotAvailable,
    ImageLocationNotFound,
    InvalidImageAttribute,
    InvalidImageLocation,
)
from nova.image.interfaces import IImageService
from nova.image.storage import ImageStorage
from nova.objectstore import common
from nova.objectstore import errors as s3errors
from nova.util.threads import reactorThreads

_ARCHITECTURE = re.compile(r"\A[A-Za-z0-9_]{1,32}\Z")
_DEVICE = re.compile(r"\A/dev/[a-z0-9]{1,32}\Z")
_PROJECT = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.@-]{0,254}\Z")

#: Disk formats of the images that are not machine images.
_TYPE_FORMATS = {KERNEL: "aki", RAMDISK: "ari"}

#: The user metadata (C{x-amz-meta-image-type}) of a plain image object that
#: gives its type when the registration does not.
TYPE_METADATA = "image-type"

STOPPED_REASON = "nova-objectstore stopped while the image was registering; register it again"
INTERRUPTED_REASON = (
    "the registration was interrupted (nova-objectstore restarted); register the image again"
)


def parseLocation(location):
    """
    Split an image location, C{bucket/key} (an C{s3://} prefix or a
    leading C{/} is allowed).

    @return: C{(bucket, key)}.
    @raise InvalidImageLocation: if it does not name a bucket and a key.
    """
    if not isinstance(location, str):
        raise InvalidImageLocation()
    text = location.strip()
    if text.startswith("s3://"):
        text = text[5:]
    text = text.lstrip("/")
    bucket, _, key = text.partition("/")
    if not bucket or not key or not common.isLookupName(bucket):
        raise InvalidImageLocation(f"The image location {location!r} must be bucket/key")
    try:
        common.checkKey(key)
    except s3errors.S3Error:
        raise InvalidImageLocation(f"The image location {location!r} names an invalid key")
    return bucket, key


class CertificateAuthorityKeys:
    """
    The private keys that decrypt bundles, from the cloud's
    L{nova.auth.ca.CertificateAuthority}: the project's CA key first when
    project CAs are in use (bundles are then made for the project's
    C{cacert.pem}), then the cloud's (root) key, for bundles made for
    C{cloud-cert.pem}.
    """

    def __init__(self, ca):
        self.ca = ca

    def privateKeysFor(self, projectId):
        """
        Blocking: call in a thread.

        @return: a L{list} of PEM texts.
        """
        keys = []
        if self.ca.useProjectCA and projectId and _PROJECT.match(projectId):
            path = os.path.join(self.ca.path, "projects", projectId, "private", "cakey.pem")
            try:
                with open(path, "r", encoding="ascii") as f:
                    keys.append(f.read())
            except FileNotFoundError:
                pass
        keys.append(self.ca.cloudPrivateKeyPEM())
        return keys


@attr.s
class StaticKeys:
    """
    A fixed list of private keys (PEM texts) that decrypt bundles.
    """

    keys = attr.ib(converter=list)

    def privateKeysFor(self, projectId):
        return list(self.keys)


class _StoreObjectReader:
    """
    An object of the store, read from a worker thread through the reactor.
    """

    def __init__(self, callInReactor, reader):
        self._callInReactor = callInReactor
        self._reader = reader
        self._offset = 0
        self._closed = False

    def read(self, size):
        data = self._callInReactor(self._reader.read, self._offset, size)
        self._offset += len(data)
        return data

    def close(self):
        if not self._closed:
            self._closed = True
            self._callInReactor(lambda: maybeDeferred(self._reader.close))


class StorePartSource:
    """
    The parts of a bundle (or a plain image object) in the object store,
    opened from a worker thread, each checked readable by the registering
    context under the store's rules.
    """

    def __init__(self, callInReactor, store, bucket, prefix, context, bucketOwner):
        self._callInReactor = callInReactor
        self._store = store
        self._bucket = bucket
        self._prefix = prefix
        self._context = context
        self._bucketOwner = bucketOwner

    def openObject(self, key):
        try:
            reader = self._callInReactor(self._store.openObject, self._bucket, key)
        except (s3errors.NoSuchKey, s3errors.NoSuchBucket):
            raise bundle.MissingBundlePart(f"{self._bucket}/{key} is missing")
        info = reader.info
        if not common.isAllowed(self._context, info.owner, info.acl, "READ", self._bucketOwner):
            self._callInReactor(lambda: maybeDeferred(reader.close))
            raise bundle.BundleError(f"the project may not read {self._bucket}/{key}")
        return _StoreObjectReader(self._callInReactor, reader)

    def openPart(self, filename):
        bundle.checkPartFilename(filename)
        try:
            return self.openObject(self._prefix + filename)
        except bundle.MissingBundlePart:
            raise bundle.MissingBundlePart(f"the bundle part {filename} is missing")


def _checkAttributes(name, description, architecture, rootDeviceName):
    """
    @raise InvalidImageAttribute: for a value an image cannot have.
    """
    for value, what in ((name, "name"), (description, "description")):
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            raise InvalidImageAttribute(f"the {what} is text of up to 255 characters")
    if architecture is not None and not _ARCHITECTURE.match(str(architecture)):
        raise InvalidImageAttribute(f"invalid architecture {architecture!r}")
    if rootDeviceName is not None and not _DEVICE.match(str(rootDeviceName)):
        raise InvalidImageAttribute(f"invalid root device name {rootDeviceName!r}")


@attr.s
class _Job:
    record = attr.ib()
    context = attr.ib()
    bucket = attr.ib()
    key = attr.ib()
    bucketOwner = attr.ib()
    manifest = attr.ib()
    manifestError = attr.ib()
    cancelled = attr.ib(default=False)
    cancelReason = attr.ib(default=None)
    done = attr.ib(default=None)


@implementer(IImageService)
class ImageService(Service, ImageCatalog):
    """
    Registers images from an object store; an L{IService} that owns the
    worker threads (start it before registering, stop it to stop the
    work: registrations still at work then fail with
    L{STOPPED_REASON}).

    @ivar storage: the L{ImageStorage} of registered images.
    @ivar store: the L{nova.objectstore.interfaces.IObjectStore}.
    """

    log = Logger()
    name = "images"

    def __init__(self, db, store, keys, storage, reactor, threads=2, maxImageSize=None):
        """
        @param db: the L{nova.db.api.NovaDatabase}.
        @param keys: provides C{privateKeysFor(projectId)}, a blocking call
            returning the PEM private keys that decrypt the project's
            bundles (L{CertificateAuthorityKeys}).
        @param storage: an L{ImageStorage}.
        @param reactor: the running reactor (its time dates records).
        @param threads: how many registrations work at once.
        @param maxImageSize: the largest image stored, in bytes.
        """
        ImageCatalog.__init__(self, db)
        self.store = store
        self.keys = keys
        self.storage = storage
        self.reactor = reactor
        self.maxImageSize = maxImageSize
        self.threads = threads
        self.pool = None
        self._jobs = {}

    @classmethod
    def fromConfig(cls, config, reactor, db, store, ca=None):
        """
        Build the service the flags describe (C{--images_path},
        C{--image_threads}, C{--image_max_size_gb}, the CA's C{--ca_path}
        and C{--use_project_ca}).
        """
        if ca is None:
            from nova.auth.ca import CertificateAuthority

            ca = CertificateAuthority.fromConfig(config, reactor)

        runInThread = reactorThreads(reactor)

        storage = ImageStorage(config.images_path, runInThread, fsync=config.s3_fsync)
        return cls(
            db,
            store,
            CertificateAuthorityKeys(ca),
            storage,
            reactor,
            threads=config.image_threads,
            maxImageSize=config.image_max_size_gb * 1024**3,
        )

    # -- the service -----------------------------------------------------

    def startService(self):
        Service.startService(self)
        self.pool = ThreadPool(minthreads=0, maxthreads=self.threads, name="nova-images")
        self.pool.start()

    @inlineCallbacks
    def stopService(self):
        if not self.running:
            return
        Service.stopService(self)
        jobs = list(self._jobs.values())
        for job in jobs:
            job.cancelled = True
            job.cancelReason = STOPPED_REASON
        yield DeferredList([job.done for job in jobs if job.done is not None], consumeErrors=True)
        pool, self.pool = self.pool, None
        pool.stop()

    def _callInReactor(self, function, *args, **kwargs):
        return blockingCallFromThread(self.reactor, function, *args, **kwargs)

    def recover(self):
        """
        Fail the registrations a previous process left unfinished (at
        startup, before any new one starts).

        @return: L{Deferred} firing with the image ids failed.
        """
        return self.db.images.failUnfinished(INTERRUPTED_REASON)

    # -- registering -----------------------------------------------------

    @inlineCallbacks
    def _readSmallObject(self, bucket, key, size):
        reader = yield self.store.openObject(bucket, key)
        try:
            pieces, offset = [], 0
            while offset < size:
                data = yield reader.read(offset, min(bundle.CHUNK_SIZE, size - offset))
                if not data:
                    break
                pieces.append(data)
                offset += len(data)
        finally:
            reader.close()
        return b"".join(pieces)

    def _runInThread(self, function, *args):
        return self.storage.runInThread(function, *args)

    @inlineCallbacks
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
        if context.projectId is None:
            raise exception.NotAuthorized("Registering an image needs a project")
        bucket, key = parseLocation(location)
        if imageType is not None and imageType not in IMAGE_TYPES:
            raise InvalidImageAttribute(f"unknown image type {imageType!r}")
        _checkAttributes(name, description, architecture, rootDeviceName)
        try:
            bucketInfo = yield self.store.getBucket(bucket)
            info = yield self.store.getObjectInfo(bucket, key)
        except (s3errors.NoSuchBucket, s3errors.NoSuchKey):
            raise ImageLocationNotFound(f"The image location {bucket}/{key} does not exist")
        if not common.isAllowed(context, info.owner, info.acl, "READ", bucketInfo.owner):
            raise ImageLocationAccessDenied(f"Project {context.projectId} may not read {bucket}/{key}")

        manifest = manifestError = None
        if key.endswith(bundle.MANIFEST_SUFFIX):
            if info.size > bundle.MAX_MANIFEST_SIZE:
                manifestError = bundle.InvalidManifest(
                    f"the manifest is larger than {bundle.MAX_MANIFEST_SIZE} bytes"
                )
            else:
                data = yield self._readSmallObject(bucket, key, info.size)
                try:
                    manifest = yield self._runInThread(bundle.parseManifest, data)
                except bundle.InvalidManifest as e:
                    manifestError = e
            kind = manifest.imageType if manifest is not None else (imageType or MACHINE)
        else:
            kind = imageType or info.settings.metadata.get(TYPE_METADATA) or MACHINE
            if kind not in IMAGE_TYPES:
                raise InvalidImageAttribute(
                    f"unknown image type {kind!r} in the object's x-amz-meta-{TYPE_METADATA}"
                )

        if kind == MACHINE:
            if manifest is not None:
                kernelId = kernelId or manifest.kernelId
                ramdiskId = ramdiskId or manifest.ramdiskId
            yield self.checkReferences(context, kernelId, ramdiskId)
        elif kernelId or ramdiskId:
            raise InvalidImageAttribute(f"a {kind} image has no kernel or ramdisk")
        fields = {
            "name": name or (manifest.name if manifest is not None else None),
            "description": description,
            "architecture": architecture
            or (manifest.architecture if manifest is not None else None)
            or "x86_64",
            "kernel_id": kernelId,
            "ramdisk_id": ramdiskId,
            "root_device_name": rootDeviceName
            or (manifest.rootDeviceName if manifest is not None else None)
            or ("/dev/sda1" if kind == MACHINE else None),
            "disk_format": _TYPE_FORMATS.get(kind),
        }
        if fields["name"] is not None:
            fields["name"] = fields["name"][:255]
        if fields["architecture"] and not _ARCHITECTURE.match(fields["architecture"]):
            fields["architecture"] = "x86_64"
        record = yield self.db.images.create(
            kind,
            context.projectId,
            context.userId or "",
            f"{bucket}/{key}",
            PENDING,
            tags=tags,
            **fields,
        )
        job = _Job(record, context, bucket, key, bucketInfo.owner, manifest, manifestError)
        self._jobs[record.ec2_id] = job
        job.done = Deferred.fromCoroutine(self._runJob(job))
        self.log.info(
            "Registering {imageId} ({kind}) from {bucket}/{key} for project {project}",
            imageId=record.ec2_id,
            kind=kind,
            bucket=bucket,
            key=key,
            project=context.projectId,
        )
        return record

    @inlineCallbacks
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
        if context.projectId is None:
            raise exception.NotAuthorized("Reserving an image needs a project")
        bucket, key = parseLocation(location)
        _checkAttributes(name, description, architecture, rootDeviceName)
        yield self.checkReferences(context, kernelId, ramdiskId)
        record = yield self.db.images.create(
            MACHINE,
            context.projectId,
            context.userId or "",
            f"{bucket}/{key}",
            PENDING,
            name=name,
            description=description,
            architecture=architecture or "x86_64",
            kernel_id=kernelId,
            ramdisk_id=ramdiskId,
            root_device_name=rootDeviceName or "/dev/sda1",
            disk_format=None,
            tags=tags,
        )
        self.log.info(
            "Reserved {imageId} at {bucket}/{key} for project {project}",
            imageId=record.ec2_id,
            bucket=bucket,
            key=key,
            project=context.projectId,
        )
        return record

    @inlineCallbacks
    def completeImage(self, context, imageId):
        record = yield self._owned(context, imageId)
        if record.state != PENDING or imageId in self._jobs:
            raise ImageNotAvailable(
                f"Image {imageId} is {record.state}, not a reserved image waiting for its data"
            )
        bucket, key = parseLocation(record.location)
        try:
            bucketInfo = yield self.store.getBucket(bucket)
            info = yield self.store.getObjectInfo(bucket, key)
        except (s3errors.NoSuchBucket, s3errors.NoSuchKey):
            raise ImageLocationNotFound(f"The image location {bucket}/{key} does not exist")
        if not common.isAllowed(context, info.owner, info.acl, "READ", bucketInfo.owner):
            raise ImageLocationAccessDenied(f"Project {context.projectId} may not read {bucket}/{key}")
        job = _Job(record, context, bucket, key, bucketInfo.owner, None, None)
        self._jobs[imageId] = job
        job.done = Deferred.fromCoroutine(self._runJob(job))
        self.log.info("Completing {imageId} from {bucket}/{key}", imageId=imageId, bucket=bucket, key=key)
        return record

    @inlineCallbacks
    def failImage(self, context, imageId, reason):
        yield self._owned(context, imageId)
        if imageId not in self._jobs:
            yield self._fail(imageId, str(reason)[:255])
        record = yield self.db.images.get(imageId)
        return record

    def waitForImage(self, imageId):
        """
        Wait for an image's registration to end.

        @return: L{Deferred} firing with the image's record once its
            registration is over (at once if none is at work); failing with
            L{ImageNotFound} if it was deregistered.
        """
        job = self._jobs.get(imageId)
        d = succeed(None) if job is None else _chain(job.done)
        d.addCallback(lambda _: self.db.images.get(imageId))
        return d

    async def _runJob(self, job):
        imageId = job.record.ec2_id
        try:
            if job.manifestError is not None:
                raise job.manifestError
            if not self.running or self.pool is None:
                raise bundle.RegistrationCancelled()
            result = await deferToThreadPool(self.reactor, self.pool, self._thd_work, job)
            expected = [UNTARRING] if job.manifest is not None else [PENDING]
            changed = await self.db.images.setState(
                imageId,
                AVAILABLE,
                expected=expected,
                size=result.size,
                checksum=result.sha256,
                disk_format=_TYPE_FORMATS.get(job.record.image_type, result.diskFormat),
            )
            if not changed:
                await self.storage.remove(imageId)
                self.log.info("{imageId} was deregistered while registering", imageId=imageId)
                return
            self.log.info(
                "{imageId} is available: {size} bytes, sha256 {checksum}",
                imageId=imageId,
                size=result.size,
                checksum=result.sha256,
            )
        except bundle.RegistrationCancelled:
            reason = job.cancelReason or STOPPED_REASON
            await self._fail(imageId, reason)
        except (bundle.BundleError, crypto.BundleDecryptionError, s3errors.S3Error) as e:
            await self._fail(imageId, str(e))
        except OSError as e:
            self.log.failure("Storing {imageId} failed", imageId=imageId)
            await self._fail(imageId, f"storing the image failed: {e.strerror or e}")
        except Exception:
            self.log.failure("Registering {imageId} failed", imageId=imageId)
            await self._fail(imageId, "internal error while registering the image")
        finally:
            self._jobs.pop(imageId, None)

    async def _fail(self, imageId, reason):
        try:
            changed = await self.db.images.setState(
                imageId, FAILED, expected=list(WORKING_STATES), reason=reason
            )
        except Exception:
            self.log.failure("Recording the failure of {imageId} failed", imageId=imageId)
            return
        if changed:
            self.log.warn("Registering {imageId} failed: {reason}", imageId=imageId, reason=reason)

    def _thd_work(self, job):
        """
        Unpack (or copy) an image into a temporary file and commit it;
        runs in a worker thread.

        @return: the L{bundle.UnpackedImage}.
        """
        imageId = job.record.ec2_id

        def cancelled():
            return job.cancelled

        if cancelled():
            raise bundle.RegistrationCancelled()
        prefix = job.key[: job.key.rfind("/") + 1]
        source = StorePartSource(
            self._callInReactor, self.store, job.bucket, prefix, job.context, job.bucketOwner
        )
        temporary, output = self.storage.thd_create(imageId)
        try:
            with output:
                if job.manifest is not None:
                    keys = self.keys.privateKeysFor(job.record.project_id)
                    previous = [PENDING]

                    def onStage(state):
                        if not self._callInReactor(
                            self.db.images.setState, imageId, state, expected=list(previous)
                        ):
                            raise bundle.RegistrationCancelled()
                        previous[:] = [state]

                    result = bundle.unpackBundle(
                        job.manifest,
                        keys,
                        source,
                        output,
                        maxSize=self.maxImageSize,
                        onStage=onStage,
                        cancelled=cancelled,
                    )
                else:
                    reader = source.openObject(job.key)
                    try:
                        result = bundle.copyImage(
                            reader, output, maxSize=self.maxImageSize, cancelled=cancelled
                        )
                    finally:
                        reader.close()
            if cancelled():
                raise bundle.RegistrationCancelled()
            self.storage.thd_commit(temporary, imageId)
        except BaseException:
            self.storage.thd_discard(temporary)
            raise
        return result

    # -- deregistering ---------------------------------------------------

    @inlineCallbacks
    def deregisterImage(self, context, imageId):
        yield self._owned(context, imageId)
        job = self._jobs.get(imageId)
        if job is not None:
            job.cancelled = True
            job.cancelReason = "the image was deregistered"
        yield self.db.images.delete(imageId)
        yield self.storage.remove(imageId)
        self.log.info("Deregistered {imageId}", imageId=imageId)

    # -- reading ---------------------------------------------------------

    @inlineCallbacks
    def openImage(self, context, imageId):
        """
        Open an available image the context may launch, to read its data.

        @return: L{Deferred} firing with an
            L{nova.image.storage.ImageFileReader} (its C{info} is the
            record); failing with L{ImageNotFound} or
            L{nova.image.errors.ImageNotAvailable}.
        """
        from nova.image.errors import ImageNotAvailable, ImageNotFound

        record = yield self.getImage(context, imageId)
        if record.state != AVAILABLE:
            raise ImageNotAvailable(f"Image {imageId} is not available (state {record.state})")
        try:
            return (yield self.storage.open(record))
        except FileNotFoundError:
            raise ImageNotFound(f"The data of image {imageId} is missing")


def _chain(d):
    """
    @return: a L{Deferred} that fires with C{None} when C{d} does, leaving
        C{d}'s own result alone.
    """
    result = Deferred()

    def fire(value):
        result.callback(None)
        return value

    d.addBoth(fire)
    return result


__all__ = [
    # The image states and types, named here for the APIs.
    "AVAILABLE",
    "FAILED",
    "KERNEL",
    "MACHINE",
    "RAMDISK",
    "imageTypeOf",
    "ImageService",
    "CertificateAuthorityKeys",
    "StaticKeys",
    "StorePartSource",
    "parseLocation",
    "STOPPED_REASON",
    "INTERRUPTED_REASON",
]
