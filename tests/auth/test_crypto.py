# -*- test-case-name: tests.auth.test_crypto -*-
"""
Tests for L{nova.auth.crypto}: key pairs, public key import, fingerprints
and the image bundle primitives.

Expected fingerprints are derived independently of the code under test:
from fixed keys whose fingerprints were computed once with OpenSSL and
ssh-keygen (the values below), by hashing C{cryptography}'s DER output with
L{hashlib} here, and, where the tools are on C{PATH}, by running
C{openssl} and C{ssh-keygen} on the spot.
"""

import base64
import binascii
import datetime
import hashlib
import os
import shutil
import subprocess
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from nova.auth import crypto
from nova.auth.crypto import BundleDecryptionError, InvalidKeyFormat
from nova.exception import NovaError, errorClasses


# A fixed 2048-bit RSA key made with `openssl genrsa -traditional`.
FIXED_RSA_PRIVATE_KEY = """\
-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEApkjSJPtRW/myf2KNaUylyAOss554M8JL82cZ/PDhsD1JjUVX
as9hinKsfHEceG7ABwcaMA2K8nDOOaLd2FcNPT9r26RKqhQiD5lfHkUYSNvLRE37
ftO4Vh0hcHBl7/Qq6/5v9+pU8tJ4DORw2LZNV6Q4bHn1mzj03dAmB+JHcSSJRS8p
mXPkJvTR4y8jPc2ZZXdI25Gc4e4P1e1jp2yS17h5OccrDtvw0bl0XjBV5PvmDkzv
mf25BkBr7CVhxREp8T6t8qyfV3KNWbO3F8GFtth5pzq3+xUCsd3wfZMpuI1hoaKF
XHy3oF7ASRMkMVyMjM869M5BaAL83qhogsrUlwIDAQABAoIBACb1V7rPYNvuMApV
UjFSAmNOrRc2MQ5bXsULqlSPMSlD6qgdD2KYbM9tl4jeTV/P/tCGsvWALsYndMGf
LV/C4Xiwk7oVj2Kyrdo+wkDKympDiKebp6kqvHz8fTmlM9TYvXemGKCad8WeVv8a
RHAZohw+/vM3TbpMyV3wpwBg3QEeP8Imun4pR1EZcW0bU6/vH9/GLO2v2OqqKU9p
2W1tdO3RVVRstlwsqgtQevbMLCyyjmso1ypUUH69EUSfhbMKyFlAmdH27rahzqWH
N1O6Uat1rSjyddlXyJ9wdBUPh1INdMelDQe2Ozf6MKGmom6crYn9iEZ21Xi76eFW
2bsrrz0CgYEA4Cc2bM1HS0NBezA/jwQP3/yiKo0ktNkhwcWjLNurZZ8PttWzRxx5
+MGpAQncCPlsh4sXGIOWSfpKxOerE9nMA54qrZfG5uoc+9VaHzP5b11YAop5aY9W
4d3mt1STPQaKKZTveoeg3m6luMb7Q9V0D4dfPecTe6s57l8tD+ooSJMCgYEAvejW
DlZAoTgvTsDtpf6F5i1eY6AIizFNjTfkoVzgCkM3ipVT9Weqe6TAG9fslJkVwc2G
Nqs9sl60b/HQ9HxlutgCiRx8ycg/8pzi1AVEIihUFKqrqyyNGljSAnT94llATUwV
TtOSFNyzwktcZCbv9ql4UgR3UwdQYNCdiDrHGm0CgYBlgLw/hrGLHliPnSia7Z72
seMJW8LMdiq4IXQjwxGZQe8OvzSgtf9xqtiKFNnj4nbH5i8+NZAfzcx/39xzb8PX
u47d7wXt2QPo8hMOYC3KxT0uYWBbccJJI3/vcsf98XEtJTlQhgxNzVMUGl77t7QH
uChj0rja3o2sKMMyGrnFKwKBgDQDt81Jdn4xw1NQqEaUxdvbhUTIKk7lfBY3vtkr
dPmam3XLnKlUcW9YGn4Fz/iLTVg9kIscr9NQ+R7IHrE3+S0JyPgA43To8grjSYVE
w/qPDShz7nz9wM/8j9i4bmk2hNQnCJcEf7hTErEervmHaKYomJnuOzh0gmFiAiOz
5aCpAoGBANU7nlAdbWNZRzVsx0whg2Q3jbxW4Zfj18b+1Lj6T1CYlFAbAjP9vwN3
XwgQlqRcyvjkH6UeKYHAiWWM1BQwR1XmX3W8eZqgYua7Xdo02pCM+8Ib96BZ4kPS
cTRGkWBIaUiqgSUzzqQl/n2WClo8sMYso9bruO7EEd+L7kjFdXZ9
-----END RSA PRIVATE KEY-----
"""

# `openssl pkcs8 -topk8 -nocrypt -outform DER | openssl sha1 -c`: what EC2
# reports for this key had it created it.
FIXED_RSA_CREATED_FINGERPRINT = (
    "9e:e8:63:04:be:9b:25:38:fa:9b:35:18:7a:ea:85:01:74:bd:e4:c9"
)
# `openssl rsa -pubout -outform DER | openssl md5 -c`: what EC2 reports when
# the public half is imported.
FIXED_RSA_IMPORTED_FINGERPRINT = "88:5b:6a:e7:25:db:91:de:ce:db:28:02:4c:f9:3e:d4"

