# -*- test-case-name: tests.auth.test_crypto -*-
"""
Key pairs, public key import and the primitives that decrypt EC2 image
bundles.

Everything here is synchronous and some of it is slow (RSA key generation
takes tens of milliseconds to seconds): callers on the reactor thread run
these functions with C{deferToThread} or a thread pool, never directly.

Fingerprints follow EC2 exactly, because clients compare them with what they
compute themselves:

  - a key pair EC2 creates (L{generateKeyPair}), RSA: the SHA-1 digest of the
    DER-encoded PKCS#8 private key, as lower-case hex pairs joined by C{:}
    (C{openssl pkcs8 -topk8 -nocrypt -outform DER | openssl sha1 -c});
  - an imported RSA public key (L{importPublicKey}): the MD5 digest of the
    DER-encoded SubjectPublicKeyInfo, the same colon-separated hex
    (C{openssl rsa -pubout -outform DER | openssl md5 -c}).  EC2's API
    reference calls this "the MD5 public key fingerprint as specified in
    section 4 of RFC4716", but the value EC2 returns, and its user guide's
    verification recipe, are the MD5 of the DER public key, not of the SSH
    blob that C{ssh-keygen -E md5} hashes;
  - ED25519, created or imported: the base64 SHA-256 digest of the OpenSSH
    public key blob with the C{=} padding removed, which is what
    C{ssh-keygen -l} prints after C{SHA256:};
  - ECDSA (which EC2 itself does not import): the MD5 digest of the DER
    SubjectPublicKeyInfo, the same rule as RSA, so the value has the familiar
    shape and can be checked with C{openssl ec -pubin -outform DER | openssl
    md5 -c}.

Image bundles made by C{ec2-bundle-image} are a gzipped tar encrypted with
AES-128-CBC (PKCS#7 padding, as C{openssl enc -e -aes-128-cbc -K <hex> -iv
<hex>} writes it).  The manifest holds the AES key and IV, each encrypted
with RSA PKCS#1 v1.5 to the user's certificate and to the cloud certificate
and written as hex (C{user_encrypted_key}, C{ec2_encrypted_key},
C{user_encrypted_iv}, C{ec2_encrypted_iv}).  The RSA plaintext is the key as
hex I{text} (the string given to C{openssl enc -K}), not the raw bytes;
L{decryptBundleKey} accepts either form and returns raw bytes.
"""

import base64
import binascii
import hashlib
import re
import struct

import attr

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import padding as symmetricPadding
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography import x509

from nova.exception import Invalid, NovaError


# RSA public keys that ImportKeyPair accepts, in bits.  EC2's user guide
# lists 1024, 2048 and 4096 as "supported lengths", but EC2 also takes other
# sizes (the 3072-bit keys ssh-keygen makes by default, for one); the bounds
# here refuse what is too weak to be safe and what is too big to be sane.
MIN_RSA_BITS = 1024
MAX_RSA_BITS = 16384

# Longest key text importPublicKey looks at; a 16384-bit RSA key in any of
# the accepted formats is well under this.
MAX_KEY_TEXT = 65536

# The OpenSSH key types importPublicKey accepts, and the keyType it reports.
SSH_KEY_TYPES = {
    "ssh-rsa": "rsa",
    "ssh-ed25519": "ed25519",
    "ecdsa-sha2-nistp256": "ecdsa",
    "ecdsa-sha2-nistp384": "ecdsa",
    "ecdsa-sha2-nistp521": "ecdsa",
}

# Elliptic curves an ECDSA key may use: those OpenSSH can express.
_SSH_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)

# AES key sizes, in bytes, a bundle may use.
_AES_KEY_SIZES = (16, 24, 32)
_AES_BLOCK = 16

_RFC4716_BEGIN = "---- BEGIN SSH2 PUBLIC KEY ----"
_RFC4716_END = "---- END SSH2 PUBLIC KEY ----"
_HEX_TEXT = re.compile(rb"\A(?:[0-9a-fA-F]{2})+\Z")
_PRIVATE_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")


