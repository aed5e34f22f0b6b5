"""
Tests for L{nova.image.bundle}: manifests, unpacking and making bundles.
"""

import hashlib
import io
import os
import shutil
import subprocess
import tarfile

from twisted.trial.unittest import SynchronousTestCase

from nova.auth import crypto
from nova.image import bundle
from tests.image.support import handMadeBundle, imageData, otherCA, sharedCA


class BundleTestsMixin:
    def setUp(self):
        self.ca = sharedCA()
        self.cert = self.ca.cloudCertificatePEM()
        self.key = self.ca.cloudPrivateKeyPEM()
        self.dir = os.path.abspath(self.mktemp())
        os.makedirs(self.dir)

    def writeImage(self, data, name="disk.img"):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def manifest(self, name):
        with open(os.path.join(self.dir, name), "rb") as f:
            return bundle.parseManifest(f.read())

    def unpack(self, manifest, keys=None, **kwargs):
        output = io.BytesIO()
        result = bundle.unpackBundle(
            manifest, keys or [self.key], bundle.DirectoryPartSource(self.dir), output, **kwargs
        )
        return result, output.getvalue()


class RoundTripTests(BundleTestsMixin, SynchronousTestCase):
    def test_toolBundle(self):
        data = imageData(3 * 1024 * 1024 + 17)
        out = os.path.join(self.dir, "out")
        os.mkdir(out)
        result = bundle.makeBundle(self.writeImage(data), out, self.cert, partSize=512 * 1024)
        self.assertEqual(result.manifestName, "disk.img.manifest.xml")
        self.assertGreater(len(result.partPaths), 1)
        with open(result.manifestPath, "rb") as f:
            manifest = bundle.parseManifest(f.read())
        self.assertEqual(manifest, result.manifest)
        self.assertEqual(
            (manifest.imageType, manifest.size, manifest.architecture, manifest.rootDeviceName),
            ("machine", len(data), "x86_64", "/dev/sda1"),
        )
        self.assertEqual(manifest.bundledSize, sum(os.path.getsize(p) for p in result.partPaths))
        stages = []
        output = io.BytesIO()
        unpacked = bundle.unpackBundle(
            manifest, [self.key], bundle.DirectoryPartSource(out), output, onStage=stages.append
        )
        self.assertEqual(output.getvalue(), data)
        self.assertEqual(stages, ["decrypting", "untarring"])
        self.assertEqual(
            unpacked, bundle.UnpackedImage(len(data), hashlib.sha256(data).hexdigest(), "raw")
        )

    def test_handMadeBundle(self):
        """
        A bundle made with tarfile, gzip and AES from C{cryptography} and a
        manifest written by hand (the layout of ec2-ami-tools, zero-padded
        part numbers) unpacks to its data.
        """
        data = imageData(1024 * 1024 + 5, b"hand")
        name = handMadeBundle(self.dir, data, self.cert)
        manifest = self.manifest(name)
        self.assertEqual(manifest.architecture, "i386")
        self.assertEqual(manifest.parts[0].filename, "hand.img.part.00")
        result, written = self.unpack(manifest)
        self.assertEqual(written, data)
        self.assertEqual(result.size, len(data))

    def test_rawKeyBytes(self):
        """
        A bundler that encrypts the raw key bytes rather than their hex text
        is understood too.
        """
        data = b"raw key bundle" * 1000
        manifest = self.manifest(handMadeBundle(self.dir, data, self.cert, hexKey=False))
        self.assertEqual(self.unpack(manifest)[1], data)

    def test_qcow2Detected(self):
        data = b"QFI\xfb" + bytes(5000)
        manifest = self.manifest(handMadeBundle(self.dir, data, self.cert))
        self.assertEqual(self.unpack(manifest)[0].diskFormat, "qcow2")

    def test_kernelBundle(self):
        result = bundle.makeBundle(
            self.writeImage(b"kernel" * 100, "vmlinuz"), self.dir, self.cert, imageType="kernel"
        )
        manifest = self.manifest(result.manifestName)
        self.assertEqual((manifest.imageType, manifest.kernelId, manifest.rootDeviceName), ("kernel", None, None))

    def test_machineWithKernel(self):
        result = bundle.makeBundle(
            self.writeImage(b"disk"),
            self.dir,
            self.cert,
            kernelId="aki-0000000a",
            ramdiskId="ari-0000000b",
            architecture="i386",
            rootDeviceName="/dev/vda",
        )
        manifest = self.manifest(result.manifestName)
        self.assertEqual(
            (manifest.kernelId, manifest.ramdiskId, manifest.architecture, manifest.rootDeviceName),
            ("aki-0000000a", "ari-0000000b", "i386", "/dev/vda"),
        )

    def test_badArguments(self):
        path = self.writeImage(b"x")
        self.assertRaises(ValueError, bundle.makeBundle, path, self.dir, self.cert, imageType="disk")
        self.assertRaises(ValueError, bundle.makeBundle, path, self.dir, self.cert, kernelId="ari-00000000")
        self.assertRaises(
            ValueError, bundle.makeBundle, path, self.dir, self.cert, imageType="kernel", ramdiskId="ari-00000000"
        )
        self.assertRaises(ValueError, bundle.makeBundle, path, self.dir, self.cert, partSize=0)

    def test_emptyImage(self):
        result = bundle.makeBundle(self.writeImage(b""), self.dir, self.cert)
        self.assertEqual(len(result.partPaths), 1)
        self.assertEqual(self.unpack(self.manifest(result.manifestName))[1], b"")

    def test_userKeysAndSignature(self):
        """
        With the user's certificate and key, the key is encrypted to the
        user too and the manifest is signed over its machine_configuration
        and image elements as written.
        """
        userKey, userCert, _ = self.ca.signUserCertificate("alice", "proj")
        result = bundle.makeBundle(
            self.writeImage(b"signed"),
            self.dir,
            self.cert,
            userCertificatePEM=userCert,
            userPrivateKeyPEM=userKey,
            account="alice",
        )
        with open(result.manifestPath, "rb") as f:
            text = f.read()
        self.assertIn(b"<user_encrypted_key", text)
        self.assertTrue(bundle.verifyManifestSignature(text, userCert))
        self.assertFalse(bundle.verifyManifestSignature(text.replace(b"x86_64", b"i386"), userCert))
        import re

        userHex = re.search(rb"<user_encrypted_key[^>]*>([0-9a-f]+)<", text).group(1).decode()
        userKeyBytes = crypto.decryptBundleKey(userKey, userHex)
        self.assertEqual(userKeyBytes, crypto.decryptBundleKey(self.key, result.manifest.encryptedKey))

    def test_openssl(self):
        """
        A bundle made by the tool decrypts with C{openssl enc}, and untars
        with tar, to the image; the manifest's digest is the SHA-1 of the
        tar archive.
        """
        if shutil.which("openssl") is None or shutil.which("tar") is None:
            raise self.skipTest("openssl or tar is not installed")
        data = imageData(200000, b"openssl")
        result = bundle.makeBundle(self.writeImage(data), self.dir, self.cert, partSize=50000)
        key = crypto.decryptBundleKey(self.key, result.manifest.encryptedKey).hex()
        iv = crypto.decryptBundleKey(self.key, result.manifest.encryptedIV).hex()
        encrypted = b"".join(open(p, "rb").read() for p in result.partPaths)
        decrypted = subprocess.run(
            ["openssl", "enc", "-d", "-aes-128-cbc", "-K", key, "-iv", iv],
            input=encrypted, capture_output=True, check=True,
        ).stdout
        tarBytes = subprocess.run(["gzip", "-dc"], input=decrypted, capture_output=True, check=True).stdout
        self.assertEqual(hashlib.sha1(tarBytes).hexdigest(), result.manifest.digest)
        extracted = subprocess.run(["tar", "-xO"], input=tarBytes, capture_output=True, check=True).stdout
        self.assertEqual(extracted, data)

    def test_twoKeys(self):
        """
        With several candidate keys (a project CA's and the cloud's), the
        one that decrypts the bundle is used.
        """
        data = b"two keys" * 5000
        manifest = self.manifest(handMadeBundle(self.dir, data, self.cert))
        wrong = otherCA().cloudPrivateKeyPEM()
        self.assertEqual(self.unpack(manifest, keys=[wrong, self.key])[1], data)


