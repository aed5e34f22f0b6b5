# -*- test-case-name: tests.image.test_bundle -*-
"""
Image bundles in the format of C{ec2-bundle-image} (manifest version
2007-10-10): reading a manifest, unpacking a bundle into its image, and
making bundles.

A bundle is a manifest, C{<name>.manifest.xml}, and parts,
C{<name>.part.0}, C{<name>.part.1}, ...  The parts, concatenated, are a tar
archive holding one file (the image), compressed with gzip and encrypted
with AES-128-CBC (PKCS#7 padding, as C{openssl enc} writes it) under a
random key and IV.  The manifest names the parts with the SHA-1 digest of
each, gives the SHA-1 digest of the tar archive and its image's size, and
holds the key and IV encrypted with RSA to the cloud's certificate
(C{ec2_encrypted_key}, C{ec2_encrypted_iv}) and to the user's
(C{user_encrypted_key}, C{user_encrypted_iv}; see
L{nova.auth.crypto.encryptBundleKey})::

    <manifest>
      <version>2007-10-10</version>
      <bundler><name/><version/><release/></bundler>
      <machine_configuration>
        <architecture>x86_64</architecture>
        <block_device_mapping>
          <mapping><virtual>ami</virtual><device>sda1</device></mapping>
          <mapping><virtual>root</virtual><device>/dev/sda1</device></mapping>
        </block_device_mapping>
        <kernel_id>aki-...</kernel_id>
        <ramdisk_id>ari-...</ramdisk_id>
      </machine_configuration>
      <image>
        <name>disk.img</name>
        <user>account</user>
        <type>machine</type>             (or kernel, ramdisk)
        <digest algorithm="SHA1">hex SHA-1 of the tar archive</digest>
        <size>bytes of the image</size>
        <bundled_size>bytes of all parts</bundled_size>
        <ec2_encrypted_key algorithm="AES-128-CBC">hex</ec2_encrypted_key>
        <user_encrypted_key algorithm="AES-128-CBC">hex</user_encrypted_key>
        <ec2_encrypted_iv>hex</ec2_encrypted_iv>
        <user_encrypted_iv>hex</user_encrypted_iv>
        <parts count="2">
          <part index="0"><filename>disk.img.part.0</filename>
            <digest algorithm="SHA1">hex</digest></part>
          ...
        </parts>
      </image>
      <signature>hex RSA-SHA1 over machine_configuration + image</signature>
    </manifest>

Eucalyptus marks kernel and ramdisk bundles with C{<kernel_id>true</kernel_id>}
and C{<ramdisk_id>true</ramdisk_id>}; L{parseManifest} takes those to mean
the type as well.

Everything here is synchronous and streams in chunks of L{CHUNK_SIZE}: no
image is ever held in memory, whatever its size.  Callers on the reactor
thread run it in a thread.
"""

import binascii
import hashlib
import os
import re
import tarfile
import xml.etree.ElementTree as ET
import zlib

import attr

from nova import exception
from nova.auth import crypto
from nova.db.images import IMAGE_TYPES, KERNEL, MACHINE, RAMDISK, imageTypeOf

MANIFEST_SUFFIX = ".manifest.xml"
MANIFEST_VERSION = "2007-10-10"
BUNDLER_NAME = "nova-bundle-image"
BUNDLER_VERSION = "1.0"
BUNDLER_RELEASE = "2007-10-10"

CHUNK_SIZE = 1024 * 1024
DEFAULT_PART_SIZE = 10 * 1024 * 1024
MAX_MANIFEST_SIZE = 1024 * 1024
MAX_PARTS = 10000
#: Bytes a tar archive may carry after its end-of-archive blocks (tar pads
#: archives to whole records of 10240 bytes; some writers use bigger ones).
MAX_ARCHIVE_TRAILER = 1024 * 1024

_KEY_ALGORITHMS = ("AES-128-CBC", "AES-192-CBC", "AES-256-CBC")
_DIGESTS = {"SHA1": "sha1", "SHA256": "sha256"}
_HEX = re.compile(r"\A[0-9a-fA-F]+\Z")
_GZIP_MAGIC = b"\x1f\x8b"
_QCOW_MAGIC = b"QFI\xfb"


class BundleError(exception.Invalid):
    """The image bundle is unusable."""

    code = "BundleError"
    ec2Code = "InvalidManifest"


class InvalidManifest(BundleError):
    """The manifest is not a valid bundle manifest."""

    code = "InvalidManifest"


class MissingBundlePart(BundleError):
    """A part of the bundle is missing."""

    code = "MissingBundlePart"


class BundleIntegrityError(BundleError):
    """The bundle does not match its manifest."""

    code = "BundleIntegrityError"


class BundleFormatError(BundleError):
    """The decrypted bundle is not a gzipped tar archive of one file."""

    code = "BundleFormatError"