# Its public half, from `ssh-keygen -y`.
FIXED_RSA_PUBLIC_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCmSNIk+1Fb+bJ/Yo1pTKXIA6yz"
    "nngzwkvzZxn88OGwPUmNRVdqz2GKcqx8cRx4bsAHBxowDYrycM45ot3YVw09P2vb"
    "pEqqFCIPmV8eRRhI28tETft+07hWHSFwcGXv9Crr/m/36lTy0ngM5HDYtk1XpDhs"
    "efWbOPTd0CYH4kdxJIlFLymZc+Qm9NHjLyM9zZlld0jbkZzh7g/V7WOnbJLXuHk5"
    "xysO2/DRuXReMFXk++YOTO+Z/bkGQGvsJWHFESnxPq3yrJ9Xco1Zs7cXwYW22Hmn"
    "Orf7FQKx3fB9kym4jWGhooVcfLegXsBJEyQxXIyMzzr0zkFoAvzeqGiCytSX"
)

# An ED25519 key from `ssh-keygen -t ed25519`, and what `ssh-keygen -l`
# prints after "SHA256:".
FIXED_ED25519_FINGERPRINT = "KqH+bsU6t6TpuOQfF8tWkZiVqWNiZmiQNeumWB+8R9w"
FIXED_ED25519_PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH+U0CurLA3pi9NViGicYpUVdZtN"
    "SyYswg3eHeNO8K5k test@nova"
)

# A P-256 key from `ssh-keygen -t ecdsa`, and the MD5 of its DER
# SubjectPublicKeyInfo from `ssh-keygen -e -m PKCS8 | openssl ec -pubin
# -outform DER | openssl md5 -c`.
FIXED_ECDSA_FINGERPRINT = "fe:d1:bf:e6:20:f5:19:19:56:94:56:a8:6e:dd:16:1a"
FIXED_ECDSA_PUBLIC_KEY = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAy"
    "NTYAAABBBJLR9SdDHXGoGO0rnGgP3K9L14POga4zaOXwXS73lh++cMILPI1GTv0f"
    "V0Kb7EpV1cA2u96Ydl1FJTS1hRFbmts= ec@nova"
)

# The hex text of the AES key below, encrypted to the fixed RSA key by
# `openssl pkeyutl -encrypt` (PKCS#1 v1.5), as hex: what a manifest's
# ec2_encrypted_key holds.
FIXED_BUNDLE_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
FIXED_BUNDLE_CIPHERTEXT = (
    "97bdb86d623baa61fb0026957223f584023a42c420f2c9f84b4298a55b7ea1bf"
    "75a36ae41630296798414fddb9e4d61ae4ebe818503526d95d2a718a4e6a19fe"
    "563dab0f5e3fe396efd4af0268b9e371c67d66d8842aed04aeda533f13ae13ac"
    "119072fc605a7c45f986782bafd6bed4fb5d167611f6ce3ca0b6247852c5a3b8"
    "b3a72e59db35f94ef2614bbc98cc67715fdf93bd29cedd0a14eff5445ec9b1a1"
    "020b8dfe3e90eec25137744d91fda46611eb512c879cdd6d0fc2170137afea94"
    "9887fb31dfac2bc936ef4700e4551dd7f1cb1a74dda0b23b0e9f3acd097f6b10"
    "1afd70de4f33186d0ba6b9e64b013b00ef77c8d4a0b196488c3a7213b16deb6a"
)


def colonHex(digest):
    """
    A second, independent rendering of a digest as colon-separated hex.
    """
    text = binascii.hexlify(digest).decode("ascii")
    return ":".join(text[i:i + 2] for i in range(0, len(text), 2))


def requireTool(name):
    path = shutil.which(name)
    if path is None:
        raise SkipTest(f"{name} is not on PATH")
    return path


def run(argv, stdin=b""):
    return subprocess.run(
        argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        check=True,
    ).stdout


def opensslDigest(algorithm, data):
    """
    @return: the colon-separated digest C{openssl <algorithm> -c} prints.
    """
    out = run([requireTool("openssl"), algorithm, "-c"], data).decode("ascii")
    return out.strip().split("= ", 1)[1]


def fixedPrivateKey():
    return serialization.load_pem_private_key(
        FIXED_RSA_PRIVATE_KEY.encode("ascii"), password=None
    )


def fakeRSAPublicKey(bits):
    """
    An RSA public key of exactly C{bits} bits, made without generating
    primes (a public key is never checked for them), for size limits.
    """
    modulus = secrets.randbits(bits) | (1 << (bits - 1)) | 1
    return rsa.RSAPublicNumbers(65537, modulus).public_key()


def openSSH(publicKey):
    return publicKey.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode("ascii")