class InvalidKeyFormat(Invalid):
    """The key is not a public key in a format EC2 accepts."""

    code = "InvalidKeyFormat"
    ec2Code = "InvalidKeyPair.Format"
    httpStatus = 400


class BundleDecryptionError(NovaError):
    """The image bundle could not be decrypted."""

    code = "BundleDecryptionError"
    ec2Code = "InvalidManifest"
    httpStatus = 400


@attr.s(frozen=True)
class KeyPairMaterial:
    """
    A key pair made for a user, as CreateKeyPair returns it.

    @ivar privateKey: the private key, PEM text: C{BEGIN RSA PRIVATE KEY}
        (PKCS#1) for RSA, C{BEGIN OPENSSH PRIVATE KEY} for ED25519, as EC2
        returns them.
    @ivar publicKey: the public key as one OpenSSH line (C{ssh-rsa AAAA...}),
        without a comment.
    @ivar fingerprint: the fingerprint as EC2 computes it for keys it
        creates (see the module docstring).
    @ivar keyType: C{"rsa"} or C{"ed25519"}.
    """

    privateKey = attr.ib()
    publicKey = attr.ib()
    fingerprint = attr.ib()
    keyType = attr.ib(default="rsa")


@attr.s(frozen=True)
class ImportedKey:
    """
    A public key a user imported.

    @ivar publicKey: the key as one OpenSSH line, re-encoded from the parsed
        key, followed by the comment the user gave, if any.
    @ivar keyType: C{"rsa"}, C{"ed25519"} or C{"ecdsa"}.
    @ivar fingerprint: the fingerprint as EC2 computes it for imported keys
        (see the module docstring).
    @ivar bits: the key size in bits.
    """

    publicKey = attr.ib()
    keyType = attr.ib()
    fingerprint = attr.ib()
    bits = attr.ib()


def _colonHex(digest):
    """
    @return: C{digest} as lower-case hex pairs joined by C{:}.
    """
    return ":".join(f"{byte:02x}" for byte in digest)


def _toBytes(text, what):
    if isinstance(text, str):
        return text.encode("utf-8")
    if isinstance(text, (bytes, bytearray)):
        return bytes(text)
    raise TypeError(f"{what} must be str or bytes, not {type(text).__name__}")


def _sshBlob(publicKey):
    """
    @return: the OpenSSH wire encoding of C{publicKey} (the bytes an
        C{authorized_keys} line carries in base64).
    """
    line = publicKey.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return base64.b64decode(line.split()[1])


def _ed25519Fingerprint(publicKey):
    digest = hashlib.sha256(_sshBlob(publicKey)).digest()
    return base64.b64encode(digest).decode("ascii").rstrip("=")


def _spkiDER(publicKey):
    return publicKey.public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    )


