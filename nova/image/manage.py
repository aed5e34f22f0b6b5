# -*- test-case-name: tests.image.test_manage -*-
"""
C{nova-manage image ...}: bundling, uploading and registering images from
the operator's command line.

These commands work on the nova-objectstore host's own files: the object
store under C{--buckets_path} (so C{--s3_store=filesystem}), the registered
images under C{--images_path} and the certificate authority under
C{--ca_path}, with the database.  They need no running daemon, and a
running nova-objectstore serves what they register at once.

    nova-manage image bundle <file> <bucket> [aki-...] [ari-...] [kernel|ramdisk|machine]
                                             [arch=x86_64] [project=<id>] [prefix=<name>]
    nova-manage image register <kernel> <ramdisk> <machine> [project] [user] [bucket]
    nova-manage image list [project]
    nova-manage image set_public <image id> [true|false]
    nova-manage image deregister <image id>
"""

import os
import re
import shutil
import tempfile

from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThreadPool

from nova import exception
from nova.context import RequestContext, adminContext
from nova.db.images import AVAILABLE, IMAGE_TYPES, KERNEL, MACHINE, RAMDISK, imageTypeOf
from nova.manage import Commands, formatTable
from nova.util.progress import Progress

_ARCHITECTURE = re.compile(r"\A[A-Za-z0-9_]{1,32}\Z")


def _bundleOptions(options):
    """
    Read C{image bundle}'s optional words: C{aki-...}/C{ari-...} (or
    C{kernel=}/C{ramdisk=}), an image type, C{arch=}, C{project=},
    C{prefix=}.

    @return: a L{dict}.
    @raise nova.exception.Invalid: for anything else.
    """
    found = {"type": None, "kernel": None, "ramdisk": None, "arch": None, "project": None, "prefix": None}
    for option in options:
        name, equals, value = option.partition("=")
        if equals:
            if name not in found or not value:
                raise exception.Invalid(f"unknown option {option!r}")
            found[name] = value
        elif imageTypeOf(option) == KERNEL:
            found["kernel"] = option
        elif imageTypeOf(option) == RAMDISK:
            found["ramdisk"] = option
        elif option in IMAGE_TYPES:
            found["type"] = option
        else:
            raise exception.Invalid(f"unknown option {option!r}")
    if found["arch"] is not None and not _ARCHITECTURE.match(found["arch"]):
        raise exception.Invalid(f"invalid architecture {found['arch']!r}")
    if found["type"] in (KERNEL, RAMDISK) and (found["kernel"] or found["ramdisk"]):
        raise exception.Invalid("only a machine image names a kernel and a ramdisk")
    return found


def _defaultBucket(project):
    name = re.sub(r"[^a-z0-9-]", "-", ("images-" + project).lower()).strip("-")[:63]
    return name


def _parseBool(text):
    value = text.strip().lower()
    if value in ("true", "yes", "1", "t", "y", "on"):
        return True
    if value in ("false", "no", "0", "f", "n", "off"):
        return False
    raise exception.Invalid(f"expected true or false, not {text!r}")