def selfSignedCertificatePEM(key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cloud")])
    now = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


class ErrorTests(SynchronousTestCase):
    """
    The errors carry the codes the API layer maps.
    """

    def test_invalidKeyFormat(self):
        error = InvalidKeyFormat()
        self.assertIsInstance(error, NovaError)
        self.assertEqual(error.ec2Code, "InvalidKeyPair.Format")
        self.assertEqual(error.httpStatus, 400)
        self.assertIs(errorClasses()["InvalidKeyFormat"], InvalidKeyFormat)

    def test_bundleDecryptionError(self):
        error = BundleDecryptionError()
        self.assertIsInstance(error, NovaError)
        self.assertEqual(error.httpStatus, 400)
        self.assertIs(errorClasses()["BundleDecryptionError"], BundleDecryptionError)


class GenerateKeyPairTests(SynchronousTestCase):
    """
    L{crypto.generateKeyPair} makes key pairs as CreateKeyPair returns them.
    """

    def setUp(self):
        self.pair = crypto.generateKeyPair()

    def test_privateKeyFormat(self):
        """
        The private key is PKCS#1 PEM ("BEGIN RSA PRIVATE KEY") and loads as
        a 2048-bit RSA key.
        """
        self.assertTrue(
            self.pair.privateKey.startswith("-----BEGIN RSA PRIVATE KEY-----\n")
        )
        self.assertTrue(
            self.pair.privateKey.rstrip().endswith("-----END RSA PRIVATE KEY-----")
        )
        key = serialization.load_pem_private_key(
            self.pair.privateKey.encode("ascii"), password=None
        )
        self.assertIsInstance(key, rsa.RSAPrivateKey)
        self.assertEqual(key.key_size, 2048)
        self.assertEqual(self.pair.keyType, "rsa")

    def test_publicKeyMatchesPrivateKey(self):
        """
        The public key is one OpenSSH line for the private key's public half.
        """
        self.assertRegex(self.pair.publicKey, r"\Assh-rsa [A-Za-z0-9+/]+=*\Z")
        key = serialization.load_pem_private_key(
            self.pair.privateKey.encode("ascii"), password=None
        )
        loaded = serialization.load_ssh_public_key(self.pair.publicKey.encode("ascii"))
        self.assertEqual(loaded.public_numbers(), key.public_key().public_numbers())

    def test_fingerprintIsSHA1OfPKCS8(self):
        """
        The fingerprint is the SHA-1 of the DER PKCS#8 private key, as
        lower-case colon-separated hex.
        """
        key = serialization.load_pem_private_key(
            self.pair.privateKey.encode("ascii"), password=None
        )
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.assertEqual(self.pair.fingerprint, colonHex(hashlib.sha1(der).digest()))
        self.assertRegex(self.pair.fingerprint, r"\A[0-9a-f]{2}(:[0-9a-f]{2}){19}\Z")

    def test_fingerprintAgreesWithOpenSSL(self):
        """
        OpenSSL, working from the PEM text, computes the same fingerprint.
        """
        openssl = requireTool("openssl")
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(self.pair.privateKey)
        der = run([openssl, "pkcs8", "-topk8", "-nocrypt", "-in", path,
                   "-outform", "DER"])
        self.assertEqual(self.pair.fingerprint, opensslDigest("sha1", der))

    def test_pairsDiffer(self):
        """
        Each call makes a new key.
        """
        other = crypto.generateKeyPair(1024)
        self.assertNotEqual(other.privateKey, self.pair.privateKey)
        self.assertNotEqual(other.fingerprint, self.pair.fingerprint)
        key = serialization.load_pem_private_key(
            other.privateKey.encode("ascii"), password=None
        )
        self.assertEqual(key.key_size, 1024)

    def test_refusedSizes(self):
        self.assertRaises(ValueError, crypto.generateKeyPair, 512)
        self.assertRaises(ValueError, crypto.generateKeyPair, 32768)
        self.assertRaises(ValueError, crypto.generateKeyPair, 2048, "dsa")

    def test_ed25519(self):
        """
        An ED25519 pair has an OpenSSH private key and the unpadded base64
        SHA-256 fingerprint of its public blob.
        """
        pair = crypto.generateKeyPair(keyType="ed25519")
        self.assertEqual(pair.keyType, "ed25519")
        self.assertTrue(
            pair.privateKey.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
        )
        key = serialization.load_ssh_private_key(
            pair.privateKey.encode("ascii"), password=None
        )
        self.assertEqual(openSSH(key.public_key()), pair.publicKey)
        blob = base64.b64decode(pair.publicKey.split()[1])
        expected = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
        self.assertEqual(pair.fingerprint, expected)
        self.assertNotIn("=", pair.fingerprint)


class FingerprintPrivateKeyTests(SynchronousTestCase):
    """
    L{crypto.fingerprintPrivateKey} on fixed keys.
    """

    def test_fixedRSAKey(self):
        self.assertEqual(
            crypto.fingerprintPrivateKey(FIXED_RSA_PRIVATE_KEY),
            FIXED_RSA_CREATED_FINGERPRINT,
        )

    def test_pkcs8Form(self):
        """
        The same key in PKCS#8 PEM, as bytes, has the same fingerprint.
        """
        pkcs8 = fixedPrivateKey().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.assertEqual(
            crypto.fingerprintPrivateKey(pkcs8), FIXED_RSA_CREATED_FINGERPRINT
        )

    def test_garbage(self):
        self.assertRaises(InvalidKeyFormat, crypto.fingerprintPrivateKey, "nonsense")
        self.assertRaises(
            InvalidKeyFormat, crypto.fingerprintPrivateKey, FIXED_RSA_PUBLIC_KEY
        )


RFC4716_TEMPLATE = """\
---- BEGIN SSH2 PUBLIC KEY ----
Subject: tester
Comment: "a comment that goes on \\
and on"
x-private: anything at all
{body}
---- END SSH2 PUBLIC KEY ----
"""


def rfc4716(line):
    blob = line.split()[1]
    body = "\n".join(blob[i:i + 70] for i in range(0, len(blob), 70))
    return RFC4716_TEMPLATE.format(body=body)


class ImportPublicKeyTests(SynchronousTestCase):
    """
    L{crypto.importPublicKey} accepts the formats EC2 accepts and computes
    EC2's fingerprints for imported keys.
    """

    def assertFixedRSA(self, imported, comment=None):
        expected = FIXED_RSA_PUBLIC_KEY + (f" {comment}" if comment else "")
        self.assertEqual(imported.publicKey, expected)
        self.assertEqual(imported.keyType, "rsa")
        self.assertEqual(imported.bits, 2048)
        self.assertEqual(imported.fingerprint, FIXED_RSA_IMPORTED_FINGERPRINT)

    def test_openSSHLine(self):
        self.assertFixedRSA(crypto.importPublicKey(FIXED_RSA_PUBLIC_KEY))

    def test_openSSHLineWithComment(self):
        """
        A comment is kept after the normalised key; surrounding whitespace
        and a trailing newline go.
        """
        imported = crypto.importPublicKey(
            "  " + FIXED_RSA_PUBLIC_KEY + "   me@example.com laptop \r\n"
        )
        self.assertFixedRSA(imported, "me@example.com laptop")

    def test_commentMentioningPrivateKey(self):
        """
        Only PEM armour marks a private key; a comment may say anything.
        """
        imported = crypto.importPublicKey(FIXED_RSA_PUBLIC_KEY + " PRIVATE KEY x")
        self.assertFixedRSA(imported, "PRIVATE KEY x")

    def test_bytes(self):
        self.assertFixedRSA(crypto.importPublicKey(FIXED_RSA_PUBLIC_KEY.encode()))

    def test_fingerprintIsMD5OfDER(self):
        """
        The RSA fingerprint is the MD5 of the DER SubjectPublicKeyInfo,
        recomputed here from the key itself.
        """
        der = fixedPrivateKey().public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        self.assertEqual(
            crypto.importPublicKey(FIXED_RSA_PUBLIC_KEY).fingerprint,
            colonHex(hashlib.md5(der).digest()),
        )

    def test_pemSubjectPublicKeyInfo(self):
        pem = fixedPrivateKey().public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        self.assertFixedRSA(crypto.importPublicKey(pem))

    def test_pemPKCS1(self):
        pem = fixedPrivateKey().public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        )
        self.assertIn(b"BEGIN RSA PUBLIC KEY", pem)
        self.assertFixedRSA(crypto.importPublicKey(pem))

    def test_base64DER(self):
        """
        Base64 DER without PEM armour, wrapped or not.
        """
        der = fixedPrivateKey().public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        text = base64.b64encode(der).decode("ascii")
        self.assertFixedRSA(crypto.importPublicKey(text))
        wrapped = "\n".join(text[i:i + 64] for i in range(0, len(text), 64))
        self.assertFixedRSA(crypto.importPublicKey(wrapped))

    def test_rfc4716(self):
        """
        The SSH2 format: headers (one continued with a backslash) are
        skipped, the quoted Comment header becomes the comment.
        """
        imported = crypto.importPublicKey(rfc4716(FIXED_RSA_PUBLIC_KEY))
        self.assertFixedRSA(imported, "a comment that goes on and on")

    def test_rfc4716CRLF(self):
        text = rfc4716(FIXED_RSA_PUBLIC_KEY).replace("\n", "\r\n")
        imported = crypto.importPublicKey(text)
        self.assertEqual(imported.fingerprint, FIXED_RSA_IMPORTED_FINGERPRINT)

    def test_ed25519(self):
        """
        ED25519: the fingerprint is what ssh-keygen -l prints, without the
        "SHA256:" prefix or base64 padding.
        """
        imported = crypto.importPublicKey(FIXED_ED25519_PUBLIC_KEY)
        self.assertEqual(imported.keyType, "ed25519")
        self.assertEqual(imported.bits, 256)
        self.assertEqual(imported.publicKey, FIXED_ED25519_PUBLIC_KEY)
        self.assertEqual(imported.fingerprint, FIXED_ED25519_FINGERPRINT)

    def test_ed25519Forms(self):
        """
        The same ED25519 key in PEM and in the SSH2 format.
        """
        key = serialization.load_ssh_public_key(FIXED_ED25519_PUBLIC_KEY.encode())
        pem = key.public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        self.assertEqual(
            crypto.importPublicKey(pem).fingerprint, FIXED_ED25519_FINGERPRINT
        )
        self.assertEqual(
            crypto.importPublicKey(rfc4716(FIXED_ED25519_PUBLIC_KEY)).fingerprint,
            FIXED_ED25519_FINGERPRINT,
        )

    def test_ecdsaP256(self):
        imported = crypto.importPublicKey(FIXED_ECDSA_PUBLIC_KEY)
        self.assertEqual(imported.keyType, "ecdsa")
        self.assertEqual(imported.bits, 256)
        self.assertEqual(imported.publicKey, FIXED_ECDSA_PUBLIC_KEY)
        self.assertEqual(imported.fingerprint, FIXED_ECDSA_FINGERPRINT)

    def test_ecdsaOtherCurves(self):
        """
        P-384 and P-521 keys: MD5 of the DER SubjectPublicKeyInfo.
        """
        for curve, name in [(ec.SECP384R1(), "nistp384"), (ec.SECP521R1(), "nistp521")]:
            key = ec.generate_private_key(curve).public_key()
            line = openSSH(key)
            self.assertTrue(line.startswith(f"ecdsa-sha2-{name} "))
            imported = crypto.importPublicKey(line)
            der = key.public_bytes(
                serialization.Encoding.DER,
                serialization.PublicFormat.SubjectPublicKeyInfo,
            )
            self.assertEqual(imported.keyType, "ecdsa")
            self.assertEqual(imported.bits, curve.key_size)
            self.assertEqual(imported.fingerprint, colonHex(hashlib.md5(der).digest()))

    def test_largeRSA(self):
        """
        RSA keys from 1024 up to 16384 bits are accepted.
        """
        for bits in (1024, 3072, 16384):
            imported = crypto.importPublicKey(openSSH(fakeRSAPublicKey(bits)))
            self.assertEqual(imported.bits, bits)

    def test_fingerprintPublicKey(self):
        """
        L{crypto.fingerprintPublicKey} takes a key object or key text.
        """
        key = fixedPrivateKey().public_key()
        self.assertEqual(
            crypto.fingerprintPublicKey(key), FIXED_RSA_IMPORTED_FINGERPRINT
        )
        self.assertEqual(
            crypto.fingerprintPublicKey(FIXED_ED25519_PUBLIC_KEY),
            FIXED_ED25519_FINGERPRINT,
        )
        self.assertRaises(
            InvalidKeyFormat,
            crypto.fingerprintPublicKey,
            ed25519.Ed25519PrivateKey.generate(),
        )


