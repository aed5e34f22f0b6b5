"""
What the image tests share: a certificate authority made once per run,
a database, an object store and an image service on the real reactor.
"""

import io
import os
import tarfile
import tempfile

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread

from nova.auth.ca import CertificateAuthority
from nova.context import RequestContext
from nova.db.api import inlineDatabase
from nova.image.service import CertificateAuthorityKeys, ImageService
from nova.image.storage import ImageStorage
from nova.objectstore.body import BytesBody, RequestBody
from nova.objectstore.filesystem import FilesystemObjectStore
from nova.objectstore.interfaces import ObjectSettings

_CA = {}


class _WallClock:
    def seconds(self):
        import time

        return time.time()


def sharedCA(name="cloud", useProjectCA=False):
    """
    @param name: which authority: each name is a different cloud.
    @return: a L{CertificateAuthority} made once per test run (RSA keys
        take time).
    """
    if name not in _CA:
        path = os.path.join(tempfile.mkdtemp(prefix="nova-image-ca-"), "CA")
        _CA[name] = CertificateAuthority(path, _WallClock(), useProjectCA=useProjectCA)
        _CA[name].ensureRoot()
    return _CA[name]


def otherCA():
    """
    @return: a second, unrelated authority (a cloud whose key does not
        decrypt bundles made for the first).
    """
    return sharedCA("other")


def context(project, user=None, isAdmin=False):
    return RequestContext(userId=user or project + "-user", projectId=project, isAdmin=isAdmin)


def runInThread(function, *args):
    return deferToThread(function, *args)


class ImageTestMixin:
    """
    A trial C{TestCase} mixin: C{self.db}, C{self.store} (a filesystem
    object store), C{self.images} (a started L{ImageService}) and
    C{self.ca}.
    """

    maxImageSize = None

    @inlineCallbacks
    def setUpImages(self, ca=None, keys=None):
        self.ca = ca or sharedCA()
        self.db = inlineDatabase("sqlite:", reactor)
        yield self.db.sync()
        self.addCleanup(self.db.transactor.close)
        self.tmp = os.path.abspath(self.mktemp())
        os.makedirs(self.tmp)
        self.store = FilesystemObjectStore(os.path.join(self.tmp, "buckets"), reactor, fsync=False)
        self.storage = ImageStorage(os.path.join(self.tmp, "images"), runInThread, fsync=False)
        self.images = ImageService(
            self.db,
            self.store,
            keys or CertificateAuthorityKeys(self.ca),
            self.storage,
            reactor,
            threads=2,
            maxImageSize=self.maxImageSize,
        )
        self.images.startService()
        self.addCleanup(self.images.stopService)

    @inlineCallbacks
    def putFile(self, bucket, key, path, owner, acl=()):
        source = open(path, "rb")
        try:
            info = yield self.store.putObject(
                bucket, key, RequestBody(source), ObjectSettings(owner=owner, acl=acl)
            )
        finally:
            source.close()
        return info

    def putBytes(self, bucket, key, data, owner, acl=()):
        return self.store.putObject(bucket, key, BytesBody(data), ObjectSettings(owner=owner, acl=acl))

    @inlineCallbacks
    def uploadBundle(self, result, bucket, owner, prefix=""):
        """
        Store a bundle's parts and manifest under C{prefix} in C{bucket}.

        @return: the location, C{bucket/key}.
        """
        for path in list(result.partPaths) + [result.manifestPath]:
            yield self.putFile(bucket, prefix + os.path.basename(path), path, owner)
        return f"{bucket}/{prefix}{result.manifestName}"

    def writeFile(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def storedFiles(self):
        """
        @return: the names of the image files stored (and of leftovers in
            the temporary directory).
        """
        names = sorted(n for n in os.listdir(self.storage.path) if n != ".tmp")
        return names + sorted(os.listdir(self.storage.temporaryPath))


def imageData(size, seed=b"nova"):
    """
    @return: C{size} bytes of image-like data: pseudo-random 64 KiB blocks
        (incompressible) and, every third block, zeros.
    """
    import random

    generator = random.Random(seed)
    out = bytearray()
    counter = 0
    block = 64 * 1024
    while len(out) < size:
        out += generator.randbytes(block) if counter % 3 else bytes(block)
        counter += 1
    return bytes(out[:size])


def handMadeBundle(directory, data, cloudCertificatePEM, name="hand.img", partSize=300 * 1024,
                   members=None, imageType="machine", manifestEdits=None, hexKey=True):
    """
    Make a bundle without L{nova.image.bundle}: tarfile, gzip, AES-CBC from
    C{cryptography} as C{openssl enc} does it, RSA to the certificate with
    the key as hex text, and a manifest written by hand.

    @param members: C{TarInfo, data} pairs for the archive instead of one
        file holding C{data}.
    @param manifestEdits: a function given the manifest's text, returning
        it changed.
    @return: the manifest's file name.
    """
    import gzip
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import padding as symmetric
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if members is None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            members = [(info, data)]
        for info, content in members:
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    tarBytes = archive.getvalue()
    compressed = gzip.compress(tarBytes)
    key, iv = os.urandom(16), os.urandom(16)
    padder = symmetric.PKCS7(128).padder()
    padded = padder.update(compressed) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padded) + encryptor.finalize()
    publicKey = x509.load_pem_x509_certificate(cloudCertificatePEM.encode("ascii")).public_key()

    def seal(value):
        plain = value.hex().encode("ascii") if hexKey else value
        return publicKey.encrypt(plain, padding.PKCS1v15()).hex()

    parts = []
    for index in range(0, max(1, (len(encrypted) + partSize - 1) // partSize)):
        chunk = encrypted[index * partSize : (index + 1) * partSize]
        filename = f"{name}.part.{index:02d}"
        with open(os.path.join(directory, filename), "wb") as f:
            f.write(chunk)
        parts.append((filename, hashlib.sha1(chunk).hexdigest()))
    partsXML = "".join(
        f'<part index="{i}"><filename>{f}</filename><digest algorithm="SHA1">{d}</digest></part>'
        for i, (f, d) in enumerate(parts)
    )
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<manifest>\n  <version>2007-10-10</version>\n"
        "  <bundler><name>ec2-ami-tools</name><version>1.3-26357</version>"
        "<release>20071010</release></bundler>\n"
        "  <machine_configuration><architecture>i386</architecture>"
        "<block_device_mapping><mapping><virtual>ami</virtual><device>sda1</device></mapping>"
        "<mapping><virtual>root</virtual><device>/dev/sda1</device></mapping>"
        "</block_device_mapping></machine_configuration>\n"
        f"  <image><name>{name}</name><user>123456789012</user><type>{imageType}</type>"
        f'<digest algorithm="SHA1">{hashlib.sha1(tarBytes).hexdigest()}</digest>'
        f"<size>{len(data)}</size><bundled_size>{len(encrypted)}</bundled_size>"
        f'<ec2_encrypted_key algorithm="AES-128-CBC">{seal(key)}</ec2_encrypted_key>'
        f'<user_encrypted_key algorithm="AES-128-CBC">{seal(key)}</user_encrypted_key>'
        f"<ec2_encrypted_iv>{seal(iv)}</ec2_encrypted_iv>"
        f"<user_encrypted_iv>{seal(iv)}</user_encrypted_iv>"
        f'<parts count="{len(parts)}">{partsXML}</parts></image>\n'
        "  <signature>00</signature>\n</manifest>\n"
    )
    if manifestEdits is not None:
        text = manifestEdits(text)
    manifestName = f"{name}.manifest.xml"
    with open(os.path.join(directory, manifestName), "w") as f:
        f.write(text)
    return manifestName