class FailureTests(BundleTestsMixin, SynchronousTestCase):
    """
    Every kind of bad bundle fails with a reason.
    """

    def assertFails(self, manifest, error, text, **kwargs):
        exc = self.assertRaises(error, self.unpack, manifest, **kwargs)
        self.assertIn(text, str(exc))
        return exc

    def test_tamperedPart(self):
        data = imageData(700 * 1024)
        manifest = self.manifest(handMadeBundle(self.dir, data, self.cert, partSize=100 * 1024))
        path = os.path.join(self.dir, manifest.parts[1].filename)
        with open(path, "r+b") as f:
            f.seek(100)
            byte = f.read(1)
            f.seek(100)
            f.write(bytes([byte[0] ^ 1]))
        self.assertFails(manifest, bundle.BundleIntegrityError, "part 1 (hand.img.part.01) does not match")

    def test_missingPart(self):
        manifest = self.manifest(handMadeBundle(self.dir, imageData(700 * 1024), self.cert, partSize=100 * 1024))
        os.unlink(os.path.join(self.dir, manifest.parts[2].filename))
        self.assertFails(manifest, bundle.MissingBundlePart, "hand.img.part.02 is missing")

    def test_wrongKey(self):
        """
        A bundle made for another cloud's certificate does not decrypt.
        """
        manifest = self.manifest(handMadeBundle(self.dir, b"x" * 1000, otherCA().cloudCertificatePEM()))
        self.assertFails(manifest, crypto.BundleDecryptionError, "does not decrypt with this cloud")

    def test_swappedKey(self):
        """
        A manifest whose key was replaced (decrypting to another AES key)
        fails: the data is not gzip, or its padding is wrong.
        """
        other = crypto.encryptBundleKey(self.cert, os.urandom(16))

        def swap(text):
            import re

            return re.sub(r"(<ec2_encrypted_key[^>]*>)[0-9a-f]+", lambda m: m.group(1) + other, text)

        manifest = self.manifest(handMadeBundle(self.dir, b"y" * 5000, self.cert, manifestEdits=swap))
        self.assertRaises((bundle.BundleFormatError, crypto.BundleDecryptionError), self.unpack, manifest)

    def test_imageDigest(self):
        def wrongDigest(text):
            import re

            return re.sub(
                r'(<image>.*?<digest algorithm="SHA1">)[0-9a-f]+', lambda m: m.group(1) + "0" * 40, text, flags=re.S
            )

        manifest = self.manifest(handMadeBundle(self.dir, b"z" * 5000, self.cert, manifestEdits=wrongDigest))
        self.assertFails(manifest, bundle.BundleIntegrityError, "does not match the image's SHA1 digest")

    def test_sizeMismatch(self):
        manifest = self.manifest(
            handMadeBundle(
                self.dir, b"z" * 5000, self.cert, manifestEdits=lambda t: t.replace("<size>5000<", "<size>4999<")
            )
        )
        self.assertFails(manifest, bundle.BundleIntegrityError, "has 5000 bytes but the manifest says 4999")

    def test_tooLarge(self):
        manifest = self.manifest(handMadeBundle(self.dir, b"z" * 5000, self.cert))
        self.assertFails(manifest, bundle.ImageTooLarge, "limit", maxSize=4096)

    def test_pathTraversal(self):
        for name in ("../../etc/passwd", "/etc/passwd", "a/../../b", "C:\\x"):
            info = tarfile.TarInfo(name)
            info.size = 3
            shutil.rmtree(self.dir)
            os.makedirs(self.dir)
            manifest = self.manifest(handMadeBundle(self.dir, b"abc", self.cert, members=[(info, b"abc")]))
            self.assertFails(manifest, bundle.BundleFormatError, "points outside its directory")

    def test_links(self):
        for kind, text in ((tarfile.SYMTYPE, "symbolic link"), (tarfile.LNKTYPE, "hard link")):
            info = tarfile.TarInfo("disk.img")
            info.type = kind
            info.linkname = "/etc/shadow"
            shutil.rmtree(self.dir)
            os.makedirs(self.dir)
            manifest = self.manifest(
                handMadeBundle(self.dir, b"", self.cert, members=[(info, None)],
                               manifestEdits=lambda t: t.replace("<size>0</size>", ""))
            )
            self.assertFails(manifest, bundle.BundleFormatError, text)

    def test_directoryAndDevice(self):
        for kind, text in ((tarfile.DIRTYPE, "a directory"), (tarfile.CHRTYPE, "a device")):
            info = tarfile.TarInfo("thing")
            info.type = kind
            shutil.rmtree(self.dir)
            os.makedirs(self.dir)
            manifest = self.manifest(
                handMadeBundle(self.dir, b"", self.cert, members=[(info, None)],
                               manifestEdits=lambda t: t.replace("<size>0</size>", ""))
            )
            self.assertFails(manifest, bundle.BundleFormatError, text)

    def test_twoEntries(self):
        first, second = tarfile.TarInfo("disk.img"), tarfile.TarInfo("extra")
        first.size = second.size = 2
        manifest = self.manifest(
            handMadeBundle(self.dir, b"ab", self.cert, members=[(first, b"ab"), (second, b"cd")])
        )
        self.assertFails(manifest, bundle.BundleFormatError, "more than one entry")

    def test_emptyArchive(self):
        manifest = self.manifest(
            handMadeBundle(self.dir, b"", self.cert, members=[],
                           manifestEdits=lambda t: t.replace("<size>0</size>", ""))
        )
        self.assertFails(manifest, bundle.BundleFormatError, "")

    def test_notATar(self):
        """
        Encrypted gzip data that is not a tar archive fails.
        """
        import gzip

        compressed = gzip.compress(b"this is not a tar archive" * 100)
        self._encryptedBundle(compressed)
        self.assertFails(self.manifest("raw.manifest.xml"), bundle.BundleFormatError, "not a tar archive")

    def test_notGzip(self):
        self._encryptedBundle(b"plain bytes, never compressed" * 10)
        self.assertFails(self.manifest("raw.manifest.xml"), bundle.BundleFormatError, "not gzip data")

    def test_truncatedGzip(self):
        import gzip

        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            info = tarfile.TarInfo("x")
            info.size = 100000
            tar.addfile(info, io.BytesIO(os.urandom(100000)))
        self._encryptedBundle(gzip.compress(data.getvalue())[:50000])
        self.assertRaises(bundle.BundleFormatError, self.unpack, self.manifest("raw.manifest.xml"))

    def _encryptedBundle(self, plaintext):
        key, iv = os.urandom(16), os.urandom(16)
        encryptor = crypto.aesCbcEncryptor(key, iv)
        encrypted = encryptor.update(plaintext) + encryptor.finalize()
        with open(os.path.join(self.dir, "raw.part.0"), "wb") as f:
            f.write(encrypted)
        text = (
            "<manifest><image><type>machine</type>"
            f'<ec2_encrypted_key algorithm="AES-128-CBC">{crypto.encryptBundleKey(self.cert, key)}</ec2_encrypted_key>'
            f"<ec2_encrypted_iv>{crypto.encryptBundleKey(self.cert, iv)}</ec2_encrypted_iv>"
            '<parts count="1"><part index="0"><filename>raw.part.0</filename>'
            f'<digest algorithm="SHA1">{hashlib.sha1(encrypted).hexdigest()}</digest></part></parts>'
            "</image></manifest>"
        )
        with open(os.path.join(self.dir, "raw.manifest.xml"), "w") as f:
            f.write(text)

    def test_truncatedCiphertext(self):
        """
        Parts whose ciphertext is not a whole number of blocks fail to
        decrypt.
        """
        self._encryptedBundle(b"q" * 100)
        with open(os.path.join(self.dir, "raw.part.0"), "r+b") as f:
            data = f.read()
            f.seek(0)
            f.truncate()
            f.write(data[:-3])
        text = open(os.path.join(self.dir, "raw.manifest.xml")).read()
        import re

        text = re.sub(r"(<filename>raw.part.0</filename><digest algorithm=\"SHA1\">)[0-9a-f]+",
                      lambda m: m.group(1) + hashlib.sha1(data[:-3]).hexdigest(), text)
        with open(os.path.join(self.dir, "raw.manifest.xml"), "w") as f:
            f.write(text)
        self.assertRaises(
            (crypto.BundleDecryptionError, bundle.BundleFormatError), self.unpack, self.manifest("raw.manifest.xml")
        )

    def test_cancelled(self):
        manifest = self.manifest(handMadeBundle(self.dir, imageData(700 * 1024), self.cert))
        calls = []

        def cancelled():
            calls.append(1)
            return len(calls) > 2

        self.assertRaises(bundle.RegistrationCancelled, self.unpack, manifest, cancelled=cancelled)