class ImageTooLarge(BundleError):
    """The image is larger than allowed."""

    code = "ImageTooLarge"


class RegistrationCancelled(exception.NovaError):
    """The registration was cancelled (the image was deregistered)."""

    code = "RegistrationCancelled"


# -- manifests ----------------------------------------------------------


@attr.s(frozen=True)
class BundlePart:
    """
    @ivar index: the part's position, from 0.
    @ivar filename: its name, relative to the manifest's directory.
    @ivar digestAlgorithm: C{sha1} (or C{sha256}).
    @ivar digest: the hex digest of the part, lower case.
    """

    index = attr.ib()
    filename = attr.ib()
    digestAlgorithm = attr.ib()
    digest = attr.ib()


@attr.s(frozen=True)
class Manifest:
    """
    A parsed bundle manifest.  See the module docstring for the elements.

    @ivar blockDeviceMappings: C{(virtual, device)} pairs.
    @ivar imageType: C{machine}, C{kernel} or C{ramdisk}.
    @ivar digestAlgorithm: of C{digest}, C{sha1} (or C{sha256}), or
        C{None} when the manifest gives no digest of the archive.
    @ivar size: the image's size in bytes, or C{None}.
    @ivar encryptedKey: the hex C{ec2_encrypted_key}.
    @ivar encryptedIV: the hex C{ec2_encrypted_iv}.
    @ivar parts: L{BundlePart}s in order.
    """

    version = attr.ib()
    architecture = attr.ib()
    kernelId = attr.ib()
    ramdiskId = attr.ib()
    blockDeviceMappings = attr.ib(converter=tuple)
    name = attr.ib()
    user = attr.ib()
    imageType = attr.ib()
    digestAlgorithm = attr.ib()
    digest = attr.ib()
    size = attr.ib()
    bundledSize = attr.ib()
    keyAlgorithm = attr.ib()
    encryptedKey = attr.ib()
    encryptedIV = attr.ib()
    parts = attr.ib(converter=tuple)
    signature = attr.ib(default=None)

    @property
    def rootDeviceName(self):
        """
        @return: the device of the C{root} mapping (C{/dev/sda1}), or
            C{None}.
        """
        for virtual, device in self.blockDeviceMappings:
            if virtual == "root":
                return device if device.startswith("/dev/") else "/dev/" + device
        return None


def _text(element, path, required=False, what=None):
    found = element.find(path)
    if found is None or found.text is None or not found.text.strip():
        if required:
            raise InvalidManifest(f"the manifest has no {what or path}")
        return None
    return found.text.strip()


def _integer(text, what, minimum=0):
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise InvalidManifest(f"the manifest's {what} is not a number: {text[:40]!r}")
    if value < minimum:
        raise InvalidManifest(f"the manifest's {what} is out of range: {value}")
    return value


def _digestAlgorithm(element, what):
    name = (element.get("algorithm") or "SHA1").strip().upper().replace("-", "")
    if name not in _DIGESTS:
        raise InvalidManifest(f"unsupported digest algorithm {name[:20]!r} for {what}")
    return _DIGESTS[name]


def _hexDigest(text, algorithm, what):
    if text is None or not _HEX.match(text) or len(text) != hashlib.new(algorithm).digest_size * 2:
        raise InvalidManifest(f"the manifest's {what} is not a {algorithm.upper()} hex digest")
    return text.lower()


def checkPartFilename(name):
    """
    @return: C{name}, if it can name a part: one file name beside the
        manifest, no directories.
    @raise InvalidManifest: otherwise.
    """
    if (
        not name
        or len(name.encode("utf-8")) > 255
        or "/" in name
        or "\\" in name
        or name in (".", "..")
        or any(ord(c) < 32 or ord(c) == 127 for c in name)
    ):
        raise InvalidManifest(f"the manifest names an unusable part file {name[:80]!r}")
    return name