class ImageCommands(Commands):
    """
    Machine, kernel and ramdisk images (run on the nova-objectstore host).
    """

    def _runInThread(self, function, *args):
        reactor = self.env.reactor
        return deferToThreadPool(reactor, reactor.getThreadPool(), function, *args)

    @inlineCallbacks
    def _local(self, work):
        """
        Run C{work(store, images)} with this host's object store and a
        started L{nova.image.service.ImageService}.
        """
        from nova.image.service import ImageService
        from nova.objectstore.filesystem import FilesystemObjectStore

        if self.config.s3_store != "filesystem":
            raise exception.Invalid(
                "nova-manage image works on the object store's files: use --s3_store=filesystem"
            )
        reactor = self.env.reactor
        store = FilesystemObjectStore(self.config.buckets_path, reactor, fsync=self.config.s3_fsync)
        images = ImageService.fromConfig(self.config, reactor, self.env.db, store)
        images.startService()
        try:
            return (yield work(store, images))
        finally:
            yield images.stopService()

    @inlineCallbacks
    def _ensureBucket(self, store, bucket, project):
        """
        @return: the bucket's owner, creating it for C{project} if missing.
        """
        from nova.objectstore import errors as s3errors

        try:
            info = yield store.getBucket(bucket)
        except s3errors.NoSuchBucket:
            if project is None:
                raise exception.Invalid(f"bucket {bucket} does not exist: name a project=")
            try:
                info = yield store.createBucket(bucket, project)
            except s3errors.InvalidBucketName:
                raise exception.Invalid(f"{bucket!r} is not a valid bucket name")
        if project is not None and info.owner != project:
            raise exception.Invalid(f"bucket {bucket} belongs to project {info.owner}, not {project}")
        return info.owner

    @inlineCallbacks
    def _bundleAndUpload(self, store, path, bucket, project, imageType, kernel=None,
                         ramdisk=None, arch=None, prefix=None):
        """
        Bundle a file for the cloud's certificate and store the parts and
        manifest in C{bucket}.

        @return: the manifest's location, C{bucket/key}.
        """
        from nova.auth.ca import CertificateAuthority
        from nova.image import bundle
        from nova.objectstore.body import RequestBody
        from nova.objectstore.interfaces import ObjectSettings

        if not os.path.isfile(path):
            raise exception.Invalid(f"no such file: {path}")
        owner = yield self._ensureBucket(store, bucket, project)
        ca = CertificateAuthority.fromConfig(self.config, self.env.reactor)
        directory = tempfile.mkdtemp(prefix="nova-bundle-")
        try:

            def make():
                return bundle.makeBundle(
                    path,
                    directory,
                    ca.cloudCertificatePEM(),
                    imageType=imageType,
                    kernelId=kernel,
                    ramdiskId=ramdisk,
                    architecture=arch or "x86_64",
                    prefix=prefix,
                    partSize=self.config.image_bundle_part_mb * 1024 * 1024,
                    account=owner,
                )

            progress = Progress(self.env.err, "nova-manage")
            progress.step(
                f"bundling {os.path.basename(path)} ({os.path.getsize(path) / 1048576:.1f} MB)"
            )
            try:
                result = yield self._runInThread(make)
            except ValueError as e:
                progress.finish()
                raise exception.Invalid(str(e))
            paths = list(result.partPaths) + [result.manifestPath]
            progress.total = sum(os.path.getsize(filePath) for filePath in paths)
            progress.step(f"storing in {bucket}")
            try:
                for filePath in paths:
                    key = os.path.basename(filePath)
                    source = open(filePath, "rb")
                    try:
                        yield store.putObject(
                            bucket, key, RequestBody(source), ObjectSettings(owner=owner)
                        )
                    finally:
                        source.close()
                    progress.advance(os.path.getsize(filePath))
            finally:
                progress.finish()
            return f"{bucket}/{result.manifestName}"
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def do_bundle(self, filename, bucket, *options):
        """Bundle a file for this cloud and upload it: [aki-..] [ari-..] [kernel|ramdisk] [arch=] [project=] [prefix=]."""
        found = _bundleOptions(options)

        def work(store, images):
            return self._bundleAndUpload(
                store,
                filename,
                bucket,
                found["project"],
                found["type"] or MACHINE,
                kernel=found["kernel"],
                ramdisk=found["ramdisk"],
                arch=found["arch"],
                prefix=found["prefix"],
            )

        d = self._local(work)
        d.addCallback(lambda location: self.say(f"uploaded {location}"))
        return d

    def do_register(self, kernel, ramdisk, machine, project=None, user=None, bucket=None):
        """Bundle, upload and register a kernel, a ramdisk and a machine image ('none' skips one)."""
        public = project is None
        project = project or "nova"
        user = user or project
        bucket = bucket or _defaultBucket(project)
        context = RequestContext(userId=user, projectId=project, isAdmin=True)

        @inlineCallbacks
        def register(store, images, path, imageType, kernelId=None, ramdiskId=None):
            location = yield self._bundleAndUpload(
                store, path, bucket, project, imageType, kernel=kernelId, ramdisk=ramdiskId
            )
            record = yield images.registerImage(context, location)
            record = yield images.waitForImage(record.ec2_id)
            if record.state != AVAILABLE:
                raise exception.NovaError(
                    f"{record.ec2_id} ({imageType}, {location}) failed: {record.state_reason}"
                )
            if public:
                record = yield images.setPublic(context, record.ec2_id, True)
            self.say(f"{record.ec2_id} {imageType} {location} {record.state}")
            return record.ec2_id

        @inlineCallbacks
        def work(store, images):
            kernelId = ramdiskId = None
            if kernel.lower() != "none":
                kernelId = yield register(store, images, kernel, KERNEL)
            if ramdisk.lower() != "none":
                ramdiskId = yield register(store, images, ramdisk, RAMDISK)
            yield register(store, images, machine, MACHINE, kernelId, ramdiskId)

        return self._local(work)

    @inlineCallbacks
    def do_list(self, project=None):
        """List images: id, type, state, project, public, location, name."""
        records = yield self.env.db.images.find(owners=[project] if project else None)
        rows = [
            (
                r.ec2_id,
                r.image_type,
                r.state,
                r.project_id,
                "public" if r.is_public else "private",
                r.location,
                r.name or "",
            )
            for r in records
        ]
        self.say(
            formatTable(rows, ("Id", "Type", "State", "Project", "Visibility", "Location", "Name"))
        )

    @inlineCallbacks
    def do_set_public(self, imageId, public="true"):
        """Make an image public (launchable by every project) or private again."""
        from nova.image.catalog import ImageCatalog

        value = _parseBool(public)
        record = yield ImageCatalog(self.env.db).setPublic(adminContext(), imageId, value)
        self.say(f"{record.ec2_id} is {'public' if record.is_public else 'private'}")

    def do_deregister(self, imageId):
        """Deregister an image and remove its stored data."""

        def work(store, images):
            return images.deregisterImage(adminContext(), imageId)

        d = self._local(work)
        d.addCallback(lambda _: self.say(f"{imageId} deregistered"))
        return d