def fingerprintPublicKey(publicKey):
    """
    Fingerprint a public key the way EC2 does for an imported key.

    @param publicKey: a C{cryptography} RSA, ED25519 or ECDSA public key
        object, or key text in any format L{importPublicKey} accepts.
    @return: the fingerprint, L{str}.
    @raise InvalidKeyFormat: if the key is not one L{importPublicKey}
        accepts.
    """
    if isinstance(publicKey, (str, bytes, bytearray)):
        return importPublicKey(publicKey).fingerprint
    if isinstance(publicKey, ed25519.Ed25519PublicKey):
        return _ed25519Fingerprint(publicKey)
    if isinstance(publicKey, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        return _colonHex(hashlib.md5(_spkiDER(publicKey)).digest())
    raise InvalidKeyFormat(f"unsupported key type {type(publicKey).__name__}")


def _loadPrivateKey(pem):
    data = _toBytes(pem, "private key")
    try:
        if b"BEGIN OPENSSH PRIVATE KEY" in data:
            return serialization.load_ssh_private_key(data, password=None)
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise InvalidKeyFormat(f"not a usable unencrypted private key: {e}")


def fingerprintPrivateKey(pem):
    """
    Fingerprint a private key the way EC2 does for a key pair it created.

    @param pem: an unencrypted private key, PEM text (PKCS#1, PKCS#8 or
        OpenSSH).
    @return: for RSA (and ECDSA), the SHA-1 of the DER PKCS#8 encoding as
        colon-separated hex; for ED25519, the unpadded base64 SHA-256 of the
        public key blob.
    @raise InvalidKeyFormat: if C{pem} is not such a key.
    """
    key = _loadPrivateKey(pem)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return _ed25519Fingerprint(key.public_key())
    if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return _colonHex(hashlib.sha1(der).digest())
    raise InvalidKeyFormat(f"unsupported key type {type(key).__name__}")


def generateKeyPair(bits=2048, keyType="rsa"):
    """
    Make a key pair for a user, as CreateKeyPair does.  Slow: run in a
    thread.

    @param bits: the RSA modulus size; ignored for ED25519.
    @param keyType: C{"rsa"} or C{"ed25519"}.
    @rtype: L{KeyPairMaterial}
    @raise ValueError: for an unknown C{keyType} or C{bits} outside
        L{MIN_RSA_BITS}..L{MAX_RSA_BITS}.
    """
    if keyType == "rsa":
        if not MIN_RSA_BITS <= bits <= MAX_RSA_BITS:
            raise ValueError(
                f"RSA key size must be {MIN_RSA_BITS}..{MAX_RSA_BITS} bits, "
                f"not {bits}"
            )
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        privateFormat = serialization.PrivateFormat.TraditionalOpenSSL
    elif keyType == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
        privateFormat = serialization.PrivateFormat.OpenSSH
    else:
        raise ValueError(f"unknown key type {keyType!r}")
    privatePEM = key.private_bytes(
        serialization.Encoding.PEM, privateFormat, serialization.NoEncryption()
    ).decode("ascii")
    publicLine = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode("ascii")
    return KeyPairMaterial(
        privateKey=privatePEM,
        publicKey=publicLine,
        fingerprint=fingerprintPrivateKey(privatePEM),
        keyType=keyType,
    )


def _cleanComment(comment):
    comment = "".join(c for c in comment if c.isprintable()).strip()
    return comment or None


def _sshTypeOfBlob(blob):
    """
    @return: the key type string that starts an OpenSSH public key blob.
    @raise InvalidKeyFormat: if the blob is too short to hold one.
    """
    if len(blob) < 4:
        raise InvalidKeyFormat("the key data is truncated")
    (length,) = struct.unpack(">I", blob[:4])
    if length > 64 or len(blob) < 4 + length:
        raise InvalidKeyFormat("the key data is truncated")
    try:
        return blob[4:4 + length].decode("ascii")
    except UnicodeDecodeError:
        raise InvalidKeyFormat("the key data does not name a key type")


def _loadSSHBlob(keyName, blob):
    """
    Parse an OpenSSH public key blob whose type is C{keyName}.

    @raise InvalidKeyFormat: for an unsupported type or broken data.
    """
    if keyName == "ssh-dss":
        raise InvalidKeyFormat("DSA keys are not supported; use RSA or ED25519")
    if keyName not in SSH_KEY_TYPES:
        raise InvalidKeyFormat(f"unsupported key type {keyName[:40]!r}")
    if _sshTypeOfBlob(blob) != keyName:
        raise InvalidKeyFormat(f"the key data is not a {keyName} key")
    line = keyName.encode("ascii") + b" " + base64.b64encode(blob)
    try:
        return serialization.load_ssh_public_key(line)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise InvalidKeyFormat(f"the {keyName} key data is invalid: {e}")


def _strictBase64(text):
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKeyFormat("the key data is not valid base64")


def _parseOpenSSH(text):
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise InvalidKeyFormat("expected exactly one public key")
    fields = lines[0].split(None, 2)
    if fields[0] == "ssh-dss":
        raise InvalidKeyFormat("DSA keys are not supported; use RSA or ED25519")
    if fields[0] not in SSH_KEY_TYPES:
        raise InvalidKeyFormat(f"unsupported key type {fields[0][:40]!r}")
    if len(fields) < 2:
        raise InvalidKeyFormat("expected '<type> <base64 key> [comment]'")
    blob = _strictBase64(fields[1])
    key = _loadSSHBlob(fields[0], blob)
    comment = _cleanComment(fields[2]) if len(fields) == 3 else None
    return key, comment


def _parseRFC4716(text):
    """
    Parse the SSH2 public key file format of RFC 4716: header lines
    C{Tag: value} (continued onto the next line by a trailing backslash),
    then the base64 key blob, between the BEGIN and END markers.
    """
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if lines[0] != _RFC4716_BEGIN or lines[-1] != _RFC4716_END:
        raise InvalidKeyFormat("malformed SSH2 public key file")
    body = lines[1:-1]
    headers = {}
    index = 0
    while index < len(body) and ":" in body[index]:
        header = body[index]
        index += 1
        while header.endswith("\\"):
            if index >= len(body):
                raise InvalidKeyFormat("malformed SSH2 public key header")
            header = header[:-1] + body[index]
            index += 1
        tag, _, value = header.partition(":")
        headers[tag.strip().lower()] = value.strip()
    blob = _strictBase64("".join(body[index:]))
    key = _loadSSHBlob(_sshTypeOfBlob(blob), blob)
    comment = headers.get("comment")
    if comment is not None:
        if len(comment) >= 2 and comment[0] == comment[-1] == '"':
            comment = comment[1:-1]
        comment = _cleanComment(comment)
    return key, comment


def _parsePEM(data):
    try:
        return serialization.load_pem_public_key(data), None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidKeyFormat("not a valid PEM public key")


def _parseDER(text):
    der = _strictBase64(text)
    try:
        return serialization.load_der_public_key(der), None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidKeyFormat(
            "not a public key in OpenSSH, PEM, DER or SSH2 (RFC 4716) format"
        )


def _checkKey(key):
    """
    @return: C{(keyType, bits)} of an acceptable key.
    @raise InvalidKeyFormat: for a key type or size that is refused.
    """
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise InvalidKeyFormat(
                f"RSA key is {key.key_size} bits; at least {MIN_RSA_BITS} "
                f"are required"
            )
        if key.key_size > MAX_RSA_BITS:
            raise InvalidKeyFormat(
                f"RSA key is {key.key_size} bits; at most {MAX_RSA_BITS} "
                f"are accepted"
            )
        return "rsa", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", 256
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, _SSH_CURVES):
            raise InvalidKeyFormat(
                f"ECDSA curve {key.curve.name} is not supported; use "
                f"nistp256, nistp384 or nistp521"
            )
        return "ecdsa", key.curve.key_size
    raise InvalidKeyFormat(
        f"unsupported key type {type(key).__name__}; use RSA or ED25519"
    )


