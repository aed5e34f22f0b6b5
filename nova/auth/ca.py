# -*- test-case-name: tests.auth.test_ca -*-
"""
The cloud's certificate authority.

One root CA per cloud signs users' X.509 certificates (which EC2-era tools
such as C{ec2-bundle-image} need) and, when C{--use_project_ca} is set, one
intermediate CA per project, which then signs that project's user and VPN
server certificates and publishes the project's own CRL.  The root CA's key
is also the cloud's key: C{ec2-bundle-image --ec2cert cloud-cert.pem}
encrypts each bundle's AES key to the root certificate, and the image
service decrypts it with L{CertificateAuthority.cloudPrivateKeyPEM}.

Everything lives under one directory (C{--ca_path})::

    cacert.pem                  root certificate (also the cloud certificate)
    private/cakey.pem           root key (mode 0600, directory 0700)
    crl.pem                     the root's latest CRL
    projects/<id>/cacert.pem    a project's CA certificate
    projects/<id>/private/cakey.pem
    projects/<id>/crl.pem
    index.json                  every certificate issued: serial, kind,
                                user, project, issuer, validity, revocation
    .lock                       serialises changes between processes

Every file is written to a temporary name, synced and renamed into place, so
a crash leaves the old file or the new one, never a torn one.  All methods
are synchronous and do slow work (RSA key generation, disk writes): call
them in a thread.  They are safe to call from several threads and from
several processes sharing the directory.  Times come from the injected
clock's C{seconds()}.
"""

import contextlib
import datetime
import fcntl
import json
import os
import re
import threading

import attr

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from nova.auth import flags
from nova.config import ConfigError
from nova.exception import Invalid, NotFound, NovaError
from nova.util.files import writeAtomically


ROOT_VALIDITY = datetime.timedelta(days=3650)
PROJECT_CA_VALIDITY = datetime.timedelta(days=3650)
CERTIFICATE_VALIDITY = datetime.timedelta(days=365)
# A CRL whose next update has passed makes OpenSSL refuse every peer (an
# OpenVPN server with crl-verify, for one), and the servers that use these
# CRLs fetch them rarely, so each CRL names a next update a year away;
# every revocation writes a fresh CRL at once.
CRL_VALIDITY = datetime.timedelta(days=365)
KEY_BITS = 2048

# Distinguished-name keys a subject template may use.
_NAME_OIDS = {
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
    "DC": NameOID.DOMAIN_COMPONENT,
    "emailAddress": NameOID.EMAIL_ADDRESS,
}
# Upper bounds X.509 (RFC 5280 appendix A) puts on attribute lengths.
_NAME_LIMITS = {"C": 2, "ST": 128, "L": 128, "O": 64, "OU": 64, "CN": 64,
                "emailAddress": 255}

_PROJECT_ID = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.@-]{0,254}\Z")
_PLACEHOLDER = re.compile(r"%(s|%)")
_INDEX_VERSION = 1


class CertificateAuthorityError(NovaError):
    """The certificate authority's files are unusable."""

    code = "CertificateAuthorityError"


class CertificateNotFound(NotFound):
    """No certificate with that serial number was issued."""

    code = "CertificateNotFound"


class InvalidCertificateRequest(Invalid):
    """The certificate signing request is malformed or its signature is bad."""

    code = "InvalidCertificateRequest"


class InvalidCertificateOwner(Invalid):
    """The user or project id cannot be used in a certificate."""

    code = "InvalidCertificateOwner"


