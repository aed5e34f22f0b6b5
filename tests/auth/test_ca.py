# -*- test-case-name: tests.auth.test_ca -*-
"""
Tests for L{nova.auth.ca}: the root CA, project CAs, user and server
certificates, the index and CRLs.  Chains are checked with C{cryptography}'s
signature verification and, where C{openssl} is on C{PATH}, with
C{openssl verify}.
"""

import datetime
import json
import os
import shutil
import stat
import subprocess
import threading

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from twisted.internet.task import Clock
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from nova.auth import ca as camodule
from nova.auth import crypto, flags
from nova.auth.ca import (
    CertificateAuthority,
    CertificateAuthorityError,
    CertificateNotFound,
    InvalidCertificateOwner,
    InvalidCertificateRequest,
)
from nova.config import Config, ConfigError
from nova.exception import NovaError


NOW = 1700000000  # 2023-11-14T22:13:20Z
NOW_DATETIME = datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.timezone.utc)
TEST_BITS = 1024  # small keys keep the tests fast; sizes are not what they test


def loadCertificate(pem):
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def loadCRL(pem):
    return x509.load_pem_x509_crl(pem.encode("ascii"))


def commonName(certificate):
    return certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def makeCSR(subject="vpn-proj1", bits=2048):
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "NOVA"),
            x509.NameAttribute(NameOID.COMMON_NAME, subject),
        ]))
        .sign(key, hashes.SHA256())
    )
    return key, request.public_bytes(serialization.Encoding.PEM).decode("ascii")


class CATestMixin:
    """
    Builds a L{CertificateAuthority} in a fresh directory with a clock set
    to L{NOW}.
    """

    def setUp(self):
        self.path = os.path.abspath(self.mktemp())
        self.clock = Clock()
        self.clock.advance(NOW)

    def makeCA(self, **kwargs):
        kwargs.setdefault("keyBits", TEST_BITS)
        return CertificateAuthority(self.path, self.clock, **kwargs)


