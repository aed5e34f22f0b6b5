"""
Tests for L{nova.image.service.ImageService}: registration from bundles
and plain objects in a real filesystem object store, on the real reactor
(the work runs in threads), and the rules of who sees and launches what.
"""

import hashlib
import os
import shutil
import tarfile
import tracemalloc

from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from nova import exception
from nova.context import RequestContext
from nova.db.images import AVAILABLE, FAILED, KERNEL, MACHINE, PENDING, RAMDISK, imageTypeOf
from nova.image import bundle
from nova.image.errors import (
    ImageLocationAccessDenied,
    ImageLocationNotFound,
    ImageNotAvailable,
    ImageNotFound,
    ImageNotOwned,
    InvalidImageAttribute,
    InvalidImageId,
    InvalidImageLocation,
)
from nova.image.interfaces import IImageService, LaunchPermission
from nova.image.service import INTERRUPTED_REASON, STOPPED_REASON, StaticKeys, parseLocation
from nova.objectstore.interfaces import ALL_USERS, Grant
from tests.image.support import (
    ImageTestMixin,
    context,
    handMadeBundle,
    imageData,
    otherCA,
    sharedCA,
)

P1, P2, P3 = context("p1"), context("p2"), context("p3")
ADMIN = context("adm", isAdmin=True)


class RegistrationTestsMixin(ImageTestMixin):
    @inlineCallbacks
    def setUp(self):
        yield self.setUpImages()
        yield self.store.createBucket("bk1", "p1")
        yield self.store.createBucket("bk2", "p2")
        self.transitions = []
        original = self.db.images.setState

        def recording(imageId, state, *args, **kwargs):
            d = original(imageId, state, *args, **kwargs)

            def done(changed):
                if changed:
                    self.transitions.append((imageId, state))
                return changed

            return d.addCallback(done)

        self.db.images.setState = recording

    def statesOf(self, imageId):
        return [state for i, state in self.transitions if i == imageId]

    @inlineCallbacks
    def toolBundle(self, data, bucket="bk1", owner="p1", name="disk.img", prefix="", **kwargs):
        source = self.writeFile(name, data)
        out = os.path.join(self.tmp, "bundle-" + name)
        os.makedirs(out, exist_ok=True)
        kwargs.setdefault("partSize", 256 * 1024)
        certificate = kwargs.pop("certificate", None) or self.ca.cloudCertificatePEM()
        result = yield deferToThread(bundle.makeBundle, source, out, certificate, **kwargs)
        location = yield self.uploadBundle(result, bucket, owner, prefix)
        return location

    @inlineCallbacks
    def handBundle(self, data, bucket="bk1", owner="p1", prefix="", **kwargs):
        out = os.path.join(self.tmp, "hand")
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        manifest = handMadeBundle(out, data, self.ca.cloudCertificatePEM(), **kwargs)
        for name in os.listdir(out):
            yield self.putFile(bucket, prefix + name, os.path.join(out, name), owner)
        return f"{bucket}/{prefix}{manifest}"

    @inlineCallbacks
    def register(self, ctx, location, **kwargs):
        record = yield self.images.registerImage(ctx, location, **kwargs)
        self.assertEqual(record.state, PENDING)
        final = yield self.images.waitForImage(record.ec2_id)
        return final

    def storedData(self, imageId):
        with open(self.storage.imagePath(imageId), "rb") as f:
            return f.read()