@attr.s(frozen=True)
class IssuedCertificate:
    """
    One certificate the authority issued, as the index records it.

    @ivar serial: the serial number, L{int}.
    @ivar kind: C{"user"} (a user's client certificate), C{"server"} (signed
        from a CSR, e.g. a project's VPN server) or C{"ca"} (a project CA).
    @ivar userId: the user, or C{None} for server and CA certificates.
    @ivar projectId: the project, or C{None}.
    @ivar issuerProjectId: the project whose CA signed it, or C{None} when
        the root did.
    @ivar subject: the subject, RFC 4514 text.
    @ivar notBefore: L{datetime.datetime}, UTC.
    @ivar notAfter: L{datetime.datetime}, UTC.
    @ivar revoked: L{bool}.
    @ivar revokedAt: L{datetime.datetime} (UTC) or C{None}.
    """

    serial = attr.ib()
    kind = attr.ib()
    userId = attr.ib()
    projectId = attr.ib()
    issuerProjectId = attr.ib()
    subject = attr.ib()
    notBefore = attr.ib()
    notAfter = attr.ib()
    revoked = attr.ib(default=False)
    revokedAt = attr.ib(default=None)

    @classmethod
    def fromJSON(cls, entry):
        revokedAt = entry.get("revokedAt")
        return cls(
            serial=int(entry["serial"], 16),
            kind=entry["kind"],
            userId=entry.get("userId"),
            projectId=entry.get("projectId"),
            issuerProjectId=entry.get("issuerProjectId"),
            subject=entry["subject"],
            notBefore=_fromEpoch(entry["notBefore"]),
            notAfter=_fromEpoch(entry["notAfter"]),
            revoked=bool(entry.get("revoked", False)),
            revokedAt=None if revokedAt is None else _fromEpoch(revokedAt),
        )

    def toJSON(self):
        return {
            "serial": _serialKey(self.serial),
            "kind": self.kind,
            "userId": self.userId,
            "projectId": self.projectId,
            "issuerProjectId": self.issuerProjectId,
            "subject": self.subject,
            "notBefore": _toEpoch(self.notBefore),
            "notAfter": _toEpoch(self.notAfter),
            "revoked": self.revoked,
            "revokedAt": None if self.revokedAt is None else _toEpoch(self.revokedAt),
        }


@attr.s(frozen=True)
class _Authority:
    """
    A loaded CA: its key and certificate, as objects and as PEM text.
    """

    key = attr.ib()
    keyPEM = attr.ib()
    certificate = attr.ib()
    certificatePEM = attr.ib()
    directory = attr.ib()
    projectId = attr.ib()


def _fromEpoch(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)


def _toEpoch(moment):
    return int(moment.timestamp())


def _serialKey(serial):
    return format(serial, "x")


def _isoTime(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class SubjectTemplate:
    """
    An OpenSSL-style subject such as C{/O=NOVA/OU=NovaDev/CN=%s-%s}: each
    C{%s} is filled with the next value given to L{build}, C{%%} is a
    literal C{%} and C{\\/} a literal C{/}.  Filled values longer than X.509
    allows for their attribute are cut short.
    """

    def __init__(self, flagName, template, placeholders):
        """
        @param flagName: the flag the template came from, for messages.
        @param placeholders: how many C{%s} the template must hold.
        @raise ConfigError: for a template that cannot be parsed or holds
            the wrong number of C{%s}.
        """
        self.template = template
        if not template.startswith("/"):
            raise ConfigError(f"--{flagName}: a subject starts with '/'")
        components = []
        count = 0
        for part in re.split(r"(?<!\\)/", template[1:]):
            key, equals, value = part.partition("=")
            if not equals or key not in _NAME_OIDS or not value:
                raise ConfigError(
                    f"--{flagName}: {part!r} is not KEY=value with KEY one of "
                    f"{', '.join(_NAME_OIDS)}"
                )
            count += sum(1 for m in _PLACEHOLDER.finditer(value) if m.group(1) == "s")
            components.append((key, value.replace("\\/", "/")))
        if count != placeholders:
            raise ConfigError(
                f"--{flagName}: expected {placeholders} %s in the subject, "
                f"found {count}"
            )
        self._components = components

    def build(self, *values):
        """
        @return: the L{x509.Name} with C{values} filled in.
        """
        remaining = iter(values)

        def fill(match):
            return "%" if match.group(1) == "%" else str(next(remaining))

        attributes = []
        for key, value in self._components:
            text = _PLACEHOLDER.sub(fill, value)
            limit = _NAME_LIMITS.get(key)
            if limit is not None:
                text = text[:limit]
            attributes.append(x509.NameAttribute(_NAME_OIDS[key], text))
        return x509.Name(attributes)


def _checkProjectId(projectId):
    if not isinstance(projectId, str) or not _PROJECT_ID.match(projectId):
        raise InvalidCertificateOwner(
            f"invalid project id {projectId!r}: use letters, digits and "
            f"'_.@-', starting with a letter or digit"
        )


def _checkUserId(userId):
    if (not isinstance(userId, str) or not 1 <= len(userId) <= 255
            or not userId.isprintable()):
        raise InvalidCertificateOwner(f"invalid user id {userId!r}")


def _makeKey(bits):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _keyPEM(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")


def _certificatePEM(certificate):
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _authorityKeyIdentifier(issuer):
    ski = issuer.certificate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    )
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)