def parseManifest(data):
    """
    Read a bundle manifest.

    @param data: the manifest, L{bytes}.
    @rtype: L{Manifest}
    @raise InvalidManifest: if it is not well-formed XML, declares a
        document type or entities, or lacks or garbles what a bundle needs.
    """
    if len(data) > MAX_MANIFEST_SIZE:
        raise InvalidManifest(f"the manifest is larger than {MAX_MANIFEST_SIZE} bytes")
    upper = data.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise InvalidManifest("the manifest declares a document type")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise InvalidManifest(f"the manifest is not well-formed XML: {e}")
    if root.tag != "manifest":
        raise InvalidManifest(f"the document is a {root.tag[:40]!r}, not a manifest")
    image = root.find("image")
    if image is None:
        raise InvalidManifest("the manifest has no image")
    configuration = root.find("machine_configuration")
    if configuration is None:
        configuration = ET.Element("machine_configuration")

    imageType = (_text(image, "type") or MACHINE).lower()
    if imageType not in IMAGE_TYPES:
        raise InvalidManifest(f"unknown image type {imageType[:20]!r}")
    kernelId = _text(configuration, "kernel_id")
    ramdiskId = _text(configuration, "ramdisk_id")
    # Eucalyptus marks kernels and ramdisks this way.
    if kernelId == "true":
        imageType, kernelId = KERNEL, None
    if ramdiskId == "true":
        imageType, ramdiskId = RAMDISK, None
    if imageType != MACHINE:
        kernelId = ramdiskId = None
    if kernelId is not None and imageTypeOf(kernelId) != KERNEL:
        raise InvalidManifest(f"the kernel id {kernelId[:40]!r} is not a kernel image id")
    if ramdiskId is not None and imageTypeOf(ramdiskId) != RAMDISK:
        raise InvalidManifest(f"the ramdisk id {ramdiskId[:40]!r} is not a ramdisk image id")

    mappings = []
    for mapping in configuration.iter("mapping"):
        virtual, device = _text(mapping, "virtual"), _text(mapping, "device")
        if virtual and device:
            mappings.append((virtual, device))

    digestElement = image.find("digest")
    if digestElement is not None and (digestElement.text or "").strip():
        digestAlgorithm = _digestAlgorithm(digestElement, "the image")
        digest = _hexDigest(digestElement.text.strip(), digestAlgorithm, "image digest")
    else:
        digestAlgorithm = digest = None

    keyElement = image.find("ec2_encrypted_key")
    encryptedKey = _text(image, "ec2_encrypted_key", True, "ec2_encrypted_key")
    encryptedIV = _text(image, "ec2_encrypted_iv", True, "ec2_encrypted_iv")
    keyAlgorithm = (keyElement.get("algorithm") or "AES-128-CBC").strip().upper()
    if keyAlgorithm not in _KEY_ALGORITHMS:
        raise InvalidManifest(f"unsupported encryption algorithm {keyAlgorithm[:20]!r}")
    for text, what in ((encryptedKey, "ec2_encrypted_key"), (encryptedIV, "ec2_encrypted_iv")):
        if not _HEX.match(text) or len(text) % 2:
            raise InvalidManifest(f"the manifest's {what} is not hex")

    partsElement = image.find("parts")
    if partsElement is None:
        raise InvalidManifest("the manifest has no parts")
    count = _integer(partsElement.get("count"), "part count", 1)
    elements = partsElement.findall("part")
    if count is None:
        count = len(elements)
    if not 1 <= count <= MAX_PARTS:
        raise InvalidManifest(f"the manifest's part count {count} is out of range")
    if len(elements) != count:
        raise InvalidManifest(f"the manifest lists {len(elements)} parts but says it has {count}")
    parts = [None] * count
    for element in elements:
        index = _integer(element.get("index"), "part index")
        if index is None or index >= count:
            raise InvalidManifest("a part's index is missing or out of range")
        if parts[index] is not None:
            raise InvalidManifest(f"part {index} is listed twice")
        filename = checkPartFilename(_text(element, "filename", True, f"file name of part {index}"))
        digestElement = element.find("digest")
        if digestElement is None:
            raise InvalidManifest(f"part {index} has no digest")
        algorithm = _digestAlgorithm(digestElement, f"part {index}")
        parts[index] = BundlePart(
            index,
            filename,
            algorithm,
            _hexDigest((digestElement.text or "").strip(), algorithm, f"digest of part {index}"),
        )
    if len({p.filename for p in parts}) != count:
        raise InvalidManifest("the manifest names one part file twice")

    return Manifest(
        version=_text(root, "version"),
        architecture=_text(configuration, "architecture"),
        kernelId=kernelId,
        ramdiskId=ramdiskId,
        blockDeviceMappings=mappings,
        name=_text(image, "name"),
        user=_text(image, "user"),
        imageType=imageType,
        digestAlgorithm=digestAlgorithm,
        digest=digest,
        size=_integer(_text(image, "size"), "image size"),
        bundledSize=_integer(_text(image, "bundled_size"), "bundled size"),
        keyAlgorithm=keyAlgorithm,
        encryptedKey=encryptedKey,
        encryptedIV=encryptedIV,
        parts=parts,
        signature=_text(root, "signature"),
    )


# -- unpacking ----------------------------------------------------------


class _Reader:
    """
    A pull stream: L{read} returns at most C{size} bytes, C{b""} at the
    end; subclasses produce data in L{_produce}.
    """

    def __init__(self):
        self._buffer = b""
        self._eof = False

    def _produce(self):
        raise NotImplementedError()

    def read(self, size=-1):
        if size is None or size < 0:
            size = CHUNK_SIZE
        while not self._buffer and not self._eof:
            data = self._produce()
            if not data:
                self._eof = True
                break
            self._buffer = data
        chunk, self._buffer = self._buffer[:size], self._buffer[size:]
        return chunk