class ImportWithToolsTests(SynchronousTestCase):
    """
    Keys made and converted by ssh-keygen, fingerprinted by OpenSSL.
    """

    def sshKeygen(self, *args):
        return run([requireTool("ssh-keygen"), *args])

    def makeKey(self, keyType, *extra):
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, "key")
        self.sshKeygen("-q", "-t", keyType, *extra, "-N", "", "-C", "t@nova",
                       "-f", path)
        return path

    def test_rsaFormats(self):
        """
        One RSA key in OpenSSH, SSH2, PKCS#8 and PEM forms, as ssh-keygen
        writes them, imports as the same key with OpenSSL's MD5-of-DER
        fingerprint.
        """
        path = self.makeKey("rsa", "-b", "2048")
        with open(path + ".pub", "rb") as f:
            line = f.read()
        forms = [line] + [
            self.sshKeygen("-e", "-m", form, "-f", path + ".pub")
            for form in ("RFC4716", "PKCS8", "PEM")
        ]
        pkcs8 = forms[2]
        der = run([requireTool("openssl"), "pkey", "-pubin", "-outform", "DER"], pkcs8)
        expected = opensslDigest("md5", der)
        for form in forms:
            imported = crypto.importPublicKey(form)
            self.assertEqual(imported.fingerprint, expected, form)
            self.assertEqual(imported.publicKey.split()[:2], line.decode().split()[:2])

    def test_ed25519MatchesSSHKeygen(self):
        path = self.makeKey("ed25519")
        with open(path + ".pub") as f:
            line = f.read()
        listing = self.sshKeygen("-l", "-E", "sha256", "-f", path + ".pub").decode()
        expected = listing.split()[1]
        self.assertTrue(expected.startswith("SHA256:"))
        imported = crypto.importPublicKey(line)
        self.assertEqual("SHA256:" + imported.fingerprint, expected)
        self.assertEqual(imported.publicKey, line.strip())

    def test_privateKeysRefused(self):
        """
        Private key files ssh-keygen writes are refused, whatever the format.
        """
        path = self.makeKey("rsa", "-b", "1024", "-m", "PEM")
        with open(path) as f:
            self.assertRaises(InvalidKeyFormat, crypto.importPublicKey, f.read())
        path = self.makeKey("ed25519")
        with open(path) as f:
            self.assertRaises(InvalidKeyFormat, crypto.importPublicKey, f.read())