class BundleRegistrationTests(RegistrationTestsMixin, TestCase):
    def test_provides(self):
        verifyObject(IImageService, self.images)

    @inlineCallbacks
    def test_toolBundle(self):
        data = imageData(1024 * 1024 + 99)
        location = yield self.toolBundle(data, prefix="debian/")
        record = yield self.images.registerImage(P1, location, description="Debian")
        self.assertEqual(imageTypeOf(record.ec2_id), MACHINE)
        self.assertEqual(
            (record.state, record.project_id, record.user_id, record.location, record.name,
             record.architecture, record.root_device_name, record.description, record.is_public),
            (PENDING, "p1", "p1-user", "bk1/debian/disk.img.manifest.xml", "disk.img", "x86_64",
             "/dev/sda1", "Debian", False),
        )
        final = yield self.images.waitForImage(record.ec2_id)
        self.assertEqual(final.state, AVAILABLE, final.state_reason)
        self.assertEqual(
            (final.size, final.checksum, final.disk_format),
            (len(data), hashlib.sha256(data).hexdigest(), "raw"),
        )
        self.assertEqual(self.storedData(record.ec2_id), data)
        self.assertEqual(self.statesOf(record.ec2_id), ["decrypting", "untarring", "available"])
        self.assertEqual(self.storedFiles(), [record.ec2_id])

    @inlineCallbacks
    def test_handMadeBundle(self):
        data = imageData(600 * 1024, b"other")
        location = yield self.handBundle(data, partSize=100 * 1024)
        final = yield self.register(P1, location)
        self.assertEqual(final.state, AVAILABLE, final.state_reason)
        self.assertEqual(final.architecture, "i386")
        self.assertEqual(self.storedData(final.ec2_id), data)

    @inlineCallbacks
    def assertFailed(self, location, reason, ctx=P1):
        final = yield self.register(ctx, location)
        self.assertEqual(final.state, FAILED)
        self.assertIn(reason, final.state_reason)
        self.assertEqual(self.storedFiles(), [])
        self.assertFalse(os.path.exists(self.storage.imagePath(final.ec2_id)))
        return final

    @inlineCallbacks
    def test_tamperedPart(self):
        location = yield self.handBundle(imageData(600 * 1024), partSize=100 * 1024)
        reader = yield self.store.openObject("bk1", "hand.img.part.03")
        data = bytearray((yield reader.read(0, 200 * 1024)))
        reader.close()
        data[500] ^= 0xFF
        yield self.putBytes("bk1", "hand.img.part.03", bytes(data), "p1")
        yield self.assertFailed(location, "part 3 (hand.img.part.03) does not match its SHA1 digest")

    @inlineCallbacks
    def test_wrongKey(self):
        location = yield self.toolBundle(b"data" * 1000, certificate=otherCA().cloudCertificatePEM())
        final = yield self.assertFailed(location, "does not decrypt with this cloud's private key")
        self.assertEqual(self.statesOf(final.ec2_id), ["decrypting", "failed"])

    @inlineCallbacks
    def test_missingPart(self):
        location = yield self.handBundle(imageData(600 * 1024), partSize=100 * 1024)
        yield self.store.deleteObject("bk1", "hand.img.part.02")
        yield self.assertFailed(location, "the bundle part hand.img.part.02 is missing")

    @inlineCallbacks
    def test_badXML(self):
        yield self.putBytes("bk1", "broken.manifest.xml", b"<manifest><image>", "p1")
        final = yield self.assertFailed("bk1/broken.manifest.xml", "not well-formed XML")
        self.assertEqual(imageTypeOf(final.ec2_id), MACHINE)

    @inlineCallbacks
    def test_pathTraversal(self):
        info = tarfile.TarInfo("../../../etc/cron.d/evil")
        info.size = 5
        location = yield self.handBundle(b"evil\n", members=[(info, b"evil\n")])
        yield self.assertFailed(location, "points outside its directory")

    @inlineCallbacks
    def test_symlink(self):
        info = tarfile.TarInfo("disk.img")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/shadow"
        location = yield self.handBundle(
            b"", members=[(info, None)], manifestEdits=lambda t: t.replace("<size>0</size>", "")
        )
        yield self.assertFailed(location, "is a symbolic link")

    @inlineCallbacks
    def test_partNotReadable(self):
        """
        A manifest the project may read (public) whose parts it may not
        (private, in another project's bucket) fails the registration.
        """
        location = yield self.handBundle(imageData(300 * 1024), bucket="bk2", owner="p2", partSize=100 * 1024)
        yield self.store.setObjectACL("bk2", "hand.img.manifest.xml", (Grant("Group", ALL_USERS, "READ"),))
        yield self.assertFailed(location, "may not read bk2/hand.img.part.00")

    @inlineCallbacks
    def test_manifestTypes(self):
        kernel = yield self.register(P1, (yield self.toolBundle(b"K" * 5000, name="vmlinuz", imageType=KERNEL)))
        ramdisk = yield self.register(P1, (yield self.toolBundle(b"R" * 5000, name="initrd", imageType=RAMDISK)))
        self.assertEqual((imageTypeOf(kernel.ec2_id), kernel.disk_format, kernel.state), (KERNEL, "aki", AVAILABLE))
        self.assertEqual((imageTypeOf(ramdisk.ec2_id), ramdisk.disk_format), (RAMDISK, "ari"))
        self.assertIsNone(kernel.root_device_name)
        machine = yield self.register(
            P1,
            (yield self.toolBundle(b"M" * 5000, kernelId=kernel.ec2_id, ramdiskId=ramdisk.ec2_id)),
        )
        self.assertEqual(
            (machine.state, machine.kernel_id, machine.ramdisk_id),
            (AVAILABLE, kernel.ec2_id, ramdisk.ec2_id),
        )
        launch = yield self.images.checkLaunch(P1, machine.ec2_id)
        self.assertEqual(
            (launch.imageId, launch.kernelId, launch.ramdiskId),
            (machine.ec2_id, kernel.ec2_id, ramdisk.ec2_id),
        )

    @inlineCallbacks
    def test_unknownKernel(self):
        location = yield self.toolBundle(b"M" * 100, kernelId="aki-0000dead")
        yield self.assertFailure(self.images.registerImage(P1, location), ImageNotFound)
        self.assertEqual((yield self.db.images.find()), [])

    @inlineCallbacks
    def test_kernelOfAnotherProject(self):
        kernel = yield self.register(P2, (yield self.toolBundle(b"K" * 100, bucket="bk2", owner="p2", imageType=KERNEL)))
        location = yield self.toolBundle(b"M" * 100)
        yield self.assertFailure(self.images.registerImage(P1, location, kernelId=kernel.ec2_id), ImageNotFound)
        yield self.images.setPublic(P2, kernel.ec2_id, True)
        machine = yield self.register(P1, location, kernelId=kernel.ec2_id)
        self.assertEqual(machine.kernel_id, kernel.ec2_id)

    @inlineCallbacks
    def test_largeImage(self):
        """
        A 64 MiB image goes through bundling and registration without ever
        being held in memory.
        """
        data = imageData(64 * 1024 * 1024, b"large")
        digest = hashlib.sha256(data).hexdigest()
        location = yield self.toolBundle(data, partSize=10 * 1024 * 1024, compressLevel=1)
        del data
        tracemalloc.start()
        self.addCleanup(tracemalloc.stop)
        tracemalloc.reset_peak()
        final = yield self.register(P1, location)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        self.assertEqual(final.state, AVAILABLE, final.state_reason)
        self.assertEqual((final.size, final.checksum), (64 * 1024 * 1024, digest))
        with open(self.storage.imagePath(final.ec2_id), "rb") as f:
            stored = hashlib.sha256()
            for chunk in iter(lambda: f.read(1024 * 1024), b""):
                stored.update(chunk)
        self.assertEqual(stored.hexdigest(), digest)
        self.assertLess(peak, 24 * 1024 * 1024, f"peak traced memory {peak} bytes")

    test_largeImage.timeout = 300