class _PartsStream(_Reader):
    """
    The concatenated parts of a bundle, each checked against its digest as
    its end is reached.
    """

    def __init__(self, parts, source, chunkSize, check):
        _Reader.__init__(self)
        self._parts = list(parts)
        self._source = source
        self._chunkSize = chunkSize
        self._check = check
        self._current = None
        self._part = None
        self._digest = None
        self.bytesRead = 0

    def _produce(self):
        while True:
            self._check()
            if self._current is None:
                if not self._parts:
                    return b""
                self._part = self._parts.pop(0)
                self._digest = hashlib.new(self._part.digestAlgorithm)
                self._current = self._source.openPart(self._part.filename)
            data = self._current.read(self._chunkSize)
            if data:
                self._digest.update(data)
                self.bytesRead += len(data)
                return data
            self._current.close()
            self._current = None
            if self._digest.hexdigest() != self._part.digest:
                raise BundleIntegrityError(
                    f"part {self._part.index} ({self._part.filename}) does not match its "
                    f"{self._part.digestAlgorithm.upper()} digest in the manifest"
                )

    def verifyRest(self):
        """
        Read the rest of the parts, checking their digests (after the data
        turned out to be unusable: a damaged part is the better reason).

        @raise BundleIntegrityError: for a part that does not match.
        @raise MissingBundlePart: for a missing part.
        """
        while self._produce():
            pass

    def close(self):
        if self._current is not None:
            self._current.close()
            self._current = None


class _DecryptStream(_Reader):
    def __init__(self, upstream, key, iv, chunkSize):
        _Reader.__init__(self)
        self._upstream = upstream
        self._decryptor = crypto.aesCbcDecryptor(key, iv)
        self._chunkSize = chunkSize
        self._done = False

    def _produce(self):
        while not self._done:
            data = self._upstream.read(self._chunkSize)
            if not data:
                self._done = True
                return self._decryptor.finalize()
            plain = self._decryptor.update(data)
            if plain:
                return plain
        return b""


class _GunzipStream(_Reader):
    """
    Decompresses gzip (one member or several), never producing more than
    C{chunkSize} bytes from one input chunk at a time.
    """

    def __init__(self, upstream, chunkSize):
        _Reader.__init__(self)
        self._upstream = upstream
        self._chunkSize = chunkSize
        self._decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = b""
        self._started = False

    def _decompress(self, data):
        try:
            out = self._decompressor.decompress(data, self._chunkSize)
        except zlib.error:
            if self._started:
                raise BundleFormatError("the decrypted bundle's gzip stream is corrupt")
            raise BundleFormatError(
                "the decrypted bundle is not gzip data (wrong key, or not a bundle)"
            )
        self._started = True
        self._pending = self._decompressor.unconsumed_tail
        return out

    def _produce(self):
        while True:
            if self._decompressor.eof:
                rest = self._decompressor.unused_data + self._pending
                self._pending = b""
                if not rest:
                    rest = self._upstream.read(self._chunkSize)
                    if not rest:
                        return b""
                # Another gzip member follows.
                self._decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                try:
                    out = self._decompressor.decompress(rest, self._chunkSize)
                except zlib.error:
                    raise BundleFormatError("the decrypted bundle has data after its gzip stream")
                self._pending = self._decompressor.unconsumed_tail
                if out:
                    return out
                continue
            if self._pending:
                out = self._decompress(self._pending)
                if out:
                    return out
                continue
            data = self._upstream.read(self._chunkSize)
            if not data:
                if not self._started:
                    raise BundleFormatError("the bundle holds no data")
                raise BundleFormatError("the decrypted bundle's gzip stream is truncated")
            out = self._decompress(data)
            if out:
                return out


class _DigestStream(_Reader):
    def __init__(self, upstream, algorithm, chunkSize):
        _Reader.__init__(self)
        self._upstream = upstream
        self._chunkSize = chunkSize
        self.digest = hashlib.new(algorithm or "sha1")
        self.size = 0

    def _produce(self):
        data = self._upstream.read(self._chunkSize)
        self.digest.update(data)
        self.size += len(data)
        return data


@attr.s(frozen=True)
class UnpackedImage:
    """
    What unpacking (or copying) an image wrote.

    @ivar size: bytes written.
    @ivar sha256: their SHA-256 hex digest.
    @ivar diskFormat: C{qcow2} if the data starts as a qcow2 file does,
        else C{raw}.
    """

    size = attr.ib()
    sha256 = attr.ib()
    diskFormat = attr.ib()