class ImportRefusalTests(SynchronousTestCase):
    """
    Everything that is not an acceptable public key fails with
    L{InvalidKeyFormat}.
    """

    def assertRefused(self, text, message=None):
        error = self.assertRaises(InvalidKeyFormat, crypto.importPublicKey, text)
        self.assertEqual(error.ec2Code, "InvalidKeyPair.Format")
        if message is not None:
            self.assertIn(message, str(error))
        return error

    def test_garbage(self):
        for text in ["", "   \n", "hello", "hello world", "ssh-rsa",
                     "ssh-rsa !!!!", "ssh-rsa AAAA", "ssh-rsa QUFBQQ==",
                     b"\xff\xfe\x00garbage", "-----BEGIN PUBLIC KEY-----\nAAAA\n"
                     "-----END PUBLIC KEY-----\n", "QUJDRA==",
                     "---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n"]:
            self.assertRefused(text)

    def test_notText(self):
        self.assertRaises(TypeError, crypto.importPublicKey, 42)

    def test_typeMismatch(self):
        """
        A blob that names a different type from the line's type is refused.
        """
        blob = FIXED_ED25519_PUBLIC_KEY.split()[1]
        self.assertRefused("ssh-rsa " + blob)

    def test_truncatedBlob(self):
        blob = base64.b64decode(FIXED_RSA_PUBLIC_KEY.split()[1])
        self.assertRefused("ssh-rsa " + base64.b64encode(blob[:-10]).decode())

    def test_privateKeys(self):
        key = fixedPrivateKey()
        self.assertRefused(FIXED_RSA_PRIVATE_KEY, "private key")
        for privateFormat in (serialization.PrivateFormat.PKCS8,
                              serialization.PrivateFormat.OpenSSH):
            text = key.private_bytes(
                serialization.Encoding.PEM, privateFormat,
                serialization.NoEncryption(),
            )
            self.assertRefused(text, "private key")
        self.assertRefused(
            "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\n", "private key"
        )

    def test_privateKeyDERRefused(self):
        """
        A DER private key in base64 is not a public key either.
        """
        der = fixedPrivateKey().private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.assertRefused(base64.b64encode(der))

    def test_dsa(self):
        blob = b"\x00\x00\x00\x07ssh-dss" + b"\x00\x00\x00\x01\x01" * 4
        self.assertRefused("ssh-dss " + base64.b64encode(blob).decode(), "DSA")

    def test_shortRSA(self):
        self.assertRefused(openSSH(fakeRSAPublicKey(512)), "at least 1024")
        self.assertRefused(openSSH(fakeRSAPublicKey(1023)), "at least 1024")

    def test_longRSA(self):
        self.assertRefused(openSSH(fakeRSAPublicKey(16392)), "at most 16384")

    def test_unsupportedCurve(self):
        key = ec.generate_private_key(ec.SECP256K1()).public_key()
        pem = key.public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        self.assertRefused(pem, "secp256k1")

    def test_unsupportedTypes(self):
        self.assertRefused(
            "sk-ssh-ed25519@openssh.com AAAA", "unsupported key type"
        )
        self.assertRefused(
            'command="ls" ' + FIXED_RSA_PUBLIC_KEY, "unsupported key type"
        )
        self.assertRefused("hello world", "unsupported key type")

    def test_severalKeys(self):
        self.assertRefused(
            FIXED_RSA_PUBLIC_KEY + "\n" + FIXED_ED25519_PUBLIC_KEY, "exactly one"
        )

    def test_tooLong(self):
        self.assertRefused(FIXED_RSA_PUBLIC_KEY + " " + "x" * 70000, "too long")