class PlainRegistrationTests(RegistrationTestsMixin, TestCase):
    @inlineCallbacks
    def test_rawImage(self):
        data = imageData(300 * 1024)
        yield self.putBytes("bk1", "disks/disk.raw", data, "p1")
        final = yield self.register(P1, "bk1/disks/disk.raw", name="raw disk")
        self.assertEqual(
            (final.state, imageTypeOf(final.ec2_id), final.disk_format, final.name, final.size),
            (AVAILABLE, MACHINE, "raw", "raw disk", len(data)),
        )
        self.assertEqual(self.storedData(final.ec2_id), data)
        self.assertEqual(self.statesOf(final.ec2_id), ["available"])

    @inlineCallbacks
    def test_qcow2(self):
        yield self.putBytes("bk1", "disk.qcow2", b"QFI\xfb\x00\x00\x00\x03" + bytes(1000), "p1")
        final = yield self.register(P1, "s3://bk1/disk.qcow2")
        self.assertEqual((final.disk_format, final.location), ("qcow2", "bk1/disk.qcow2"))

    @inlineCallbacks
    def test_kernelAndRamdisk(self):
        yield self.putBytes("bk1", "vmlinuz", b"kernel" * 100, "p1")
        yield self.putBytes("bk1", "initrd", b"initrd" * 100, "p1")
        kernel = yield self.register(P1, "bk1/vmlinuz", imageType=KERNEL)
        ramdisk = yield self.register(P1, "/bk1/initrd", imageType=RAMDISK)
        self.assertEqual((imageTypeOf(kernel.ec2_id), kernel.disk_format, kernel.state), (KERNEL, "aki", AVAILABLE))
        self.assertEqual((imageTypeOf(ramdisk.ec2_id), ramdisk.disk_format), (RAMDISK, "ari"))
        yield self.putBytes("bk1", "disk.img", b"disk" * 100, "p1")
        machine = yield self.register(
            P1, "bk1/disk.img", kernelId=kernel.ec2_id, ramdiskId=ramdisk.ec2_id, architecture="i386",
            rootDeviceName="/dev/vda",
        )
        self.assertEqual(
            (machine.kernel_id, machine.ramdisk_id, machine.architecture, machine.root_device_name),
            (kernel.ec2_id, ramdisk.ec2_id, "i386", "/dev/vda"),
        )
        yield self.assertFailure(
            self.images.registerImage(P1, "bk1/vmlinuz", imageType=KERNEL, kernelId=kernel.ec2_id),
            InvalidImageAttribute,
        )
        yield self.assertFailure(
            self.images.registerImage(P1, "bk1/disk.img", kernelId=ramdisk.ec2_id), InvalidImageAttribute
        )

    @inlineCallbacks
    def test_typeFromMetadata(self):
        """
        A plain object uploaded with C{x-amz-meta-image-type} registers as
        that type.
        """
        from nova.objectstore.body import BytesBody
        from nova.objectstore.interfaces import ObjectSettings

        yield self.store.putObject(
            "bk1", "initrd", BytesBody(b"ramdisk"), ObjectSettings(owner="p1", metadata={"image-type": "ramdisk"})
        )
        final = yield self.register(P1, "bk1/initrd")
        self.assertEqual((imageTypeOf(final.ec2_id), final.disk_format), (RAMDISK, "ari"))
        yield self.store.putObject(
            "bk1", "odd", BytesBody(b"?"), ObjectSettings(owner="p1", metadata={"image-type": "floppy"})
        )
        yield self.assertFailure(self.images.registerImage(P1, "bk1/odd"), InvalidImageAttribute)
        overridden = yield self.register(P1, "bk1/initrd", imageType=KERNEL)
        self.assertEqual(imageTypeOf(overridden.ec2_id), KERNEL)

    @inlineCallbacks
    def test_tooLarge(self):
        self.images.maxImageSize = 1000
        yield self.putBytes("bk1", "big", bytes(1001), "p1")
        final = yield self.register(P1, "bk1/big")
        self.assertEqual(final.state, FAILED)
        self.assertIn("larger than the limit", final.state_reason)
        self.assertEqual(self.storedFiles(), [])

    @inlineCallbacks
    def test_locationErrors(self):
        for bad in ("nobucket", "bk1/", "/", "", "Bad_Bucket!/k"):
            yield self.assertFailure(self.images.registerImage(P1, bad), InvalidImageLocation)
        yield self.assertFailure(self.images.registerImage(P1, "bk1/nothing"), ImageLocationNotFound)
        yield self.assertFailure(self.images.registerImage(P1, "nobucket/k"), ImageLocationNotFound)
        yield self.putBytes("bk2", "private.img", b"x", "p2")
        yield self.assertFailure(self.images.registerImage(P1, "bk2/private.img"), ImageLocationAccessDenied)
        yield self.putBytes("bk2", "public.img", b"y", "p2", acl=(Grant("Group", ALL_USERS, "READ"),))
        final = yield self.register(P1, "bk2/public.img")
        self.assertEqual((final.state, final.project_id), (AVAILABLE, "p1"))
        yield self.assertFailure(
            self.images.registerImage(RequestContext(userId="u"), "bk1/k"), exception.NotAuthorized
        )
        yield self.assertFailure(
            self.images.registerImage(P1, "bk1/k", imageType="floppy"), InvalidImageAttribute
        )
        self.assertEqual(parseLocation("s3://bk1/a/b.manifest.xml"), ("bk1", "a/b.manifest.xml"))

    @inlineCallbacks
    def test_adminRegistersAnywhere(self):
        yield self.putBytes("bk2", "private.img", b"x", "p2")
        final = yield self.register(context("p1", isAdmin=True), "bk2/private.img")
        self.assertEqual((final.state, final.project_id), (AVAILABLE, "p1"))