class _ImageWriter:
    """
    Writes image bytes to a file, counting, hashing and bounding them.
    """

    def __init__(self, output, maxSize, check):
        self.output = output
        self.maxSize = maxSize
        self.check = check
        self.size = 0
        self.sha256 = hashlib.sha256()
        self.head = b""

    def write(self, data):
        self.check()
        self.size += len(data)
        if self.maxSize is not None and self.size > self.maxSize:
            raise ImageTooLarge(f"the image is larger than the limit of {self.maxSize} bytes")
        if len(self.head) < 4:
            self.head += data[: 4 - len(self.head)]
        self.sha256.update(data)
        self.output.write(data)

    def result(self):
        fmt = "qcow2" if self.head == _QCOW_MAGIC else "raw"
        return UnpackedImage(self.size, self.sha256.hexdigest(), fmt)


def _describe(member):
    if member.issym():
        return f"a symbolic link to {member.linkname[:80]!r}"
    if member.islnk():
        return f"a hard link to {member.linkname[:80]!r}"
    if member.isdir():
        return "a directory"
    if member.ischr() or member.isblk():
        return "a device"
    if member.isfifo():
        return "a FIFO"
    return "not a regular file"


def checkArchiveMember(member):
    """
    Refuse an archive entry that is not a plain file with a plain relative
    name.

    @param member: a L{tarfile.TarInfo}.
    @raise BundleFormatError: for links, directories, devices, absolute
        names and names with C{..}.
    """
    name = member.name
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or re.match(r"\A[A-Za-z]:", name) or ".." in parts:
        raise BundleFormatError(f"the archive's entry {name[:80]!r} points outside its directory")
    if not member.isreg():
        raise BundleFormatError(f"the archive's entry {name[:80]!r} is {_describe(member)}")


def _candidateKeys(manifest, privateKeys):
    """
    @return: the C{(key, iv)} pairs the private keys decrypt the manifest's
        key and IV to.
    @raise BundleDecryptionError: if none does.
    """
    candidates, errors = [], []
    for pem in privateKeys:
        try:
            key = crypto.decryptBundleKey(pem, manifest.encryptedKey)
            iv = crypto.decryptBundleKey(pem, manifest.encryptedIV)
            crypto.aesCbcDecryptor(key, iv)
        except crypto.BundleDecryptionError as e:
            errors.append(str(e))
            continue
        candidates.append((key, iv))
    if not candidates:
        raise crypto.BundleDecryptionError(
            "the bundle's key does not decrypt with this cloud's private key (was it "
            "bundled for this cloud's certificate?): " + (errors[-1] if errors else "no key")
        )
    return candidates


def _startsAsGzip(manifest, source, key, iv):
    """
    @return: whether the first block of the bundle decrypts under C{key}
        and C{iv} to the start of a gzip stream.
    """
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    first = source.openPart(manifest.parts[0].filename)
    try:
        block = first.read(16)
    finally:
        first.close()
    if len(block) < 16:
        return False
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv.ljust(16, b"\0"))).decryptor()
    return decryptor.update(block).startswith(_GZIP_MAGIC)


def unpackBundle(
    manifest,
    privateKeys,
    source,
    output,
    maxSize=None,
    onStage=None,
    cancelled=None,
    chunkSize=CHUNK_SIZE,
):
    """
    Check, decrypt, decompress and untar a bundle, writing its image.

    @param manifest: the L{Manifest}.
    @param privateKeys: PEM texts of the private keys that may decrypt the
        bundle's key (the project's CA key, the cloud's key), tried in
        order.
    @param source: provides C{openPart(filename)}, returning an object with
        C{read(size)} (C{b""} at the end) and C{close()}; raises
        L{MissingBundlePart} for a missing part.
    @param output: a binary file the image is written to.
    @param maxSize: the largest image allowed, in bytes, or C{None}.
    @param onStage: called with C{"decrypting"} before the first part is
        read and with C{"untarring"} once the archive's entry is found.
    @param cancelled: called before each chunk; returns true to stop (the
        call then raises L{RegistrationCancelled}).
    @return: an L{UnpackedImage}.
    @raise BundleError: (a subclass) for a missing or damaged part, a
        digest or size that does not match the manifest, data that is not a
        gzipped tar archive of exactly one plain file, or an image too
        large.
    @raise nova.auth.crypto.BundleDecryptionError: if no key decrypts the
        bundle's key, or the data does not decrypt (bad padding).
    """

    def check():
        if cancelled is not None and cancelled():
            raise RegistrationCancelled()

    if onStage is not None:
        onStage("decrypting")
    candidates = _candidateKeys(manifest, privateKeys)
    if len(candidates) > 1:
        fitting = [c for c in candidates if _startsAsGzip(manifest, source, *c)]
        candidates = fitting or candidates
    key, iv = candidates[0]

    parts = _PartsStream(manifest.parts, source, chunkSize, check)
    try:
        try:
            return _unpack(manifest, parts, key, iv, output, maxSize, onStage, check, chunkSize)
        except (BundleFormatError, crypto.BundleDecryptionError):
            # The data is garbage: if a part does not match its digest,
            # that is the reason.
            parts.verifyRest()
            raise
    finally:
        parts.close()