class BundleKeyTests(SynchronousTestCase):
    """
    L{crypto.encryptBundleKey} and L{crypto.decryptBundleKey}: the RSA layer
    of a bundle manifest.
    """

    def setUp(self):
        self.certificatePEM = selfSignedCertificatePEM(fixedPrivateKey())

    def test_fixedVector(self):
        """
        A key encrypted by OpenSSL as ec2-bundle-image does (hex text,
        PKCS#1 v1.5) decrypts to the raw key.
        """
        self.assertEqual(
            crypto.decryptBundleKey(FIXED_RSA_PRIVATE_KEY, FIXED_BUNDLE_CIPHERTEXT),
            FIXED_BUNDLE_KEY,
        )

    def test_roundTrip(self):
        """
        Keys and IVs encrypted to the certificate decrypt with the key.
        """
        for raw in (os.urandom(16), os.urandom(32), b"\x00" * 16):
            ciphertext = crypto.encryptBundleKey(self.certificatePEM, raw)
            self.assertRegex(ciphertext, r"\A[0-9a-f]{512}\Z")
            self.assertEqual(
                crypto.decryptBundleKey(FIXED_RSA_PRIVATE_KEY, ciphertext), raw
            )

    def test_plaintextIsHexText(self):
        """
        What is encrypted is the key's hex text, as ec2-bundle-image does.
        """
        ciphertext = crypto.encryptBundleKey(self.certificatePEM, FIXED_BUNDLE_KEY)
        plaintext = fixedPrivateKey().decrypt(
            bytes.fromhex(ciphertext), padding.PKCS1v15()
        )
        self.assertEqual(plaintext, b"00112233445566778899aabbccddeeff")

    def test_publicKeyPEM(self):
        """
        A bare public key PEM serves as well as a certificate.
        """
        pem = fixedPrivateKey().public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        ciphertext = crypto.encryptBundleKey(pem, FIXED_BUNDLE_KEY)
        self.assertEqual(
            crypto.decryptBundleKey(FIXED_RSA_PRIVATE_KEY, ciphertext),
            FIXED_BUNDLE_KEY,
        )

    def test_rawPlaintext(self):
        """
        A bundler that encrypted the raw key bytes is understood too.
        """
        raw = bytes(range(200, 216))
        ciphertext = fixedPrivateKey().public_key().encrypt(raw, padding.PKCS1v15())
        self.assertEqual(
            crypto.decryptBundleKey(FIXED_RSA_PRIVATE_KEY, ciphertext.hex()), raw
        )

    def test_shortHexIV(self):
        """
        Some bundlers write 8-byte IVs as 16 hex digits; they come back as
        8 bytes (the AES layer pads them, as openssl enc does).
        """
        ciphertext = fixedPrivateKey().public_key().encrypt(
            b"0011223344556677", padding.PKCS1v15()
        )
        self.assertEqual(
            crypto.decryptBundleKey(FIXED_RSA_PRIVATE_KEY, ciphertext.hex()),
            bytes.fromhex("0011223344556677"),
        )

    def test_uppercaseAndWrappedHex(self):
        text = FIXED_BUNDLE_CIPHERTEXT.upper()
        wrapped = "\n".join(text[i:i + 60] for i in range(0, len(text), 60))
        self.assertEqual(
            crypto.decryptBundleKey(FIXED_RSA_PRIVATE_KEY, wrapped), FIXED_BUNDLE_KEY
        )

    def test_tampered(self):
        """
        A ciphertext with one bit changed fails with L{BundleDecryptionError}
        (OpenSSL's implicit rejection gives random "plaintext", which is not
        a key).
        """
        damaged = bytearray.fromhex(FIXED_BUNDLE_CIPHERTEXT)
        damaged[100] ^= 0x40
        self.assertRaises(
            BundleDecryptionError,
            crypto.decryptBundleKey,
            FIXED_RSA_PRIVATE_KEY,
            damaged.hex(),
        )

    def test_notHex(self):
        self.assertRaises(
            BundleDecryptionError,
            crypto.decryptBundleKey,
            FIXED_RSA_PRIVATE_KEY,
            "zz" + FIXED_BUNDLE_CIPHERTEXT[2:],
        )

    def test_wrongLength(self):
        """
        A ciphertext made for a key of another size is refused.
        """
        self.assertRaises(
            BundleDecryptionError,
            crypto.decryptBundleKey,
            FIXED_RSA_PRIVATE_KEY,
            FIXED_BUNDLE_CIPHERTEXT[:-2],
        )

    def test_otherKey(self):
        """
        A key encrypted to another certificate does not decrypt.
        """
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ciphertext = crypto.encryptBundleKey(
            selfSignedCertificatePEM(other), FIXED_BUNDLE_KEY
        )
        try:
            result = crypto.decryptBundleKey(FIXED_RSA_PRIVATE_KEY, ciphertext)
        except BundleDecryptionError:
            return
        self.assertNotEqual(result, FIXED_BUNDLE_KEY)

    def test_unusablePrivateKey(self):
        self.assertRaises(
            BundleDecryptionError,
            crypto.decryptBundleKey,
            "not a key",
            FIXED_BUNDLE_CIPHERTEXT,
        )
        edKey = ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.assertRaises(
            BundleDecryptionError,
            crypto.decryptBundleKey,
            edKey,
            FIXED_BUNDLE_CIPHERTEXT,
        )

    def test_nonRSACertificate(self):
        key = ec.generate_private_key(ec.SECP256R1())
        self.assertRaises(
            ValueError,
            crypto.encryptBundleKey,
            selfSignedCertificatePEM(key),
            FIXED_BUNDLE_KEY,
        )

    def test_openSSLDecryptsOurs(self):
        """
        OpenSSL decrypts what L{crypto.encryptBundleKey} writes to the key's
        hex text.
        """
        openssl = requireTool("openssl")
        keyPath = self.mktemp()
        with open(keyPath, "w") as f:
            f.write(FIXED_RSA_PRIVATE_KEY)
        ciphertext = crypto.encryptBundleKey(self.certificatePEM, FIXED_BUNDLE_KEY)
        plaintext = run(
            [openssl, "pkeyutl", "-decrypt", "-inkey", keyPath],
            bytes.fromhex(ciphertext),
        )
        self.assertEqual(plaintext, b"00112233445566778899aabbccddeeff")


