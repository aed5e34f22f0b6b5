"""
Tests for C{nova-bundle-image}: bundling to a directory, and uploading with
boto3 to a real object store on loopback, then registering.
"""

import io
import os

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nova.db.images import AVAILABLE, KERNEL, MACHINE, imageTypeOf
from nova.image import bundle, bundletool
from nova.image.serve import ImageDataRoute
from nova.objectstore.auth import StaticKey, StaticKeyAuthenticator
from nova.objectstore.resource import S3Resource, makeSite
from tests.image.support import ImageTestMixin, context, imageData, sharedCA


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def runTool(*argv, env=None, terminal=False):
    out, err = io.StringIO(), (_Terminal() if terminal else io.StringIO())
    saved = {}
    for name, value in (env or {}).items():
        saved[name] = os.environ.get(name)
        os.environ[name] = value
    try:
        code = bundletool.run(list(argv), out, err)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return code, out.getvalue(), err.getvalue()


class BundleToolTests(SynchronousTestCase):
    def setUp(self):
        self.ca = sharedCA()
        self.dir = os.path.abspath(self.mktemp())
        os.makedirs(self.dir)
        self.certPath = os.path.join(self.dir, "cacert.pem")
        with open(self.certPath, "w") as f:
            f.write(self.ca.cloudCertificatePEM())
        self.image = os.path.join(self.dir, "vmlinuz")
        with open(self.image, "wb") as f:
            f.write(b"kernel" * 3000)

    def test_bundleToDirectory(self):
        out = os.path.join(self.dir, "out")
        code, stdout, err = runTool(
            "-i", self.image, "-d", out, "--ec2cert", self.certPath, "--type", "kernel",
            "--part-size", "1", "-p", "linux",
        )
        self.assertEqual(code, 0, err)
        manifestPath = os.path.join(out, "linux.manifest.xml")
        self.assertEqual(stdout, manifestPath + "\n")
        with open(manifestPath, "rb") as f:
            manifest = bundle.parseManifest(f.read())
        self.assertEqual((manifest.imageType, manifest.name, manifest.size), ("kernel", "vmlinuz", 18000))
        written = io.BytesIO()
        bundle.unpackBundle(manifest, [self.ca.cloudPrivateKeyPEM()], bundle.DirectoryPartSource(out), written)
        self.assertEqual(written.getvalue(), b"kernel" * 3000)

    def test_certificateFromEnvironment(self):
        out = os.path.join(self.dir, "out")
        code, _, err = runTool("-i", self.image, "-d", out, env={"NOVA_CERT": self.certPath})
        self.assertEqual(code, 0, err)
        self.assertTrue(os.path.exists(os.path.join(out, "vmlinuz.manifest.xml")))

    def test_userCertificateFromEnvironment(self):
        """
        C{$EC2_CERT} and C{$EC2_PRIVATE_KEY} (the user's, as novarc sets
        them) encrypt the key to the user too and sign the manifest.
        """
        userKey, userCert, _ = self.ca.signUserCertificate("alice", "proj")
        paths = {}
        for name, text in (("EC2_CERT", userCert), ("EC2_PRIVATE_KEY", userKey)):
            paths[name] = os.path.join(self.dir, name)
            with open(paths[name], "w") as f:
                f.write(text)
        out = os.path.join(self.dir, "out")
        code, _, err = runTool("-i", self.image, "-d", out, env=dict(paths, NOVA_CERT=self.certPath))
        self.assertEqual(code, 0, err)
        with open(os.path.join(out, "vmlinuz.manifest.xml"), "rb") as f:
            text = f.read()
        self.assertIn(b"<user_encrypted_key", text)
        self.assertTrue(bundle.verifyManifestSignature(text, userCert))

    def test_errors(self):
        self.patch(os, "environ", {k: v for k, v in os.environ.items()
                                   if k not in ("NOVA_CERT", "EUCALYPTUS_CERT", "EC2_CERT", "EC2_PRIVATE_KEY")})
        code, _, err = runTool("-i", self.image)
        self.assertEqual((code, err), (2, "nova-bundle-image: give the cloud's certificate with --ec2cert\n"))
        code, _, err = runTool("-i", "/nonexistent", "--ec2cert", self.certPath)
        self.assertEqual(code, 1)
        code, _, err = runTool("-i", self.image, "--ec2cert", self.certPath, "--kernel", "ari-00000000",
                               "-d", self.dir)
        self.assertIn("is not a kernel id", err)
        code, _, err = runTool("-i", self.image, "--ec2cert", self.certPath, "--upload", "bucket",
                               "--access-key", "", "--secret-key", "")
        self.assertEqual(code, 2)
        self.assertIn("needs --access-key", err)