class LifecycleTests(RegistrationTestsMixin, TestCase):
    @inlineCallbacks
    def test_deregister(self):
        yield self.putBytes("bk1", "disk.img", b"disk", "p1")
        record = yield self.register(P1, "bk1/disk.img")
        yield self.images.modifyImageAttribute(P1, record.ec2_id, "launchPermission", "add", userIds=["p2"])
        yield self.assertFailure(self.images.deregisterImage(P2, record.ec2_id), ImageNotOwned)
        yield self.assertFailure(self.images.deregisterImage(P3, record.ec2_id), ImageNotFound)
        yield self.images.deregisterImage(P1, record.ec2_id)
        yield self.assertFailure(self.images.getImage(P1, record.ec2_id), ImageNotFound)
        self.assertEqual(self.storedFiles(), [])
        self.assertEqual((yield self.store.getObjectInfo("bk1", "disk.img")).size, 4)

    @inlineCallbacks
    def test_deregisterWhileRegistering(self):
        location = yield self.toolBundle(imageData(4 * 1024 * 1024), partSize=256 * 1024)
        record = yield self.images.registerImage(P1, location)
        yield self.images.deregisterImage(P1, record.ec2_id)
        yield self.assertFailure(self.images.waitForImage(record.ec2_id), ImageNotFound)
        self.assertEqual(self.storedFiles(), [])
        self.assertEqual((yield self.db.images.find()), [])

    @inlineCallbacks
    def test_stopWhileRegistering(self):
        location = yield self.toolBundle(imageData(4 * 1024 * 1024), partSize=256 * 1024)
        record = yield self.images.registerImage(P1, location)
        yield self.images.stopService()
        final = yield self.db.images.get(record.ec2_id)
        self.assertEqual((final.state, final.state_reason), (FAILED, STOPPED_REASON))
        self.assertEqual(self.storedFiles(), [])
        self.images.startService()

    @inlineCallbacks
    def test_recover(self):
        stuck = yield self.db.images.create(MACHINE, "p1", "u", "bk1/x.manifest.xml")
        failed = yield self.images.recover()
        self.assertEqual(failed, [stuck.ec2_id])
        final = yield self.db.images.get(stuck.ec2_id)
        self.assertEqual((final.state, final.state_reason), (FAILED, INTERRUPTED_REASON))

    @inlineCallbacks
    def test_projectCA(self):
        """
        With project CAs, a bundle made for the project's CA certificate
        (the cacert.pem of the project's credentials) registers, and so
        does one made for the cloud certificate.
        """
        ca = sharedCA("projects", useProjectCA=True)
        yield self.images.stopService()
        yield self.setUpImages(ca=ca)
        yield self.store.createBucket("bk1", "p1")
        projectCert = yield deferToThread(ca.projectCertificatePEM, "p1")
        self.assertNotEqual(projectCert, ca.cloudCertificatePEM())
        data = b"project bundle" * 1000
        first = yield self.register(P1, (yield self.toolBundle(data, certificate=projectCert, name="a.img")))
        second = yield self.register(P1, (yield self.toolBundle(data, name="b.img")))
        self.assertEqual((first.state, second.state), (AVAILABLE, AVAILABLE), (first.state_reason, second.state_reason))

    @inlineCallbacks
    def test_staticKeys(self):
        yield self.images.stopService()
        yield self.setUpImages(keys=StaticKeys([otherCA().cloudPrivateKeyPEM()]))
        yield self.store.createBucket("bk1", "p1")
        location = yield self.toolBundle(b"static", certificate=otherCA().cloudCertificatePEM())
        self.assertEqual((yield self.register(P1, location)).state, AVAILABLE)