def importPublicKey(text):
    """
    Parse a public key a user imports, as ImportKeyPair does.

    Accepted: an OpenSSH line (C{ssh-rsa}, C{ssh-ed25519},
    C{ecdsa-sha2-nistp256/384/521}, with or without a comment), a PEM public
    key (C{BEGIN PUBLIC KEY} or C{BEGIN RSA PUBLIC KEY}), base64 DER
    (SubjectPublicKeyInfo) without PEM armour, and the SSH2 format of
    RFC 4716.  C{text} is what the user sent after the API's own base64
    layer is removed.

    @param text: L{str} or L{bytes}.
    @rtype: L{ImportedKey}
    @raise InvalidKeyFormat: for anything else: garbage, private keys, DSA
        keys, RSA keys shorter than L{MIN_RSA_BITS} or longer than
        L{MAX_RSA_BITS}, curves OpenSSH cannot express.
    """
    data = _toBytes(text, "key")
    if len(data) > MAX_KEY_TEXT:
        raise InvalidKeyFormat("the key is too long")
    try:
        decoded = data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise InvalidKeyFormat("the key is not ASCII text")
    if not decoded:
        raise InvalidKeyFormat("the key is empty")
    if _PRIVATE_PEM.search(decoded) or decoded.startswith("PuTTY-User-Key-File"):
        raise InvalidKeyFormat("this is a private key; import the public key")
    if decoded.startswith(_RFC4716_BEGIN):
        key, comment = _parseRFC4716(decoded)
    elif decoded.startswith("-----BEGIN"):
        key, comment = _parsePEM(decoded.encode("ascii"))
    elif " " in decoded.splitlines()[0].strip() or decoded.split()[0] in (
        tuple(SSH_KEY_TYPES) + ("ssh-dss",)
    ):
        key, comment = _parseOpenSSH(decoded)
    else:
        key, comment = _parseDER(decoded)
    keyType, bits = _checkKey(key)
    line = key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode("ascii")
    if comment:
        line = f"{line} {comment}"
    return ImportedKey(
        publicKey=line,
        keyType=keyType,
        fingerprint=fingerprintPublicKey(key),
        bits=bits,
    )