class LoopbackStoreMixin(ImageTestMixin):
    """
    A real object store on a loopback port, with one key (project p1).
    """

    timeout = 120

    @inlineCallbacks
    def setUp(self):
        yield self.setUpImages()
        resource = S3Resource(
            self.store,
            StaticKeyAuthenticator({"AKALICE": StaticKey("alice-secret", "alice", "p1")}, reactor),
            reservedRoutes={"_images": ImageDataRoute(self.images)},
        )
        self.port = reactor.listenTCP(0, makeSite(resource), interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)
        self.url = f"http://127.0.0.1:{self.port.getHost().port}"
        self.certPath = os.path.join(self.tmp, "cacert.pem")
        with open(self.certPath, "w") as f:
            f.write(self.ca.cloudCertificatePEM())


class UploadTests(LoopbackStoreMixin, TestCase):
    """
    The tool uploads with boto3 to a real object store; the bundle then
    registers.
    """

    @inlineCallbacks
    def test_progressOnATerminal(self):
        """
        On a terminal, the tool shows what it does and how much it sent,
        on one line; the result goes to standard output as without one.
        """
        data = imageData(2 * 1024 * 1024 + 7)
        diskPath = self.writeFile("disk.img", data)
        code, out, err = yield deferToThread(
            runTool, "-i", diskPath, "--ec2cert", self.certPath, "--part-size", "1",
            "--upload", "images", "--s3-url", self.url, "--access-key", "AKALICE",
            "--secret-key", "alice-secret", terminal=True,
        )
        self.assertEqual((code, out), (0, "uploaded: images/disk.img.manifest.xml\n"), err)
        self.assertTrue(err.startswith("\rnova-bundle-image: bundling disk.img (2.0 MB)"), err)
        self.assertIn("\rnova-bundle-image: uploading to images", err)
        self.assertRegex(err, r"\(100%\) *\n$")

    @inlineCallbacks
    def test_uploadAndRegister(self):
        data = imageData(2 * 1024 * 1024 + 7)
        kernelPath = self.writeFile("vmlinuz", b"k" * 4000)
        diskPath = self.writeFile("disk.img", data)
        env = {"EC2_ACCESS_KEY": "AKALICE", "EC2_SECRET_KEY": "alice-secret", "S3_URL": self.url}
        code, out, err = yield deferToThread(
            runTool, "-i", kernelPath, "--ec2cert", self.certPath, "--type", "kernel", "--upload", "images",
            env=env,
        )
        self.assertEqual((code, out), (0, "uploaded: images/vmlinuz.manifest.xml\n"), err)
        kernel = yield self.images.registerImage(context("p1"), "images/vmlinuz.manifest.xml")
        self.assertEqual(imageTypeOf(kernel.ec2_id), KERNEL)
        code, out, err = yield deferToThread(
            runTool, "-i", diskPath, "--ec2cert", self.certPath, "--kernel", kernel.ec2_id,
            "--part-size", "1", "--upload", "images", "--key-prefix", "debian", "--s3-url", self.url,
            "--access-key", "AKALICE", "--secret-key", "alice-secret",
        )
        self.assertEqual((code, out), (0, "uploaded: images/debian/disk.img.manifest.xml\n"), err)
        listing = yield self.store.listObjects("images", prefix="debian/")
        reader = yield self.store.openObject("images", "debian/disk.img.manifest.xml")
        manifest = bundle.parseManifest((yield reader.read(0, reader.info.size)))
        reader.close()
        self.assertGreater(len(manifest.parts), 1)
        self.assertEqual(
            sorted(c.key for c in listing.contents),
            sorted(["debian/disk.img.manifest.xml"] + ["debian/" + p.filename for p in manifest.parts]),
        )
        record = yield self.images.registerImage(context("p1"), "images/debian/disk.img.manifest.xml")
        final = yield self.images.waitForImage(record.ec2_id)
        self.assertEqual((final.state, imageTypeOf(final.ec2_id), final.kernel_id), (AVAILABLE, MACHINE, kernel.ec2_id))
        with open(self.storage.imagePath(final.ec2_id), "rb") as f:
            self.assertEqual(f.read(), data)

    @inlineCallbacks
    def test_uploadRefused(self):
        path = self.writeFile("disk.img", b"x" * 100)
        code, _, err = yield deferToThread(
            runTool, "-i", path, "--ec2cert", self.certPath, "--upload", "images", "--s3-url", self.url,
            "--access-key", "AKALICE", "--secret-key", "wrong",
        )
        self.assertEqual(code, 1)
        self.assertIn("the upload failed", err)
        self.assertIn("403", err)