class ManifestTests(SynchronousTestCase):
    def setUp(self):
        self.valid = (
            "<manifest><version>2007-10-10</version>"
            "<machine_configuration><architecture>x86_64</architecture>"
            "<kernel_id>aki-00000001</kernel_id><ramdisk_id>ari-00000002</ramdisk_id>"
            "</machine_configuration>"
            "<image><name>n</name><type>machine</type>"
            '<digest algorithm="SHA1">' + "a" * 40 + "</digest><size>10</size>"
            '<ec2_encrypted_key algorithm="AES-128-CBC">abcd</ec2_encrypted_key>'
            "<ec2_encrypted_iv>abcd</ec2_encrypted_iv>"
            '<parts count="2">'
            '<part index="1"><filename>n.part.1</filename><digest algorithm="SHA1">' + "b" * 40 + "</digest></part>"
            '<part index="0"><filename>n.part.0</filename><digest algorithm="SHA1">' + "c" * 40 + "</digest></part>"
            "</parts></image></manifest>"
        )

    def parse(self, text):
        return bundle.parseManifest(text.encode("utf-8"))

    def assertInvalid(self, text, reason):
        error = self.assertRaises(bundle.InvalidManifest, self.parse, text)
        self.assertIn(reason, str(error))

    def test_valid(self):
        manifest = self.parse(self.valid)
        self.assertEqual([p.filename for p in manifest.parts], ["n.part.0", "n.part.1"])
        self.assertEqual((manifest.kernelId, manifest.ramdiskId, manifest.size), ("aki-00000001", "ari-00000002", 10))

    def test_eucalyptusMarks(self):
        kernel = self.parse(self.valid.replace("aki-00000001", "true"))
        self.assertEqual((kernel.imageType, kernel.kernelId, kernel.ramdiskId), ("kernel", None, None))
        ramdisk = self.parse(self.valid.replace("ari-00000002", "true").replace("<kernel_id>aki-00000001</kernel_id>", ""))
        self.assertEqual(ramdisk.imageType, "ramdisk")

    def test_badXML(self):
        self.assertInvalid("<manifest><image>", "not well-formed XML")
        self.assertInvalid("not xml at all", "not well-formed XML")
        self.assertInvalid("<other/>", "not a manifest")

    def test_entities(self):
        self.assertInvalid('<!DOCTYPE m [<!ENTITY a "aaaa">]><manifest>&a;</manifest>', "document type")

    def test_tooLarge(self):
        self.assertInvalid("<manifest>" + " " * bundle.MAX_MANIFEST_SIZE + "</manifest>", "larger than")

    def test_missingElements(self):
        self.assertInvalid("<manifest/>", "has no image")
        self.assertInvalid(self.valid.replace("<ec2_encrypted_iv>abcd</ec2_encrypted_iv>", ""), "ec2_encrypted_iv")
        self.assertInvalid(self.valid.replace("abcd</ec2_encrypted_key>", "xyz</ec2_encrypted_key>"), "not hex")
        start, end = self.valid.index("<parts"), self.valid.index("</parts>") + 8
        self.assertInvalid(self.valid[:start] + self.valid[end:], "has no parts")

    def test_badParts(self):
        self.assertInvalid(self.valid.replace('count="2"', 'count="3"'), "lists 2 parts")
        self.assertInvalid(self.valid.replace('index="1"', 'index="0"'), "listed twice")
        self.assertInvalid(self.valid.replace('index="1"', 'index="7"'), "out of range")
        self.assertInvalid(self.valid.replace("n.part.1", "n.part.0"), "one part file twice")
        self.assertInvalid(self.valid.replace('count="2"', 'count="0"'), "out of range")
        self.assertInvalid(self.valid.replace('count="2"', 'count="x"'), "not a number")
        self.assertInvalid(self.valid.replace("b" * 40, "b" * 39), "not a SHA1 hex digest")
        for bad in ("../n.part.1", "dir/n.part.1", "..", "a\\b"):
            self.assertInvalid(self.valid.replace("n.part.1", bad), "unusable part file")

    def test_badTypesAndIds(self):
        self.assertInvalid(self.valid.replace("<type>machine", "<type>disk"), "unknown image type")
        self.assertInvalid(self.valid.replace("aki-00000001", "ari-00000001"), "not a kernel image id")
        self.assertInvalid(self.valid.replace("ari-00000002", "ami-00000002"), "not a ramdisk image id")
        self.assertInvalid(self.valid.replace("AES-128-CBC", "DES-CBC"), "unsupported encryption")
        self.assertInvalid(self.valid.replace('algorithm="SHA1">' + "a", 'algorithm="MD4">' + "a"), "unsupported digest")

    def test_kernelIgnoresIds(self):
        manifest = self.parse(self.valid.replace("<type>machine", "<type>kernel"))
        self.assertEqual((manifest.kernelId, manifest.ramdiskId), (None, None))