def _unpack(manifest, parts, key, iv, output, maxSize, onStage, check, chunkSize):
    plain = _DecryptStream(parts, key, iv, chunkSize)
    archive = _DigestStream(_GunzipStream(plain, chunkSize), manifest.digestAlgorithm, chunkSize)
    writer = _ImageWriter(output, maxSize, check)
    try:
        tar = tarfile.open(fileobj=archive, mode="r|", bufsize=chunkSize)
    except tarfile.ReadError:
        raise BundleFormatError("the decrypted bundle is not a tar archive")
    try:
        member = tar.next()
        if member is None:
            raise BundleFormatError("the bundle's archive is empty")
        checkArchiveMember(member)
        if maxSize is not None and member.size > maxSize:
            raise ImageTooLarge(
                f"the image has {member.size} bytes, more than the limit of {maxSize}"
            )
        if manifest.size is not None and member.size != manifest.size:
            raise BundleIntegrityError(
                f"the archive's image has {member.size} bytes but the manifest says "
                f"{manifest.size}"
            )
        if onStage is not None:
            onStage("untarring")
        entry = tar.extractfile(member)
        while True:
            data = entry.read(chunkSize)
            if not data:
                break
            writer.write(data)
        if writer.size != member.size:
            raise BundleFormatError("the bundle's archive is truncated")
        extra = tar.next()
        if extra is not None:
            raise BundleFormatError(
                f"the bundle's archive holds more than one entry ({extra.name[:80]!r})"
            )
    except (tarfile.ReadError, tarfile.StreamError, EOFError) as e:
        raise BundleFormatError(f"the bundle's archive is damaged: {e}")
    finally:
        tar.close()
    trailer = 0
    while True:
        data = archive.read(chunkSize)
        if not data:
            break
        trailer += len(data)
        if trailer > MAX_ARCHIVE_TRAILER:
            raise BundleFormatError("the bundle has data after the end of its archive")
    if manifest.digest is not None and archive.digest.hexdigest() != manifest.digest:
        raise BundleIntegrityError(
            f"the archive does not match the image's "
            f"{manifest.digestAlgorithm.upper()} digest in the manifest"
        )
    return writer.result()


def copyImage(reader, output, maxSize=None, cancelled=None, chunkSize=CHUNK_SIZE):
    """
    Copy a plain image (raw, qcow2, a kernel, a ramdisk) as it is.

    @param reader: has C{read(size)} (C{b""} at the end).
    @param output: a binary file.
    @return: an L{UnpackedImage}.
    @raise ImageTooLarge: beyond C{maxSize}.
    """

    def check():
        if cancelled is not None and cancelled():
            raise RegistrationCancelled()

    writer = _ImageWriter(output, maxSize, check)
    while True:
        data = reader.read(chunkSize)
        if not data:
            break
        writer.write(data)
    return writer.result()


@attr.s
class DirectoryPartSource:
    """
    Parts of a bundle in a local directory (for unbundling files, and
    tests).

    @ivar directory: where the parts are.
    """

    directory = attr.ib()

    def openPart(self, filename):
        checkPartFilename(filename)
        try:
            return open(os.path.join(self.directory, filename), "rb")
        except FileNotFoundError:
            raise MissingBundlePart(f"the bundle part {filename} is missing")


# -- making bundles -------------------------------------------------------


@attr.s(frozen=True)
class BundleResult:
    """
    A bundle written to a directory.

    @ivar manifestPath: the manifest's file.
    @ivar partPaths: the parts' files, in order.
    @ivar manifest: the L{Manifest} written.
    """

    manifestPath = attr.ib()
    partPaths = attr.ib(converter=tuple)
    manifest = attr.ib()

    @property
    def manifestName(self):
        return os.path.basename(self.manifestPath)


class _PartWriter:
    """
    Splits a stream into part files of C{partSize} bytes, hashing each.
    """

    def __init__(self, directory, prefix, partSize):
        self.directory = directory
        self.prefix = prefix
        self.partSize = partSize
        self.paths = []
        self.digests = []
        self.size = 0
        self._file = None
        self._digest = None
        self._written = 0

    def _open(self):
        path = os.path.join(self.directory, f"{self.prefix}.part.{len(self.paths)}")
        self._file = open(path, "wb")
        self._digest = hashlib.sha1()
        self._written = 0
        self.paths.append(path)

    def _closePart(self):
        self._file.close()
        self._file = None
        self.digests.append(self._digest.hexdigest())

    def write(self, data):
        view = memoryview(data)
        while view:
            if self._file is None:
                self._open()
            take = min(len(view), self.partSize - self._written)
            piece = view[:take]
            self._file.write(piece)
            self._digest.update(piece)
            self._written += take
            self.size += take
            view = view[take:]
            if self._written == self.partSize:
                self._closePart()

    def close(self):
        if self._file is not None:
            self._closePart()
        if not self.paths:
            self._open()
            self._closePart()

    def discard(self):
        if self._file is not None:
            self._file.close()
            self._file = None
        for path in self.paths:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