class AccessTests(RegistrationTestsMixin, TestCase):
    @inlineCallbacks
    def setUp(self):
        yield RegistrationTestsMixin.setUp(self)
        yield self.putBytes("bk1", "disk.img", b"disk", "p1")
        yield self.putBytes("bk1", "vmlinuz", b"kernel", "p1")
        self.kernel = yield self.register(P1, "bk1/vmlinuz", imageType=KERNEL)
        self.image = yield self.register(P1, "bk1/disk.img", kernelId=self.kernel.ec2_id)

    @inlineCallbacks
    def test_privateByDefault(self):
        imageId = self.image.ec2_id
        self.assertEqual((yield self.images.getImage(P1, imageId)).ec2_id, imageId)
        self.assertEqual((yield self.images.getImage(ADMIN, imageId)).ec2_id, imageId)
        yield self.assertFailure(self.images.getImage(P2, imageId), ImageNotFound)
        yield self.assertFailure(self.images.getImage(P2, "ami-zz"), InvalidImageId)
        self.assertEqual((yield self.images.describeImages(P2)), [])
        yield self.assertFailure(self.images.describeImages(P2, imageIds=[imageId]), ImageNotFound)
        yield self.assertFailure(self.images.checkLaunch(P2, imageId), ImageNotFound)
        mine = yield self.images.describeImages(P1)
        self.assertEqual([r.ec2_id for r in mine], [self.kernel.ec2_id, imageId])

    @inlineCallbacks
    def test_shareWithProject(self):
        imageId = self.image.ec2_id
        yield self.assertFailure(
            self.images.modifyImageAttribute(P2, imageId, "launchPermission", "add", userIds=["p2"]),
            ImageNotFound,
        )
        record = yield self.images.modifyImageAttribute(P1, imageId, "launchPermission", "add", userIds=["p2"])
        self.assertEqual(record.launch_permissions, ("p2",))
        self.assertEqual([r.ec2_id for r in (yield self.images.describeImages(P2))], [imageId])
        yield self.assertFailure(
            self.images.describeImageAttribute(P2, imageId, "launchPermission"), ImageNotOwned
        )
        yield self.assertFailure(self.images.modifyImageAttribute(P2, imageId, "description", value="x"), ImageNotOwned)
        self.assertEqual(
            (yield self.images.describeImageAttribute(P1, imageId, "launchPermission")),
            LaunchPermission((), ("p2",)),
        )
        # The kernel is not shared: the image cannot be launched by p2.
        yield self.assertFailure(self.images.checkLaunch(P2, imageId), ImageNotFound)
        yield self.images.setPublic(P1, self.kernel.ec2_id, True)
        launch = yield self.images.checkLaunch(P2, imageId)
        self.assertEqual(launch.kernelId, self.kernel.ec2_id)
        yield self.images.modifyImageAttribute(P1, imageId, "launchPermission", "remove", userIds=["p2"])
        yield self.assertFailure(self.images.getImage(P2, imageId), ImageNotFound)

    @inlineCallbacks
    def test_public(self):
        imageId = self.image.ec2_id
        yield self.images.modifyImageAttribute(P1, imageId, "launchPermission", "add", userGroups=["all"])
        yield self.images.setPublic(P1, self.kernel.ec2_id, True)
        self.assertEqual((yield self.images.getImage(P3, imageId)).is_public, True)
        self.assertEqual(
            (yield self.images.describeImageAttribute(P1, imageId, "launchPermission")).groups, ("all",)
        )
        yield self.images.checkLaunch(P3, imageId)
        self.assertEqual(
            [r.ec2_id for r in (yield self.images.describeImages(P3, executableBy=["all"]))],
            [self.kernel.ec2_id, imageId],
        )
        self.assertEqual((yield self.images.describeImages(P3, owners=["self"])), [])
        self.assertEqual(len((yield self.images.describeImages(P3, owners=["p1"]))), 2)
        self.assertEqual((yield self.images.describeImages(P3, executableBy=["self"])), [])
        yield self.images.resetImageAttribute(P1, imageId, "launchPermission")
        yield self.assertFailure(self.images.getImage(P3, imageId), ImageNotFound)

    @inlineCallbacks
    def test_attributes(self):
        imageId = self.image.ec2_id
        self.assertEqual((yield self.images.describeImageAttribute(P1, imageId, "kernel")), self.kernel.ec2_id)
        self.assertEqual((yield self.images.describeImageAttribute(P1, imageId, "rootDeviceName")), "/dev/sda1")
        yield self.images.modifyImageAttribute(P1, imageId, "description", value="my disk")
        self.assertEqual((yield self.images.describeImageAttribute(P1, imageId, "description")), "my disk")
        for bad in (
            dict(attribute="kernel", value="aki-00000000"),
            dict(attribute="launchPermission", operation="toggle", userIds=["p2"]),
            dict(attribute="launchPermission", operation="add", userGroups=["everyone"]),
            dict(attribute="launchPermission", operation="add"),
            dict(attribute="launchPermission", operation="add", userIds=["../x"]),
        ):
            yield self.assertFailure(self.images.modifyImageAttribute(P1, imageId, **bad), InvalidImageAttribute)
        yield self.assertFailure(self.images.describeImageAttribute(P1, imageId, "secret"), InvalidImageAttribute)

    @inlineCallbacks
    def test_checkLaunch(self):
        launch = yield self.images.checkLaunch(P1, self.image.ec2_id)
        self.assertEqual((launch.kernelId, launch.ramdiskId), (self.kernel.ec2_id, None))
        yield self.assertFailure(self.images.checkLaunch(P1, self.kernel.ec2_id), ImageNotFound)
        yield self.assertFailure(
            self.images.checkLaunch(P1, self.image.ec2_id, kernelId=self.image.ec2_id), ImageNotFound
        )
        yield self.assertFailure(
            self.images.checkLaunch(P1, self.image.ec2_id, ramdiskId="ari-00000000"), ImageNotFound
        )
        pending = yield self.db.images.create(MACHINE, "p1", "u", "bk1/x")
        yield self.assertFailure(self.images.checkLaunch(P1, pending.ec2_id), ImageNotAvailable)


class StorageTests(TestCase):
    def test_leftovers(self):
        """
        Opening the storage removes a crashed process's old temporary
        files, not those another process is writing now.
        """
        import time

        from nova.image.storage import LEFTOVER_AGE, ImageStorage
        from tests.image.support import runInThread

        path = os.path.abspath(self.mktemp())
        first = ImageStorage(path, runInThread)
        old, fresh = os.path.join(first.temporaryPath, "old"), os.path.join(first.temporaryPath, "fresh")
        for name in (old, fresh):
            open(name, "wb").close()
        past = time.time() - LEFTOVER_AGE - 10
        os.utime(old, (past, past))
        ImageStorage(path, runInThread)
        self.assertEqual(sorted(os.listdir(first.temporaryPath)), ["fresh"])
        self.assertRaises(InvalidImageId, first.imagePath, "../etc")