# Image bundles.


def _loadRSAPublic(certificatePEM):
    data = _toBytes(certificatePEM, "certificate")
    try:
        if b"CERTIFICATE" in data:
            key = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise ValueError(f"not a PEM certificate or public key: {e}")
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("bundle keys are encrypted to RSA keys only")
    return key


def encryptBundleKey(certificatePEM, keyBytes):
    """
    Encrypt an AES key or IV for a bundle manifest, as C{ec2-bundle-image}
    does: the hex text of C{keyBytes}, encrypted with RSA PKCS#1 v1.5 to the
    certificate's key, written as hex.

    @param certificatePEM: the recipient's X.509 certificate (or an RSA
        public key), PEM text: the user's certificate or the cloud
        certificate.
    @param keyBytes: the raw AES key or IV.
    @return: the hex ciphertext, L{str}, for C{user_encrypted_key} and
        friends.
    @raise ValueError: if the certificate does not hold an RSA key.
    """
    publicKey = _loadRSAPublic(certificatePEM)
    plaintext = binascii.hexlify(bytes(keyBytes))
    ciphertext = publicKey.encrypt(plaintext, padding.PKCS1v15())
    return binascii.hexlify(ciphertext).decode("ascii")


def decryptBundleKey(privateKeyPEM, hexCiphertext):
    """
    Decrypt a manifest's C{ec2_encrypted_key} or C{ec2_encrypted_iv}.

    RSA PKCS#1 v1.5 decryption cannot reliably tell a tampered ciphertext:
    OpenSSL answers one with random-looking "plaintext" rather than an
    error, so that the answer gives nothing away.  The plaintext is therefore
    checked for the shapes a bundler writes: hex text (what
    C{ec2-bundle-image} encrypts; 2 to 64 hex digits, C{openssl enc}
    zero-pads a short IV) or raw bytes of an AES key size.  The bundle's
    part digests and manifest signature, checked elsewhere, are what
    establish integrity.

    @param privateKeyPEM: the cloud private key, PEM text.
    @param hexCiphertext: the hex text from the manifest.
    @return: the raw key or IV, L{bytes}.
    @raise BundleDecryptionError: if the text is not hex, does not decrypt
        under this key, or does not decrypt to a key.
    """
    try:
        privateKey = _loadPrivateKey(privateKeyPEM)
    except InvalidKeyFormat as e:
        raise BundleDecryptionError(f"the cloud private key is unusable: {e}")
    if not isinstance(privateKey, rsa.RSAPrivateKey):
        raise BundleDecryptionError("the cloud private key is not an RSA key")
    text = _toBytes(hexCiphertext, "ciphertext")
    try:
        ciphertext = binascii.unhexlify(b"".join(text.split()))
    except (binascii.Error, ValueError):
        raise BundleDecryptionError("the encrypted key is not hex text")
    if len(ciphertext) != (privateKey.key_size + 7) // 8:
        raise BundleDecryptionError(
            "the encrypted key was not encrypted to the cloud certificate"
        )
    try:
        plaintext = privateKey.decrypt(ciphertext, padding.PKCS1v15())
    except ValueError:
        raise BundleDecryptionError("the encrypted key does not decrypt")
    stripped = plaintext.strip()
    if len(stripped) <= 2 * 32 and _HEX_TEXT.match(stripped):
        return binascii.unhexlify(stripped)
    if len(plaintext) in _AES_KEY_SIZES:
        return plaintext
    raise BundleDecryptionError("the encrypted key does not decrypt to a key")