class RootTests(CATestMixin, SynchronousTestCase):
    """
    The root CA is made once, on first use, and found again afterwards.
    """

    def test_createdOnFirstUse(self):
        """
        Nothing is written until the root is needed; then the certificate
        and the key (mode 0600, in a 0700 directory) appear.
        """
        ca = self.makeCA()
        self.assertFalse(os.path.exists(os.path.join(self.path, "cacert.pem")))
        pem = ca.ensureRoot()
        certificatePath = os.path.join(self.path, "cacert.pem")
        keyPath = os.path.join(self.path, "private", "cakey.pem")
        with open(certificatePath) as f:
            self.assertEqual(f.read(), pem)
        self.assertEqual(mode(keyPath), 0o600)
        self.assertEqual(mode(os.path.dirname(keyPath)), 0o700)
        self.assertEqual(mode(certificatePath), 0o644)
        leftovers = [n for n in os.listdir(self.path) if n.startswith(".cacert")]
        self.assertEqual(leftovers, [])

    def test_rootCertificate(self):
        """
        A self-signed CA certificate, valid for ten years from the clock's
        time, for signing certificates and CRLs.
        """
        certificate = loadCertificate(self.makeCA().ensureRoot())
        certificate.verify_directly_issued_by(certificate)
        self.assertEqual(certificate.subject, certificate.issuer)
        self.assertEqual(
            certificate.subject.rfc4514_string(),
            "CN=nova-root-ca,OU=NovaDev,O=AnsoLabs,L=MountainView,ST=California,C=US",
        )
        self.assertEqual(certificate.not_valid_before_utc, NOW_DATETIME)
        self.assertEqual(
            certificate.not_valid_after_utc,
            NOW_DATETIME + datetime.timedelta(days=3650),
        )
        constraints = certificate.extensions.get_extension_for_class(
            x509.BasicConstraints
        )
        self.assertTrue(constraints.critical)
        self.assertTrue(constraints.value.ca)
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        self.assertTrue(usage.key_cert_sign)
        self.assertTrue(usage.crl_sign)
        self.assertFalse(usage.digital_signature)
        self.assertEqual(certificate.public_key().key_size, TEST_BITS)

    def test_defaultKeySize(self):
        ca = CertificateAuthority(self.path, self.clock)
        self.assertEqual(loadCertificate(ca.ensureRoot()).public_key().key_size, 2048)

    def test_reused(self):
        """
        Later calls, and another authority on the same directory, find the
        same root; the files are not rewritten.
        """
        ca = self.makeCA()
        pem = ca.ensureRoot()
        keyPEM = ca.cloudPrivateKeyPEM()
        before = os.stat(os.path.join(self.path, "cacert.pem"))
        self.clock.advance(1000)
        self.assertEqual(ca.ensureRoot(), pem)
        other = self.makeCA()
        self.assertEqual(other.rootCertificatePEM(), pem)
        self.assertEqual(other.cloudPrivateKeyPEM(), keyPEM)
        after = os.stat(os.path.join(self.path, "cacert.pem"))
        self.assertEqual((before.st_ino, before.st_mtime_ns),
                         (after.st_ino, after.st_mtime_ns))

    def test_cloudKey(self):
        """
        The cloud certificate is the root certificate; the cloud key is its
        key in PKCS#1 PEM.
        """
        ca = self.makeCA()
        self.assertEqual(ca.cloudCertificatePEM(), ca.rootCertificatePEM())
        keyPEM = ca.cloudPrivateKeyPEM()
        self.assertTrue(keyPEM.startswith("-----BEGIN RSA PRIVATE KEY-----"))
        key = serialization.load_pem_private_key(keyPEM.encode(), password=None)
        certificate = loadCertificate(ca.cloudCertificatePEM())
        self.assertEqual(
            key.public_key().public_numbers(),
            certificate.public_key().public_numbers(),
        )

    def test_cloudKeyDecryptsBundles(self):
        """
        A bundle key encrypted to the cloud certificate decrypts with the
        cloud key.
        """
        ca = self.makeCA()
        aesKey = os.urandom(16)
        ciphertext = crypto.encryptBundleKey(ca.cloudCertificatePEM(), aesKey)
        self.assertEqual(
            crypto.decryptBundleKey(ca.cloudPrivateKeyPEM(), ciphertext), aesKey
        )

    def test_certificateWithoutKey(self):
        self.makeCA().ensureRoot()
        os.unlink(os.path.join(self.path, "private", "cakey.pem"))
        error = self.assertRaises(CertificateAuthorityError, self.makeCA().ensureRoot)
        self.assertIsInstance(error, NovaError)

    def test_keyWithoutCertificate(self):
        """
        A key without a certificate, what a crash during creation leaves, is
        replaced by a complete new root.
        """
        first = self.makeCA().ensureRoot()
        os.unlink(os.path.join(self.path, "cacert.pem"))
        second = self.makeCA().ensureRoot()
        self.assertNotEqual(first, second)
        ca = self.makeCA()
        key = serialization.load_pem_private_key(
            ca.cloudPrivateKeyPEM().encode(), password=None
        )
        self.assertEqual(
            key.public_key().public_numbers(),
            loadCertificate(second).public_key().public_numbers(),
        )

    def test_mismatchedKey(self):
        self.makeCA().ensureRoot()
        other = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        with open(os.path.join(self.path, "private", "cakey.pem"), "wb") as f:
            f.write(other.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ))
        self.assertRaises(CertificateAuthorityError, self.makeCA().ensureRoot)

    def test_corruptCertificate(self):
        self.makeCA().ensureRoot()
        with open(os.path.join(self.path, "cacert.pem"), "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        self.assertRaises(CertificateAuthorityError, self.makeCA().ensureRoot)


class SubjectTemplateTests(CATestMixin, SynchronousTestCase):
    """
    Subject templates are checked when the authority is built.
    """

    def test_wrongPlaceholderCount(self):
        error = self.assertRaises(
            ConfigError, self.makeCA, userSubject="/O=NOVA/CN=%s-%s"
        )
        self.assertIn("--user_cert_subject", str(error))
        self.assertRaises(ConfigError, self.makeCA, rootSubject="/CN=root-%s")
        self.assertRaises(ConfigError, self.makeCA, projectSubject="/CN=%s")

    def test_malformed(self):
        self.assertRaises(ConfigError, self.makeCA, rootSubject="CN=root")
        self.assertRaises(ConfigError, self.makeCA, rootSubject="/XX=root")
        self.assertRaises(ConfigError, self.makeCA, rootSubject="/CN")
        self.assertRaises(ConfigError, self.makeCA, rootSubject="/CN=")

    def test_escapes(self):
        """
        C{\\/} is a slash inside a value and C{%%} a percent sign.
        """
        ca = self.makeCA(rootSubject="/O=A\\/B/CN=100%% root")
        certificate = loadCertificate(ca.ensureRoot())
        self.assertEqual(commonName(certificate), "100% root")
        organization = certificate.subject.get_attributes_for_oid(
            NameOID.ORGANIZATION_NAME
        )[0].value
        self.assertEqual(organization, "A/B")

    def test_customUserSubject(self):
        """
        Values fill the C{%s} in order, wherever they are.
        """
        ca = self.makeCA(userSubject="/O=NOVA/OU=%s/CN=%s-%s")
        _, pem, _ = ca.signUserCertificate("alice", "proj1")
        subject = loadCertificate(pem).subject.rfc4514_string()
        self.assertEqual(subject, "CN=alice-2023-11-14T22:13:20Z,OU=proj1,O=NOVA")


class ProjectCATests(CATestMixin, SynchronousTestCase):
    """
    Project CAs exist only when C{useProjectCA} is set.
    """

    def test_disabledUsesRoot(self):
        """
        Without project CAs the root answers for every project and no
        project directory is made.
        """
        ca = self.makeCA()
        root = ca.ensureRoot()
        self.assertEqual(ca.ensureProjectCA("proj1"), root)
        self.assertEqual(ca.projectCertificatePEM("proj1"), root)
        self.assertFalse(os.path.exists(os.path.join(self.path, "projects")))
        _, pem, _ = ca.signUserCertificate("alice", "proj1")
        loadCertificate(pem).verify_directly_issued_by(loadCertificate(root))
        self.assertEqual(ca.certificates()[0].issuerProjectId, None)

    def test_enabledMakesIntermediate(self):
        """
        With project CAs, a project gets its own CA, signed by the root,
        allowed to sign end-entity certificates only.
        """
        ca = self.makeCA(useProjectCA=True)
        pem = ca.ensureProjectCA("proj1")
        root = loadCertificate(ca.rootCertificatePEM())
        project = loadCertificate(pem)
        self.assertNotEqual(project.subject, root.subject)
        project.verify_directly_issued_by(root)
        self.assertEqual(project.issuer, root.subject)
        self.assertEqual(commonName(project), "project-ca-proj1-2023-11-14T22:13:20Z")
        constraints = project.extensions.get_extension_for_class(
            x509.BasicConstraints
        ).value
        self.assertTrue(constraints.ca)
        self.assertEqual(constraints.path_length, 0)
        usage = project.extensions.get_extension_for_class(x509.KeyUsage).value
        self.assertTrue(usage.key_cert_sign and usage.crl_sign)
        directory = os.path.join(self.path, "projects", "proj1")
        with open(os.path.join(directory, "cacert.pem")) as f:
            self.assertEqual(f.read(), pem)
        self.assertEqual(mode(os.path.join(directory, "private", "cakey.pem")), 0o600)
        self.assertEqual(mode(os.path.join(directory, "private")), 0o700)

    def test_projectCAReused(self):
        ca = self.makeCA(useProjectCA=True)
        pem = ca.ensureProjectCA("proj1")
        self.assertEqual(ca.ensureProjectCA("proj1"), pem)
        self.assertEqual(ca.projectCertificatePEM("proj1"), pem)
        self.assertEqual(self.makeCA(useProjectCA=True).ensureProjectCA("proj1"), pem)
        self.assertNotEqual(ca.ensureProjectCA("proj2"), pem)

    def test_projectCARecorded(self):
        ca = self.makeCA(useProjectCA=True)
        project = loadCertificate(ca.ensureProjectCA("proj1"))
        [record] = ca.certificates(kind="ca")
        self.assertEqual(record.serial, project.serial_number)
        self.assertEqual(record.projectId, "proj1")
        self.assertIsNone(record.issuerProjectId)
        self.assertIsNone(record.userId)

    def test_invalidProjectIds(self):
        """
        Project ids that could escape the directory are refused, with or
        without project CAs.
        """
        for useProjectCA in (True, False):
            ca = self.makeCA(useProjectCA=useProjectCA)
            for projectId in ("../evil", "a/b", "", ".hidden", "x" * 300, None):
                self.assertRaises(
                    InvalidCertificateOwner, ca.ensureProjectCA, projectId
                )
                self.assertRaises(
                    InvalidCertificateOwner, ca.signUserCertificate, "u", projectId
                )
        self.assertFalse(os.path.exists(os.path.join(self.path, "projects")))
        self.assertFalse(os.path.exists(os.path.join(self.path, "evil")))


class UserCertificateTests(CATestMixin, SynchronousTestCase):
    """
    L{CertificateAuthority.signUserCertificate}.
    """

    def test_chain(self):
        """
        A user's certificate chains to the project CA and on to the root.
        """
        ca = self.makeCA(useProjectCA=True)
        keyPEM, pem, serial = ca.signUserCertificate("alice", "proj1")
        certificate = loadCertificate(pem)
        project = loadCertificate(ca.projectCertificatePEM("proj1"))
        root = loadCertificate(ca.rootCertificatePEM())
        certificate.verify_directly_issued_by(project)
        project.verify_directly_issued_by(root)
        self.assertRaises(
            (ValueError, InvalidSignature), certificate.verify_directly_issued_by, root
        )
        self.assertEqual(serial, certificate.serial_number)

    def test_chainVerifiesWithOpenSSL(self):
        openssl = shutil.which("openssl")
        if openssl is None:
            raise SkipTest("openssl is not on PATH")
        ca = self.makeCA(useProjectCA=True)
        _, pem, _ = ca.signUserCertificate("alice", "proj1")
        files = {}
        for name, text in [("root", ca.rootCertificatePEM()),
                           ("project", ca.projectCertificatePEM("proj1")),
                           ("user", pem)]:
            files[name] = os.path.join(self.path, name + ".pem")
            with open(files[name], "w") as f:
                f.write(text)
        result = subprocess.run(
            [openssl, "verify", "-attime", str(NOW + 60), "-purpose", "sslclient",
             "-CAfile", files["root"], "-untrusted", files["project"],
             files["user"]],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self.assertEqual(result.returncode, 0, result.stdout)

    def test_certificateContents(self):
        """
        Subject from the template (project, user, time), a year's validity
        from the clock's time, a client certificate that is not a CA.
        """
        ca = self.makeCA()
        keyPEM, pem, serial = ca.signUserCertificate("alice", "proj1")
        certificate = loadCertificate(pem)
        self.assertEqual(
            certificate.subject.rfc4514_string(),
            "CN=proj1-alice-2023-11-14T22:13:20Z,OU=NovaDev,O=AnsoLabs,"
            "L=MountainView,ST=California,C=US",
        )
        self.assertEqual(certificate.not_valid_before_utc, NOW_DATETIME)
        self.assertEqual(
            certificate.not_valid_after_utc,
            NOW_DATETIME + datetime.timedelta(days=365),
        )
        self.assertFalse(
            certificate.extensions.get_extension_for_class(x509.BasicConstraints)
            .value.ca
        )
        usage = certificate.extensions.get_extension_for_class(
            x509.ExtendedKeyUsage
        ).value
        self.assertEqual(list(usage), [ExtendedKeyUsageOID.CLIENT_AUTH])
        self.assertTrue(keyPEM.startswith("-----BEGIN RSA PRIVATE KEY-----"))
        key = serialization.load_pem_private_key(keyPEM.encode(), password=None)
        self.assertEqual(
            key.public_key().public_numbers(),
            certificate.public_key().public_numbers(),
        )

    def test_serialsDiffer(self):
        ca = self.makeCA()
        serials = {ca.signUserCertificate("alice", "proj1")[2] for _ in range(3)}
        self.assertEqual(len(serials), 3)

    def test_indexed(self):
        """
        Each certificate is recorded in index.json, which another authority
        on the same directory reads.
        """
        ca = self.makeCA()
        _, _, serial = ca.signUserCertificate("alice", "proj1")
        self.clock.advance(10)
        _, _, other = ca.signUserCertificate("bob", "proj2")
        reopened = self.makeCA()
        [record] = reopened.certificates(userId="alice")
        self.assertEqual(record.serial, serial)
        self.assertEqual(record.kind, "user")
        self.assertEqual(record.projectId, "proj1")
        self.assertEqual(record.notBefore, NOW_DATETIME)
        self.assertEqual(record.notAfter, NOW_DATETIME + datetime.timedelta(days=365))
        self.assertFalse(record.revoked)
        self.assertIsNone(record.revokedAt)
        self.assertEqual([r.serial for r in reopened.certificates()], [serial, other])
        self.assertEqual(reopened.certificate(other).userId, "bob")
        self.assertEqual(
            [r.serial for r in reopened.certificates(projectId="proj2")], [other]
        )
        with open(os.path.join(self.path, "index.json")) as f:
            index = json.load(f)
        self.assertEqual(index["certificates"][format(serial, "x")]["userId"], "alice")
        leftovers = [n for n in os.listdir(self.path) if n.startswith(".index")]
        self.assertEqual(leftovers, [])

    def test_longIdsShortenedCommonName(self):
        """
        A common name longer than X.509's 64 characters is cut short; the
        index keeps the full ids.
        """
        ca = self.makeCA()
        user, project = "u" * 40, "p" * 40
        _, pem, serial = ca.signUserCertificate(user, project)
        name = commonName(loadCertificate(pem))
        self.assertEqual(name, ("p" * 40 + "-" + "u" * 40)[:64])
        self.assertEqual(ca.certificate(serial).userId, user)

    def test_invalidUserIds(self):
        ca = self.makeCA()
        for userId in ("", "a\nb", None, "x" * 256):
            self.assertRaises(
                InvalidCertificateOwner, ca.signUserCertificate, userId, "proj1"
            )

    def test_concurrentSigning(self):
        """
        Certificates signed from several threads at once are all indexed.
        """
        ca = self.makeCA(useProjectCA=True)
        results, errors = [], []

        def sign(number):
            try:
                results.append(ca.signUserCertificate(f"user{number}", "proj1")[2])
            except Exception as e:  # reported by the assertion below
                errors.append(e)

        threads = [threading.Thread(target=sign, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(errors, [])
        self.assertEqual(
            sorted(r.serial for r in self.makeCA().certificates(kind="user")),
            sorted(results),
        )
        self.assertEqual(len(self.makeCA().certificates(kind="ca")), 1)

    def test_notAfterCappedByIssuer(self):
        """
        No certificate outlives its issuer.
        """
        ca = self.makeCA()
        root = loadCertificate(ca.ensureRoot())
        self.clock.advance(3600 * 24 * (3650 - 10))
        _, pem, _ = ca.signUserCertificate("alice", "proj1")
        self.assertEqual(
            loadCertificate(pem).not_valid_after_utc, root.not_valid_after_utc
        )


class RevocationTests(CATestMixin, SynchronousTestCase):
    """
    Revocation, the index and CRLs.
    """

    def assertCRLFor(self, crlPEM, issuerPEM, serials):
        """
        The CRL is signed by the issuer's key, names it, and lists exactly
        C{serials}.
        """
        crl = loadCRL(crlPEM)
        issuer = loadCertificate(issuerPEM)
        self.assertTrue(crl.is_signature_valid(issuer.public_key()))
        self.assertEqual(crl.issuer, issuer.subject)
        self.assertEqual(sorted(r.serial_number for r in crl), sorted(serials))
        return crl

    def test_revokeShowsInCRL(self):
        ca = self.makeCA()
        _, _, serial = ca.signUserCertificate("alice", "proj1")
        _, _, kept = ca.signUserCertificate("bob", "proj1")
        self.assertCRLFor(ca.crlPEM(), ca.rootCertificatePEM(), [])
        self.clock.advance(60)
        record = ca.revokeCertificate(serial)
        self.assertTrue(record.revoked)
        self.assertEqual(
            record.revokedAt, NOW_DATETIME + datetime.timedelta(seconds=60)
        )
        self.assertFalse(ca.certificate(kept).revoked)
        self.clock.advance(60)
        crl = self.assertCRLFor(ca.crlPEM(), ca.rootCertificatePEM(), [serial])
        later = NOW_DATETIME + datetime.timedelta(seconds=120)
        self.assertEqual(crl.last_update_utc, later)
        self.assertEqual(crl.next_update_utc, later + datetime.timedelta(days=365))
        entry = crl.get_revoked_certificate_by_serial_number(serial)
        self.assertEqual(
            entry.revocation_date_utc, NOW_DATETIME + datetime.timedelta(seconds=60)
        )
        self.assertIsNone(crl.get_revoked_certificate_by_serial_number(kept))

    def test_crlNumberIncreases(self):
        ca = self.makeCA()
        numbers = [
            loadCRL(ca.crlPEM()).extensions.get_extension_for_class(x509.CRLNumber)
            .value.crl_number
            for _ in range(3)
        ]
        self.assertEqual(numbers, [1, 2, 3])
        self.assertEqual(
            loadCRL(self.makeCA().crlPEM()).extensions.get_extension_for_class(
                x509.CRLNumber
            ).value.crl_number,
            4,
        )

    def test_crlFileWritten(self):
        """
        Revoking writes a fresh crl.pem for the issuing CA; crlPEM rewrites
        it.
        """
        ca = self.makeCA()
        _, _, serial = ca.signUserCertificate("alice", "proj1")
        ca.revokeCertificate(serial)
        path = os.path.join(self.path, "crl.pem")
        with open(path) as f:
            self.assertCRLFor(f.read(), ca.rootCertificatePEM(), [serial])
        pem = ca.crlPEM()
        with open(path) as f:
            self.assertEqual(f.read(), pem)

    def test_revokeAgainKeepsDate(self):
        ca = self.makeCA()
        _, _, serial = ca.signUserCertificate("alice", "proj1")
        first = ca.revokeCertificate(serial)
        self.clock.advance(500)
        self.assertEqual(ca.revokeCertificate(serial).revokedAt, first.revokedAt)

    def test_revokeUnknown(self):
        ca = self.makeCA()
        ca.signUserCertificate("alice", "proj1")
        self.assertRaises(CertificateNotFound, ca.revokeCertificate, 12345)
        self.assertRaises(CertificateNotFound, ca.certificate, 12345)

    def test_revokeUserCertificates(self):
        """
        A user's certificates are revoked in every project, or in one; other
        users' are not.
        """
        ca = self.makeCA()
        a1 = ca.signUserCertificate("alice", "proj1")[2]
        a2 = ca.signUserCertificate("alice", "proj2")[2]
        a3 = ca.signUserCertificate("alice", "proj2")[2]
        b1 = ca.signUserCertificate("bob", "proj1")[2]
        self.assertEqual(sorted(ca.revokeUserCertificates("alice", "proj2")),
                         sorted([a2, a3]))
        self.assertFalse(ca.certificate(a1).revoked)
        self.assertEqual(ca.revokeUserCertificates("alice"), [a1])
        self.assertEqual(ca.revokeUserCertificates("alice"), [])
        self.assertFalse(ca.certificate(b1).revoked)
        self.assertCRLFor(ca.crlPEM(), ca.rootCertificatePEM(), [a1, a2, a3])

    def test_revokeProjectCertificates(self):
        ca = self.makeCA()
        a1 = ca.signUserCertificate("alice", "proj1")[2]
        b1 = ca.signUserCertificate("bob", "proj1")[2]
        a2 = ca.signUserCertificate("alice", "proj2")[2]
        _, csr = makeCSR()
        _, s1 = ca.signCSR("proj1", csr)
        self.assertEqual(sorted(ca.revokeProjectCertificates("proj1")),
                         sorted([a1, b1, s1]))
        self.assertFalse(ca.certificate(a2).revoked)

    def test_projectCRLs(self):
        """
        With project CAs each project's CRL is signed by its CA and lists
        only what that CA issued; the root's lists neither.
        """
        ca = self.makeCA(useProjectCA=True)
        a1 = ca.signUserCertificate("alice", "proj1")[2]
        a2 = ca.signUserCertificate("alice", "proj2")[2]
        ca.signUserCertificate("bob", "proj1")
        ca.revokeUserCertificates("alice")
        self.assertCRLFor(ca.crlPEM("proj1"), ca.projectCertificatePEM("proj1"), [a1])
        self.assertCRLFor(ca.crlPEM("proj2"), ca.projectCertificatePEM("proj2"), [a2])
        self.assertCRLFor(ca.crlPEM(), ca.rootCertificatePEM(), [])
        crl = loadCRL(ca.crlPEM("proj1"))
        root = loadCertificate(ca.rootCertificatePEM())
        self.assertFalse(crl.is_signature_valid(root.public_key()))
        path = os.path.join(self.path, "projects", "proj1", "crl.pem")
        with open(path) as f:
            self.assertCRLFor(f.read(), ca.projectCertificatePEM("proj1"), [a1])

    def test_crlWithoutProjectCAs(self):
        """
        Without project CAs a project's CRL is the root's.
        """
        ca = self.makeCA()
        a1 = ca.signUserCertificate("alice", "proj1")[2]
        ca.revokeCertificate(a1)
        self.assertCRLFor(ca.crlPEM("proj1"), ca.rootCertificatePEM(), [a1])

    def test_crlRejectedByOpenSSL(self):
        """
        openssl verify -crl_check refuses a revoked certificate and accepts
        one that is not revoked.
        """
        openssl = shutil.which("openssl")
        if openssl is None:
            raise SkipTest("openssl is not on PATH")
        ca = self.makeCA()
        _, revokedPEM, serial = ca.signUserCertificate("alice", "proj1")
        _, goodPEM, _ = ca.signUserCertificate("bob", "proj1")
        ca.revokeCertificate(serial)
        bundle = os.path.join(self.path, "bundle.pem")
        with open(bundle, "w") as f:
            f.write(ca.rootCertificatePEM() + ca.crlPEM())

        def verify(pem):
            path = os.path.join(self.path, "check.pem")
            with open(path, "w") as f:
                f.write(pem)
            return subprocess.run(
                [openssl, "verify", "-attime", str(NOW + 60), "-crl_check",
                 "-CAfile", bundle, path],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            )

        good = verify(goodPEM)
        self.assertEqual(good.returncode, 0, good.stdout)
        bad = verify(revokedPEM)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn(b"revoked", bad.stdout)


class SignCSRTests(CATestMixin, SynchronousTestCase):
    """
    L{CertificateAuthority.signCSR}, for VPN server certificates.
    """

    def test_signedByProjectCA(self):
        ca = self.makeCA(useProjectCA=True)
        key, csr = makeCSR()
        pem, serial = ca.signCSR("proj1", csr)
        certificate = loadCertificate(pem)
        certificate.verify_directly_issued_by(
            loadCertificate(ca.projectCertificatePEM("proj1"))
        )
        self.assertEqual(certificate.serial_number, serial)
        self.assertEqual(certificate.subject.rfc4514_string(), "CN=vpn-proj1,O=NOVA")
        self.assertEqual(
            certificate.public_key().public_numbers(),
            key.public_key().public_numbers(),
        )
        usage = certificate.extensions.get_extension_for_class(
            x509.ExtendedKeyUsage
        ).value
        self.assertEqual(list(usage), [ExtendedKeyUsageOID.SERVER_AUTH])
        self.assertFalse(
            certificate.extensions.get_extension_for_class(x509.BasicConstraints)
            .value.ca
        )
        [record] = ca.certificates(kind="server")
        self.assertEqual((record.serial, record.projectId, record.issuerProjectId,
                          record.userId), (serial, "proj1", "proj1", None))

    def test_signedByRootWhenDisabled(self):
        ca = self.makeCA()
        _, csr = makeCSR()
        pem, _ = ca.signCSR("proj1", csr)
        loadCertificate(pem).verify_directly_issued_by(
            loadCertificate(ca.rootCertificatePEM())
        )

    def test_badSignature(self):
        """
        A request whose signature does not match its contents is refused.
        """
        _, csr = makeCSR()
        request = x509.load_pem_x509_csr(csr.encode())
        der = bytearray(request.public_bytes(serialization.Encoding.DER))
        der[-1] ^= 0x01
        tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(
            serialization.Encoding.PEM
        )
        ca = self.makeCA()
        self.assertRaises(InvalidCertificateRequest, ca.signCSR, "proj1", tampered)
        self.assertEqual(ca.certificates(), [])

    def test_garbage(self):
        ca = self.makeCA()
        self.assertRaises(InvalidCertificateRequest, ca.signCSR, "proj1", "nonsense")
        self.assertRaises(
            InvalidCertificateRequest, ca.signCSR, "proj1", ca.rootCertificatePEM()
        )

    def test_weakKey(self):
        _, csr = makeCSR(bits=1024)
        self.assertRaises(
            InvalidCertificateRequest, self.makeCA().signCSR, "proj1", csr
        )


class FlagsTests(SynchronousTestCase):
    """
    The CA's flags and L{CertificateAuthority.fromConfig}.
    """

    def flag(self, name):
        [flag] = [f for f in flags.OPTIONS if f.name == name]
        return flag

    def test_caPathDefault(self):
        self.assertEqual(
            self.flag("ca_path").default.compute({"state_path": "/var/lib/nova"}),
            "/var/lib/nova/CA",
        )

    def test_caFlagsFirst(self):
        self.assertEqual(
            [f.name for f in flags.OPTIONS[:5]],
            ["ca_path", "use_project_ca", "ca_cert_subject",
             "project_cert_subject", "user_cert_subject"],
        )
        self.assertIs(self.flag("use_project_ca").default, False)

    def test_defaultsAgree(self):
        """
        The flags' default templates are the constructor's defaults, and
        make the subjects Nova's documentation shows.
        """
        clock = Clock()
        clock.advance(NOW)
        ca = CertificateAuthority(self.mktemp(), clock, keyBits=TEST_BITS)
        viaFlags = CertificateAuthority(
            self.mktemp(), clock, keyBits=TEST_BITS,
            rootSubject=self.flag("ca_cert_subject").default,
            userSubject=self.flag("user_cert_subject").default,
        )
        for authority in (ca, viaFlags):
            _, pem, _ = authority.signUserCertificate("alice", "proj1")
            self.assertEqual(
                loadCertificate(pem).subject.rfc4514_string(),
                "CN=proj1-alice-2023-11-14T22:13:20Z,OU=NovaDev,O=AnsoLabs,"
                "L=MountainView,ST=California,C=US",
            )
        self.assertEqual(
            self.flag("project_cert_subject").default,
            "/C=US/ST=California/L=MountainView/O=AnsoLabs/OU=NovaDev/"
            "CN=project-ca-%s-%s",
        )

    def test_fromConfig(self):
        path = os.path.abspath(self.mktemp())
        config = Config({
            "ca_path": path,
            "use_project_ca": True,
            "ca_cert_subject": "/CN=my-root",
            "project_cert_subject": "/CN=p-%s-%s",
            "user_cert_subject": "/CN=u-%s-%s-%s",
        })
        clock = Clock()
        ca = CertificateAuthority.fromConfig(config, clock)
        self.assertEqual(ca.path, path)
        self.assertTrue(ca.useProjectCA)
        self.assertEqual(commonName(loadCertificate(ca.ensureRoot())), "my-root")
        self.assertEqual(
            commonName(loadCertificate(ca.ensureProjectCA("x"))),
            "p-x-1970-01-01T00:00:00Z",
        )