class AwsCLITests(LoopbackStoreMixin, TestCase):
    """
    The flow docs/images.md describes with the aws CLI: bundle, upload with
    C{aws s3 sync} / C{aws s3 cp}, register the location.
    """

    def aws(self, *argv):
        import subprocess
        import sys

        executable = os.path.join(os.path.dirname(sys.executable), "aws")
        if not os.path.exists(executable):
            raise self.skipTest("the aws CLI is not installed")
        env = dict(
            os.environ,
            AWS_ACCESS_KEY_ID="AKALICE",
            AWS_SECRET_ACCESS_KEY="alice-secret",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE="/nonexistent",
            AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        )
        return deferToThread(
            subprocess.run,
            [executable, "--endpoint-url", self.url, *argv],
            env=env,
            capture_output=True,
            text=True,
        )

    @inlineCallbacks
    def test_syncAndRegister(self):
        data = imageData(1024 * 1024 + 3, b"cli")
        bundleDir = os.path.join(self.tmp, "bundle")
        code, _, err = yield deferToThread(
            runTool, "-i", self.writeFile("disk.img", data), "-d", bundleDir, "--ec2cert", self.certPath,
            "--part-size", "1",
        )
        self.assertEqual(code, 0, err)
        result = yield self.aws("s3", "mb", "s3://images")
        self.assertEqual(result.returncode, 0, result.stderr)
        result = yield self.aws("s3", "sync", bundleDir, "s3://images/debian/")
        self.assertEqual(result.returncode, 0, result.stderr)
        result = yield self.aws(
            "s3", "cp", self.writeFile("vmlinuz", b"k" * 999), "s3://images/vmlinuz",
            "--metadata", "image-type=kernel",
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        machine = yield self.images.registerImage(context("p1"), "images/debian/disk.img.manifest.xml")
        kernel = yield self.images.registerImage(context("p1"), "images/vmlinuz")
        machine = yield self.images.waitForImage(machine.ec2_id)
        kernel = yield self.images.waitForImage(kernel.ec2_id)
        self.assertEqual((machine.state, kernel.state, imageTypeOf(kernel.ec2_id)), (AVAILABLE, AVAILABLE, KERNEL))
        with open(self.storage.imagePath(machine.ec2_id), "rb") as f:
            self.assertEqual(f.read(), data)