def _checkKeyAndIV(key, iv, error):
    key, iv = bytes(key), bytes(iv)
    if len(key) not in _AES_KEY_SIZES:
        raise error(f"an AES key is 16, 24 or 32 bytes, not {len(key)}")
    if not 1 <= len(iv) <= _AES_BLOCK:
        raise error(f"an AES IV is 16 bytes, not {len(iv)}")
    # openssl enc -iv pads a short IV with zero bytes; some bundlers rely on
    # it by writing 8-byte IVs.
    return key, iv.ljust(_AES_BLOCK, b"\0")


class BundleDecryptor:
    """
    Incremental AES-CBC decryption that removes the PKCS#7 padding at the
    end: feed the ciphertext in pieces of any size to L{update}, then call
    L{finalize} once.  Memory use does not grow with the input.
    """

    def __init__(self, key, iv):
        key, iv = _checkKeyAndIV(key, iv, BundleDecryptionError)
        self._context = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        self._unpadder = symmetricPadding.PKCS7(128).unpadder()
        self._finished = False

    def update(self, data):
        """
        @param data: the next piece of ciphertext, L{bytes}.
        @return: the plaintext that is certain so far (the last block is
            held back until L{finalize}).
        """
        if self._finished:
            raise RuntimeError("the decryptor is already finalized")
        return self._unpadder.update(self._context.update(bytes(data)))

    def finalize(self):
        """
        @return: the rest of the plaintext, without the padding.
        @raise BundleDecryptionError: if the ciphertext's length is not a
            whole number of blocks or its padding is wrong (a wrong key, or
            damaged data).
        """
        if self._finished:
            raise RuntimeError("the decryptor is already finalized")
        self._finished = True
        try:
            tail = self._context.finalize()
        except ValueError:
            raise BundleDecryptionError(
                "the encrypted image is not a whole number of AES blocks"
            )
        try:
            return self._unpadder.update(tail) + self._unpadder.finalize()
        except ValueError:
            raise BundleDecryptionError(
                "the encrypted image does not decrypt with this key (bad "
                "padding)"
            )


class BundleEncryptor:
    """
    Incremental AES-CBC encryption with PKCS#7 padding, the output of
    C{openssl enc -e -aes-128-cbc -K <key> -iv <iv>}: feed L{update}, then
    call L{finalize} once.
    """

    def __init__(self, key, iv):
        key, iv = _checkKeyAndIV(key, iv, ValueError)
        self._context = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        self._padder = symmetricPadding.PKCS7(128).padder()
        self._finished = False

    def update(self, data):
        """
        @return: the ciphertext of the whole blocks available so far.
        """
        if self._finished:
            raise RuntimeError("the encryptor is already finalized")
        return self._context.update(self._padder.update(bytes(data)))

    def finalize(self):
        """
        @return: the last, padded block(s).
        """
        if self._finished:
            raise RuntimeError("the encryptor is already finalized")
        self._finished = True
        last = self._context.update(self._padder.finalize())
        return last + self._context.finalize()


def aesCbcDecryptor(key, iv):
    """
    @param key: the raw AES key (16, 24 or 32 bytes; bundles use 16).
    @param iv: the raw IV (16 bytes; a shorter one is zero-padded as
        C{openssl enc} does).
    @rtype: L{BundleDecryptor}
    @raise BundleDecryptionError: for a key or IV of the wrong size.
    """
    return BundleDecryptor(key, iv)


def aesCbcEncryptor(key, iv):
    """
    @param key: the raw AES key (16, 24 or 32 bytes).
    @param iv: the raw IV (16 bytes).
    @rtype: L{BundleEncryptor}
    @raise ValueError: for a key or IV of the wrong size.
    """
    return BundleEncryptor(key, iv)