def chunks(data, sizes):
    """
    Cut C{data} into pieces whose sizes cycle through C{sizes}.
    """
    pieces, offset, index = [], 0, 0
    while offset < len(data):
        size = sizes[index % len(sizes)]
        pieces.append(data[offset:offset + size])
        offset += size
        index += 1
    return pieces


def streamThrough(stream, pieces):
    return b"".join(stream.update(piece) for piece in pieces) + stream.finalize()


AES_KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
AES_IV = bytes.fromhex("f0e0d0c0b0a090807060504030201000")


class AESStreamTests(SynchronousTestCase):
    """
    L{crypto.aesCbcEncryptor} and L{crypto.aesCbcDecryptor}: the AES-CBC
    layer of a bundle, fed in pieces.
    """

    data = bytes((i * 7 + i // 256) % 256 for i in range(100003))

    def encrypt(self, data, sizes=(65536,), key=AES_KEY, iv=AES_IV):
        return streamThrough(crypto.aesCbcEncryptor(key, iv), chunks(data, sizes))

    def decrypt(self, data, sizes=(65536,), key=AES_KEY, iv=AES_IV):
        return streamThrough(crypto.aesCbcDecryptor(key, iv), chunks(data, sizes))

    def test_roundTripOddChunks(self):
        """
        Chunk sizes that do not line up with the block size, different on
        each side, give back the data.
        """
        ciphertext = self.encrypt(self.data, (1, 7, 15, 16, 17, 4095, 65537))
        self.assertEqual(len(ciphertext), (len(self.data) // 16 + 1) * 16)
        self.assertEqual(self.decrypt(ciphertext, (3, 1, 31, 8191, 16)), self.data)
        self.assertEqual(ciphertext, self.encrypt(self.data))

    def test_padding(self):
        """
        PKCS#7: a whole block of padding after block-aligned data, one block
        for empty data.
        """
        for length in (0, 1, 15, 16, 17, 32):
            data = self.data[:length]
            ciphertext = self.encrypt(data, (5,))
            self.assertEqual(len(ciphertext), (length // 16 + 1) * 16)
            self.assertEqual(self.decrypt(ciphertext, (1,)), data)

    def test_updateHoldsBackLastBlock(self):
        """
        The decryptor gives out plaintext as it goes, keeping back only what
        might be padding.
        """
        ciphertext = self.encrypt(self.data[:64])
        decryptor = crypto.aesCbcDecryptor(AES_KEY, AES_IV)
        first = decryptor.update(ciphertext[:48])
        self.assertEqual(first, self.data[:32])
        rest = decryptor.update(ciphertext[48:]) + decryptor.finalize()
        self.assertEqual(first + rest, self.data[:64])

    def test_interoperatesWithOpenSSL(self):
        """
        The ciphertext is exactly what openssl enc -aes-128-cbc -K -iv
        writes, and ours decrypts its output.
        """
        openssl = requireTool("openssl")
        argv = [openssl, "enc", "-aes-128-cbc", "-K", AES_KEY.hex(),
                "-iv", AES_IV.hex()]
        theirs = run(argv + ["-e"], self.data)
        self.assertEqual(self.encrypt(self.data, (999,)), theirs)
        self.assertEqual(self.decrypt(theirs, (333,)), self.data)

    def test_shortIVPaddedLikeOpenSSL(self):
        """
        An 8-byte IV is padded with zero bytes, as openssl enc pads one.
        """
        shortIV = AES_IV[:8]
        ciphertext = self.encrypt(self.data[:100], iv=AES_IV[:8] + b"\0" * 8)
        self.assertEqual(self.decrypt(ciphertext, iv=shortIV), self.data[:100])

    def test_truncated(self):
        """
        A ciphertext cut short fails cleanly at finalize.
        """
        ciphertext = self.encrypt(self.data[:1000])
        self.assertRaises(BundleDecryptionError, self.decrypt, ciphertext[:-5])

    def test_tamperedLastBlock(self):
        """
        A damaged last block shows up as bad padding.
        """
        ciphertext = bytearray(self.encrypt(self.data[:1000]))
        ciphertext[-1] ^= 0x01
        self.assertRaises(BundleDecryptionError, self.decrypt, bytes(ciphertext))

    def test_wrongKey(self):
        ciphertext = self.encrypt(self.data[:1000])
        wrongKey = bytes.fromhex("ffeeddccbbaa99887766554433221100")
        self.assertRaises(
            BundleDecryptionError, self.decrypt, ciphertext, key=wrongKey
        )

    def test_badSizes(self):
        for key, iv in [(b"k" * 15, AES_IV), (AES_KEY, b""), (AES_KEY, b"i" * 17)]:
            self.assertRaises(BundleDecryptionError, crypto.aesCbcDecryptor, key, iv)
        self.assertRaises(ValueError, crypto.aesCbcEncryptor, b"k" * 20, AES_IV)
        for size in (16, 24, 32):
            key = bytes(range(size))
            ciphertext = self.encrypt(self.data[:50], key=key)
            self.assertEqual(self.decrypt(ciphertext, key=key), self.data[:50])

    def test_finalizeOnce(self):
        decryptor = crypto.aesCbcDecryptor(AES_KEY, AES_IV)
        decryptor.update(self.encrypt(b"abc"))
        decryptor.finalize()
        self.assertRaises(RuntimeError, decryptor.update, b"x")
        self.assertRaises(RuntimeError, decryptor.finalize)
        encryptor = crypto.aesCbcEncryptor(AES_KEY, AES_IV)
        encryptor.finalize()
        self.assertRaises(RuntimeError, encryptor.update, b"x")