class _BundleSink:
    """
    What the tar writer writes to: hashes the archive, compresses it,
    encrypts it and splits it into parts.
    """

    def __init__(self, parts, key, iv, level):
        self.parts = parts
        self.digest = hashlib.sha1()
        self.compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        self.encryptor = crypto.aesCbcEncryptor(key, iv)

    def write(self, data):
        self.digest.update(data)
        compressed = self.compressor.compress(data)
        if compressed:
            self.parts.write(self.encryptor.update(compressed))
        return len(data)

    def close(self):
        tail = self.compressor.flush()
        self.parts.write(self.encryptor.update(tail) + self.encryptor.finalize())
        self.parts.close()


def _element(parent, tag, text=None, **attributes):
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = str(text)
    return element


def signManifestText(signedText, privateKeyPEM):
    """
    Sign a manifest as C{ec2-bundle-image} does: RSA PKCS#1 v1.5 over the
    SHA-1 digest of the C{machine_configuration} and C{image} elements as
    written.

    @return: the hex signature.
    """
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = serialization.load_pem_private_key(
        privateKeyPEM.encode("ascii") if isinstance(privateKeyPEM, str) else privateKeyPEM,
        password=None,
    )
    return key.sign(signedText, padding.PKCS1v15(), hashes.SHA1()).hex()


def verifyManifestSignature(data, certificatePEM):
    """
    Check a manifest's signature against the user's certificate.

    @param data: the manifest as stored, L{bytes}.
    @return: C{True} if the signature over the manifest's
        C{machine_configuration} and C{image} elements, as written, is
        good.
    """
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    configuration = re.search(rb"<machine_configuration>.*?</machine_configuration>", data, re.S)
    image = re.search(rb"<image>.*</image>", data, re.S)
    signature = re.search(rb"<signature>\s*([0-9a-fA-F]+)\s*</signature>", data)
    if image is None or signature is None:
        return False
    signed = (configuration.group(0) if configuration else b"") + image.group(0)
    pem = certificatePEM.encode("ascii") if isinstance(certificatePEM, str) else certificatePEM
    publicKey = x509.load_pem_x509_certificate(pem).public_key()
    try:
        publicKey.verify(
            binascii.unhexlify(signature.group(1)), signed, padding.PKCS1v15(), hashes.SHA1()
        )
    except InvalidSignature:
        return False
    return True