def _keyUsage(digitalSignature=False, keyEncipherment=False, certSign=False):
    return x509.KeyUsage(
        digital_signature=digitalSignature,
        content_commitment=False,
        key_encipherment=keyEncipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=certSign,
        crl_sign=certSign,
        encipher_only=False,
        decipher_only=False,
    )


class CertificateAuthority:
    """
    The root CA, the per-project CAs and the index of issued certificates,
    kept under one directory.  See the module docstring for the layout.

    @ivar path: the directory.
    @ivar useProjectCA: whether projects get their own intermediate CAs.
    """

    def __init__(
        self,
        path,
        clock,
        useProjectCA=False,
        rootSubject=flags.DEFAULT_CA_SUBJECT,
        projectSubject=flags.DEFAULT_PROJECT_SUBJECT,
        userSubject=flags.DEFAULT_USER_SUBJECT,
        keyBits=KEY_BITS,
    ):
        """
        @param path: the CA directory; created (mode 0700 for key
            directories) when first needed.
        @param clock: provides C{seconds()}, the time used for validity
            periods and CRLs.
        @param rootSubject: subject template of the root (no C{%s}).
        @param projectSubject: subject template of project CAs (project id,
            time of issue).
        @param userSubject: subject template of user certificates (project
            id, user id, time of issue).
        @param keyBits: size of the RSA keys made.
        @raise ConfigError: for a bad subject template.
        """
        self.path = os.path.abspath(path)
        self.clock = clock
        self.useProjectCA = useProjectCA
        self.keyBits = keyBits
        self._rootSubject = SubjectTemplate("ca_cert_subject", rootSubject, 0)
        self._projectSubject = SubjectTemplate(
            "project_cert_subject", projectSubject, 2
        )
        self._userSubject = SubjectTemplate("user_cert_subject", userSubject, 3)
        self._threadLock = threading.RLock()
        self._lockDepth = 0
        self._lockFd = None
        self._root = None
        self._projects = {}

    @classmethod
    def fromConfig(cls, config, clock):
        """
        @param config: a L{nova.config.Config} with the flags of
            L{nova.auth.flags}.
        @rtype: L{CertificateAuthority}
        """
        return cls(
            config.ca_path,
            clock,
            useProjectCA=config.use_project_ca,
            rootSubject=config.ca_cert_subject,
            projectSubject=config.project_cert_subject,
            userSubject=config.user_cert_subject,
        )

    # Plumbing.

    @contextlib.contextmanager
    def _exclusive(self):
        """
        Hold the thread lock and, at the outermost level, an exclusive
        C{flock} on C{.lock}, so that threads and processes sharing the
        directory take turns.
        """
        with self._threadLock:
            if self._lockDepth == 0:
                os.makedirs(self.path, mode=0o755, exist_ok=True)
                fd = os.open(
                    os.path.join(self.path, ".lock"), os.O_RDWR | os.O_CREAT, 0o600
                )
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self._lockFd = fd
            self._lockDepth += 1
            try:
                yield
            finally:
                self._lockDepth -= 1
                if self._lockDepth == 0:
                    fd, self._lockFd = self._lockFd, None
                    os.close(fd)

    def _now(self):
        return _fromEpoch(int(self.clock.seconds()))

    def _projectDirectory(self, projectId):
        return os.path.join(self.path, "projects", projectId)

    def _makeDirectories(self, directory):
        os.makedirs(directory, mode=0o755, exist_ok=True)
        private = os.path.join(directory, "private")
        os.makedirs(private, mode=0o700, exist_ok=True)
        os.chmod(private, 0o700)

    def _loadAuthority(self, directory, projectId):
        """
        @return: the L{_Authority} stored in C{directory}, or C{None} when
            no complete one is there (a key without a certificate is what a
            crash during creation leaves; it is replaced).
        @raise CertificateAuthorityError: for a certificate without its
            key, unreadable files, or a key that does not match.
        """
        certificatePath = os.path.join(directory, "cacert.pem")
        keyPath = os.path.join(directory, "private", "cakey.pem")
        haveCertificate = os.path.exists(certificatePath)
        haveKey = os.path.exists(keyPath)
        if not haveCertificate:
            return None
        if not haveKey:
            raise CertificateAuthorityError(
                f"{certificatePath} exists but its key {keyPath} is missing"
            )
        with open(certificatePath, "rb") as f:
            certificatePEM = f.read()
        with open(keyPath, "rb") as f:
            keyPEM = f.read()
        try:
            certificate = x509.load_pem_x509_certificate(certificatePEM)
            key = serialization.load_pem_private_key(keyPEM, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as e:
            raise CertificateAuthorityError(f"unreadable CA in {directory}: {e}")
        publicFormat = (serialization.Encoding.DER,
                        serialization.PublicFormat.SubjectPublicKeyInfo)
        if (key.public_key().public_bytes(*publicFormat)
                != certificate.public_key().public_bytes(*publicFormat)):
            raise CertificateAuthorityError(
                f"the CA key in {directory} does not match its certificate"
            )
        return _Authority(
            key=key,
            keyPEM=keyPEM.decode("ascii"),
            certificate=certificate,
            certificatePEM=certificatePEM.decode("ascii"),
            directory=directory,
            projectId=projectId,
        )

    def _storeAuthority(self, directory, projectId, key, certificate):
        self._makeDirectories(directory)
        keyPEM = _keyPEM(key)
        certificatePEM = _certificatePEM(certificate)
        writeAtomically(
            os.path.join(directory, "private", "cakey.pem"),
            keyPEM.encode("ascii"),
            0o600,
        )
        writeAtomically(
            os.path.join(directory, "cacert.pem"),
            certificatePEM.encode("ascii"),
            0o644,
        )
        return _Authority(
            key=key,
            keyPEM=keyPEM,
            certificate=certificate,
            certificatePEM=certificatePEM,
            directory=directory,
            projectId=projectId,
        )

    def _indexPath(self):
        return os.path.join(self.path, "index.json")

    def _readIndex(self):
        try:
            with open(self._indexPath(), "rb") as f:
                index = json.loads(f.read().decode("utf-8"))
        except FileNotFoundError:
            return {"version": _INDEX_VERSION, "certificates": {}, "crlNumbers": {}}
        except ValueError as e:
            raise CertificateAuthorityError(f"unreadable certificate index: {e}")
        if index.get("version") != _INDEX_VERSION:
            raise CertificateAuthorityError(
                f"certificate index version {index.get('version')!r} is not "
                f"{_INDEX_VERSION}"
            )
        return index

    def _writeIndex(self, index):
        data = json.dumps(index, indent=1, sort_keys=True).encode("utf-8")
        writeAtomically(self._indexPath(), data, 0o644)

    def _record(self, index, issued):
        index["certificates"][_serialKey(issued.serial)] = issued.toJSON()

    def _issue(self, issuer, subject, publicKey, validity, extensions):
        """
        Sign a certificate.

        @param extensions: C{(extension, critical)} pairs beyond the key
            identifiers.
        @return: the L{x509.Certificate}.
        """
        now = self._now()
        notAfter = min(now + validity, issuer.certificate.not_valid_after_utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.certificate.subject)
            .public_key(publicKey)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(notAfter)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(publicKey),
                           critical=False)
            .add_extension(_authorityKeyIdentifier(issuer), critical=False)
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(issuer.key, hashes.SHA256())

    def _issuedRecord(self, certificate, kind, userId, projectId, issuer):
        return IssuedCertificate(
            serial=certificate.serial_number,
            kind=kind,
            userId=userId,
            projectId=projectId,
            issuerProjectId=issuer.projectId,
            subject=certificate.subject.rfc4514_string(),
            notBefore=certificate.not_valid_before_utc,
            notAfter=certificate.not_valid_after_utc,
        )

    # The root.

    def _ensureRoot(self):
        root = self._root
        if root is not None:
            return root
        with self._exclusive():
            if self._root is not None:
                return self._root
            root = self._loadAuthority(self.path, None)
            if root is None:
                key = _makeKey(self.keyBits)
                name = self._rootSubject.build()
                now = self._now()
                certificate = (
                    x509.CertificateBuilder()
                    .subject_name(name)
                    .issuer_name(name)
                    .public_key(key.public_key())
                    .serial_number(x509.random_serial_number())
                    .not_valid_before(now)
                    .not_valid_after(now + ROOT_VALIDITY)
                    .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                                   critical=True)
                    .add_extension(_keyUsage(certSign=True), critical=True)
                    .add_extension(
                        x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                        critical=False,
                    )
                    .sign(key, hashes.SHA256())
                )
                root = self._storeAuthority(self.path, None, key, certificate)
            self._root = root
            return root

    def ensureRoot(self):
        """
        Create the cloud's root CA unless it exists: an RSA key and a
        self-signed certificate valid for ten years (basicConstraints
        CA:true; keyUsage keyCertSign, cRLSign).

        @return: the root certificate, PEM text.
        @raise CertificateAuthorityError: if the files on disk are broken.
        """
        return self._ensureRoot().certificatePEM

    def rootCertificatePEM(self):
        """
        @return: the root certificate, PEM text (creating the root first if
            needed).
        """
        return self._ensureRoot().certificatePEM

    def cloudCertificatePEM(self):
        """
        @return: the cloud certificate (C{cloud-cert.pem}), to which bundling
            tools encrypt image keys: the root certificate.
        """
        return self._ensureRoot().certificatePEM

    def cloudPrivateKeyPEM(self):
        """
        @return: the cloud private key, which decrypts image bundles: the
            root key, PEM text (C{BEGIN RSA PRIVATE KEY}).
        """
        return self._ensureRoot().keyPEM

    # Project CAs.

    def _issuerFor(self, projectId):
        """
        @return: the L{_Authority} that signs for C{projectId}: its own CA
            when project CAs are in use and a project is named, else the
            root.
        """
        if projectId is None or not self.useProjectCA:
            return self._ensureRoot()
        _checkProjectId(projectId)
        authority = self._projects.get(projectId)
        if authority is not None:
            return authority
        with self._exclusive():
            authority = self._projects.get(projectId)
            if authority is not None:
                return authority
            root = self._ensureRoot()
            directory = self._projectDirectory(projectId)
            authority = self._loadAuthority(directory, projectId)
            if authority is None:
                key = _makeKey(self.keyBits)
                now = self._now()
                subject = self._projectSubject.build(projectId, _isoTime(now))
                certificate = self._issue(
                    root,
                    subject,
                    key.public_key(),
                    PROJECT_CA_VALIDITY,
                    [
                        (x509.BasicConstraints(ca=True, path_length=0), True),
                        (_keyUsage(digitalSignature=True, certSign=True), True),
                    ],
                )
                authority = self._storeAuthority(directory, projectId, key, certificate)
                index = self._readIndex()
                self._record(
                    index,
                    self._issuedRecord(certificate, "ca", None, projectId, root),
                )
                self._writeIndex(index)
            self._projects[projectId] = authority
            return authority

    def ensureProjectCA(self, projectId):
        """
        Create C{projectId}'s intermediate CA, signed by the root and valid
        for ten years (or until the root expires), unless it exists.  When
        project CAs are not in use nothing is created and the root answers.

        @return: the certificate of the CA that signs for the project, PEM
            text.
        @raise InvalidCertificateOwner: for a project id that cannot name a
            directory.
        """
        _checkProjectId(projectId)
        return self._issuerFor(projectId).certificatePEM

    def projectCertificatePEM(self, projectId):
        """
        @return: the certificate of the CA that signs for C{projectId} (the
            root when project CAs are not in use), PEM text.
        """
        return self.ensureProjectCA(projectId)

    # Issuing.

    def signUserCertificate(self, userId, projectId):
        """
        Make a key and an X.509 client certificate for a user in a project,
        signed by the project's CA (or the root) and valid for a year.  The
        subject comes from the user subject template (project, user, time).

        @return: C{(privateKeyPEM, certificatePEM, serial)}: the key as
            C{BEGIN RSA PRIVATE KEY} text, the certificate as PEM text and
            the serial number (L{int}).
        @raise InvalidCertificateOwner: for an unusable user or project id.
        """
        _checkUserId(userId)
        _checkProjectId(projectId)
        issuer = self._issuerFor(projectId)
        key = _makeKey(self.keyBits)
        subject = self._userSubject.build(projectId, userId, _isoTime(self._now()))
        certificate = self._issue(
            issuer,
            subject,
            key.public_key(),
            CERTIFICATE_VALIDITY,
            [
                (x509.BasicConstraints(ca=False, path_length=None), True),
                (_keyUsage(digitalSignature=True, keyEncipherment=True), True),
                (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
            ],
        )
        with self._exclusive():
            index = self._readIndex()
            self._record(
                index,
                self._issuedRecord(certificate, "user", userId, projectId, issuer),
            )
            self._writeIndex(index)
        return _keyPEM(key), _certificatePEM(certificate), certificate.serial_number

    def signCSR(self, projectId, csrPEM):
        """
        Sign a certificate signing request with the project's CA (or the
        root), for a year, as a TLS server certificate (a project's VPN
        server).  The subject and key come from the request; any extensions
        it asks for are ignored.

        @param csrPEM: the request, PEM text.
        @return: C{(certificatePEM, serial)}.
        @raise InvalidCertificateRequest: if the request cannot be parsed,
            its signature does not verify or its key is unsuitable.
        """
        _checkProjectId(projectId)
        data = csrPEM.encode("ascii") if isinstance(csrPEM, str) else bytes(csrPEM)
        try:
            request = x509.load_pem_x509_csr(data)
            publicKey = request.public_key()
        except (ValueError, UnsupportedAlgorithm) as e:
            raise InvalidCertificateRequest(f"unreadable certificate request: {e}")
        if not request.is_signature_valid:
            raise InvalidCertificateRequest(
                "the certificate request's signature does not verify"
            )
        if isinstance(publicKey, rsa.RSAPublicKey):
            if publicKey.key_size < 2048:
                raise InvalidCertificateRequest(
                    f"RSA key of {publicKey.key_size} bits; at least 2048 required"
                )
        elif not isinstance(publicKey, (ec.EllipticCurvePublicKey,
                                        ed25519.Ed25519PublicKey)):
            raise InvalidCertificateRequest("unsupported key type")
        issuer = self._issuerFor(projectId)
        certificate = self._issue(
            issuer,
            request.subject,
            publicKey,
            CERTIFICATE_VALIDITY,
            [
                (x509.BasicConstraints(ca=False, path_length=None), True),
                (_keyUsage(digitalSignature=True,
                           keyEncipherment=isinstance(publicKey, rsa.RSAPublicKey)),
                 True),
                (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            ],
        )
        with self._exclusive():
            index = self._readIndex()
            self._record(
                index,
                self._issuedRecord(certificate, "server", None, projectId, issuer),
            )
            self._writeIndex(index)
        return _certificatePEM(certificate), certificate.serial_number

    # The index and revocation.

    def certificates(self, userId=None, projectId=None, kind=None):
        """
        @return: a L{list} of L{IssuedCertificate}, oldest first, optionally
            only those of C{userId}, C{projectId} and C{kind}.
        """
        with self._exclusive():
            index = self._readIndex()
        found = [IssuedCertificate.fromJSON(e) for e in index["certificates"].values()]
        found = [
            c for c in found
            if (userId is None or c.userId == userId)
            and (projectId is None or c.projectId == projectId)
            and (kind is None or c.kind == kind)
        ]
        found.sort(key=lambda c: (c.notBefore, c.serial))
        return found

    def certificate(self, serial):
        """
        @return: the L{IssuedCertificate} with serial number C{serial}.
        @raise CertificateNotFound: if none was issued.
        """
        with self._exclusive():
            index = self._readIndex()
        entry = index["certificates"].get(_serialKey(serial))
        if entry is None:
            raise CertificateNotFound(f"no certificate with serial {serial:x}")
        return IssuedCertificate.fromJSON(entry)

    def _revokeMatching(self, match):
        """
        Mark every unrevoked certificate for which C{match(record)} is true
        as revoked now, then write fresh CRLs for the CAs that issued them.

        @return: the L{list} of newly revoked L{IssuedCertificate}s.
        """
        with self._exclusive():
            index = self._readIndex()
            now = self._now()
            revoked = []
            for key, entry in index["certificates"].items():
                record = IssuedCertificate.fromJSON(entry)
                if record.revoked or not match(record):
                    continue
                record = attr.evolve(record, revoked=True, revokedAt=now)
                index["certificates"][key] = record.toJSON()
                revoked.append(record)
            if revoked:
                self._writeIndex(index)
                for issuerProjectId in {r.issuerProjectId for r in revoked}:
                    self._writeCRL(self._authorityByProject(issuerProjectId))
            return revoked

    def _authorityByProject(self, issuerProjectId):
        if issuerProjectId is None:
            return self._ensureRoot()
        authority = self._projects.get(issuerProjectId)
        if authority is None:
            authority = self._loadAuthority(
                self._projectDirectory(issuerProjectId), issuerProjectId
            )
            if authority is None:
                raise CertificateAuthorityError(
                    f"the CA of project {issuerProjectId} is missing"
                )
            self._projects[issuerProjectId] = authority
        return authority

    def revokeCertificate(self, serial):
        """
        Revoke one certificate (again revoking a revoked one changes
        nothing) and rewrite its issuer's CRL.

        @return: the L{IssuedCertificate} as it now stands.
        @raise CertificateNotFound: if no certificate has that serial.
        """
        existing = self.certificate(serial)
        self._revokeMatching(lambda record: record.serial == serial)
        return self.certificate(existing.serial)

    def revokeUserCertificates(self, userId, projectId=None):
        """
        Revoke every user certificate of C{userId}, in C{projectId} only if
        given.

        @return: the L{list} of serial numbers newly revoked.
        """
        return [
            record.serial
            for record in self._revokeMatching(
                lambda record: record.kind == "user"
                and record.userId == userId
                and (projectId is None or record.projectId == projectId)
            )
        ]

    def revokeProjectCertificates(self, projectId):
        """
        Revoke every user and server certificate issued for C{projectId}
        (for example when the project is deleted).

        @return: the L{list} of serial numbers newly revoked.
        """
        return [
            record.serial
            for record in self._revokeMatching(
                lambda record: record.kind in ("user", "server")
                and record.projectId == projectId
            )
        ]

    def _writeCRL(self, authority):
        """
        Sign a CRL listing every certificate C{authority} issued that is
        revoked, store it as C{crl.pem} in the authority's directory and
        advance its CRL number.

        @return: the CRL, PEM text.
        """
        with self._exclusive():
            index = self._readIndex()
            numberKey = "root" if authority.projectId is None else (
                "project:" + authority.projectId
            )
            number = index["crlNumbers"].get(numberKey, 0) + 1
            index["crlNumbers"][numberKey] = number
            now = self._now()
            builder = (
                x509.CertificateRevocationListBuilder()
                .issuer_name(authority.certificate.subject)
                .last_update(now)
                .next_update(now + CRL_VALIDITY)
                .add_extension(x509.CRLNumber(number), critical=False)
                .add_extension(_authorityKeyIdentifier(authority), critical=False)
            )
            for entry in index["certificates"].values():
                record = IssuedCertificate.fromJSON(entry)
                if record.revoked and record.issuerProjectId == authority.projectId:
                    builder = builder.add_revoked_certificate(
                        x509.RevokedCertificateBuilder()
                        .serial_number(record.serial)
                        .revocation_date(record.revokedAt)
                        .build()
                    )
            crl = builder.sign(authority.key, hashes.SHA256())
            pem = crl.public_bytes(serialization.Encoding.PEM)
            writeAtomically(os.path.join(authority.directory, "crl.pem"), pem, 0o644)
            self._writeIndex(index)
            return pem.decode("ascii")

    def crlPEM(self, projectId=None):
        """
        Sign a fresh CRL for the CA that signs for C{projectId} (the root
        when project CAs are not in use or no project is named), listing the
        serials it issued that are revoked, with a next update a year
        (L{CRL_VALIDITY}) away; also store it as that CA's C{crl.pem}.

        @return: the CRL, PEM text.
        """
        if projectId is not None:
            _checkProjectId(projectId)
        return self._writeCRL(self._issuerFor(projectId))
