# -*- test-case-name: tests.compute.test_keypairs -*-
"""
The key pair API: the SSH key pairs of the user a request acts for.

Both HTTP APIs (and the dashboard) reach key pairs only through
L{KeyPairAPI}.  Key pairs belong to the user, not the project, as in
Nova: a user sees the same key pairs in every project, and no one (not a
superuser either) sees or changes another user's key pairs through it.
The key material is made and parsed by L{nova.auth.manager.KeyPairService}
(in a thread).
"""

from twisted.internet.defer import inlineCallbacks

from nova.db.keypairs import KeyPairExists, KeyPairNotFound


class KeyPairAPI:
    """
    Create, import, read and delete the key pairs of the context's user.

    @ivar keyPairs: the L{nova.auth.manager.KeyPairService} that makes
        and parses keys and holds the key pairs store.
    """

    def __init__(self, keyPairs):
        """
        @param keyPairs: a L{nova.auth.manager.KeyPairService}.
        """
        self.keyPairs = keyPairs

    @property
    def _store(self):
        return self.keyPairs.store

    def createKeyPair(self, context, name, keyType="rsa"):
        """
        Make a key pair for the context's user: the private key is
        returned once and not kept.

        @param context: the L{nova.context.RequestContext}.
        @param keyType: C{rsa} or C{ed25519}.
        @return: L{Deferred} firing with a
            L{nova.auth.manager.CreatedKeyPair}; failing with
            L{KeyPairExists} or L{nova.auth.manager.InvalidKeyPairName}.
        """
        return self.keyPairs.createKeyPair(context.userId, name, keyType)

    @inlineCallbacks
    def importKeyPair(self, context, name, publicKey):
        """
        Keep a public key the user made (OpenSSH, PEM, DER or RFC 4716).
        A name in use is refused before the key is read.

        @return: L{Deferred} firing with the new
            L{nova.db.keypairs.KeyPairRecord}; failing with
            L{KeyPairExists}, L{nova.auth.crypto.InvalidKeyFormat} or
            L{nova.auth.manager.InvalidKeyPairName}.
        """
        try:
            yield self._store.get(context.userId, name)
        except KeyPairNotFound:
            pass
        else:
            raise KeyPairExists(f"The keypair '{name}' already exists.")
        record = yield self.keyPairs.importKeyPair(context.userId, name, publicKey)
        return record

    def getKeyPair(self, context, name):
        """
        @return: L{Deferred} firing with the context's user's
            L{nova.db.keypairs.KeyPairRecord} named C{name}; failing with
            L{KeyPairNotFound}.
        """
        return self._store.get(context.userId, name)

    def describeKeyPairs(self, context, names=None):
        """
        @param names: the names asked for, or L{None} for all.
        @return: L{Deferred} firing with the context's user's
            L{nova.db.keypairs.KeyPairRecord}s, by name; failing with
            L{KeyPairNotFound} if a name asked for does not exist.
        """
        return self.keyPairs.describeKeyPairs(context.userId, names)

    def deleteKeyPair(self, context, name):
        """
        Delete one of the context's user's key pairs; deleting one that
        does not exist succeeds, as in EC2.

        @return: L{Deferred} firing with L{True} if one was deleted.
        """
        return self.keyPairs.deleteKeyPair(context.userId, name)