def makeBundle(
    sourcePath,
    destination,
    cloudCertificatePEM,
    imageType=MACHINE,
    kernelId=None,
    ramdiskId=None,
    architecture="x86_64",
    prefix=None,
    partSize=DEFAULT_PART_SIZE,
    userCertificatePEM=None,
    userPrivateKeyPEM=None,
    account=None,
    rootDeviceName=None,
    compressLevel=6,
    chunkSize=CHUNK_SIZE,
):
    """
    Bundle an image file for a cloud, as C{ec2-bundle-image} does.

    @param sourcePath: the image (disk image, kernel or ramdisk).
    @param destination: an existing directory for the manifest and parts.
    @param cloudCertificatePEM: the cloud certificate the key and IV are
        encrypted to (C{cloud-cert.pem}; with project CAs, the project's
        C{cacert.pem}).
    @param imageType: C{machine}, C{kernel} or C{ramdisk}.
    @param kernelId: for a machine image, the C{aki-...} it boots.
    @param ramdiskId: for a machine image, the C{ari-...} it boots.
    @param prefix: the bundle's name (default: the file's name).
    @param partSize: bytes per part.
    @param userCertificatePEM: the user's certificate, to which the key and
        IV are encrypted as well (C{user_encrypted_*}), if given.
    @param userPrivateKeyPEM: the user's private key, which signs the
        manifest, if given.
    @param account: the C{<user>} of the manifest.
    @param rootDeviceName: the root device of a machine image (default
        C{/dev/sda1}).
    @return: a L{BundleResult}.
    @raise ValueError: for a bad type, kernel or ramdisk id, part size or
        certificate.
    """
    if imageType not in IMAGE_TYPES:
        raise ValueError(f"image type must be one of {', '.join(IMAGE_TYPES)}, not {imageType!r}")
    if imageType != MACHINE and (kernelId or ramdiskId):
        raise ValueError("only a machine image names a kernel and a ramdisk")
    if kernelId is not None and imageTypeOf(kernelId) != KERNEL:
        raise ValueError(f"{kernelId!r} is not a kernel id (aki-xxxxxxxx)")
    if ramdiskId is not None and imageTypeOf(ramdiskId) != RAMDISK:
        raise ValueError(f"{ramdiskId!r} is not a ramdisk id (ari-xxxxxxxx)")
    if partSize < 1:
        raise ValueError("the part size must be positive")
    name = os.path.basename(sourcePath)
    prefix = prefix or name
    checkPartFilename(prefix + ".part.0")
    key, iv = os.urandom(16), os.urandom(16)
    ec2Key = crypto.encryptBundleKey(cloudCertificatePEM, key)
    ec2IV = crypto.encryptBundleKey(cloudCertificatePEM, iv)
    userKey = userIV = None
    if userCertificatePEM is not None:
        userKey = crypto.encryptBundleKey(userCertificatePEM, key)
        userIV = crypto.encryptBundleKey(userCertificatePEM, iv)

    parts = _PartWriter(destination, prefix, partSize)
    sink = _BundleSink(parts, key, iv, compressLevel)
    try:
        with open(sourcePath, "rb") as source:
            size = os.fstat(source.fileno()).st_size
            info = tarfile.TarInfo(name)
            info.size = size
            info.mode = 0o644
            info.mtime = int(os.fstat(source.fileno()).st_mtime)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar = tarfile.open(
                fileobj=sink,
                mode="w|",
                format=tarfile.GNU_FORMAT,
                bufsize=chunkSize,
                copybufsize=chunkSize,
            )
            tar.addfile(info, source)
            tar.close()
        sink.close()
    except BaseException:
        parts.discard()
        raise

    configuration = ET.Element("machine_configuration")
    _element(configuration, "architecture", architecture)
    mappings = []
    if imageType == MACHINE:
        root = rootDeviceName or "/dev/sda1"
        mappings = [("ami", root[5:] if root.startswith("/dev/") else root), ("root", root)]
        mappingElement = _element(configuration, "block_device_mapping")
        for virtual, device in mappings:
            mapping = _element(mappingElement, "mapping")
            _element(mapping, "virtual", virtual)
            _element(mapping, "device", device)
        if kernelId:
            _element(configuration, "kernel_id", kernelId)
        if ramdiskId:
            _element(configuration, "ramdisk_id", ramdiskId)
    image = ET.Element("image")
    _element(image, "name", name)
    _element(image, "user", account or "")
    _element(image, "type", imageType)
    _element(image, "digest", sink.digest.hexdigest(), algorithm="SHA1")
    _element(image, "size", size)
    _element(image, "bundled_size", parts.size)
    _element(image, "ec2_encrypted_key", ec2Key, algorithm="AES-128-CBC")
    if userKey is not None:
        _element(image, "user_encrypted_key", userKey, algorithm="AES-128-CBC")
    _element(image, "ec2_encrypted_iv", ec2IV)
    if userIV is not None:
        _element(image, "user_encrypted_iv", userIV)
    partsElement = _element(image, "parts", count=str(len(parts.paths)))
    bundleParts = []
    for index, (path, digest) in enumerate(zip(parts.paths, parts.digests)):
        part = _element(partsElement, "part", index=str(index))
        _element(part, "filename", os.path.basename(path))
        _element(part, "digest", digest, algorithm="SHA1")
        bundleParts.append(BundlePart(index, os.path.basename(path), "sha1", digest))

    signed = ET.tostring(configuration) + ET.tostring(image)
    bundler = ET.Element("bundler")
    _element(bundler, "name", BUNDLER_NAME)
    _element(bundler, "version", BUNDLER_VERSION)
    _element(bundler, "release", BUNDLER_RELEASE)
    signature = signManifestText(signed, userPrivateKeyPEM) if userPrivateKeyPEM else None
    text = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<manifest>'
        + f"<version>{MANIFEST_VERSION}</version>".encode("ascii")
        + ET.tostring(bundler)
        + signed
        + (f"<signature>{signature}</signature>".encode("ascii") if signature else b"")
        + b"</manifest>\n"
    )
    manifestPath = os.path.join(destination, prefix + MANIFEST_SUFFIX)
    with open(manifestPath, "wb") as f:
        f.write(text)
    manifest = Manifest(
        version=MANIFEST_VERSION,
        architecture=architecture,
        kernelId=kernelId,
        ramdiskId=ramdiskId,
        blockDeviceMappings=mappings,
        name=name,
        user=account or None,
        imageType=imageType,
        digestAlgorithm="sha1",
        digest=sink.digest.hexdigest(),
        size=size,
        bundledSize=parts.size,
        keyAlgorithm="AES-128-CBC",
        encryptedKey=ec2Key,
        encryptedIV=ec2IV,
        parts=bundleParts,
        signature=signature,
    )
    return BundleResult(manifestPath, parts.paths, manifest)
