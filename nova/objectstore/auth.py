# -*- test-case-name: tests.objectstore.test_auth -*-
"""
Simple L{IS3Authenticator}s: a fixed table of keys (tests, a single-user
object store) and one that admits only anonymous requests.  Deployments
pass Nova's C{AuthManager}, which looks keys up in the user database.

L{canonicalUsersOf} finds who grants may name (L{ICanonicalUsers}) for
each of them: the projects of the table, or the projects the
C{AuthManager} knows (L{ProjectCanonicalUsers}).
"""

import attr
from twisted.internet.defer import fail, succeed
from zope.interface import implementer

from nova.auth import signer
from nova.context import RequestContext
from nova.objectstore.interfaces import ICanonicalUsers, IS3Authenticator


@attr.s(frozen=True)
class StaticKey:
    """
    @ivar secret: the secret key.
    @ivar userId: the user the key belongs to.
    @ivar projectId: the project the user acts in.
    @ivar isAdmin: whether the user is a superuser.
    """

    secret = attr.ib()
    userId = attr.ib()
    projectId = attr.ib()
    isAdmin = attr.ib(default=False)


@implementer(IS3Authenticator, ICanonicalUsers)
class StaticKeyAuthenticator:
    """
    Authenticates with a fixed table of access keys, checking signatures
    with L{nova.auth.signer}; the projects of the table are the canonical
    users grants may name.
    """

    def __init__(self, keys, clock, maxSkew=900):
        """
        @param keys: a mapping from access key to L{StaticKey}.
        @param clock: an L{IReactorTime}: signatures are checked against
            its time.
        """
        self.keys = dict(keys)
        self.clock = clock
        self.maxSkew = maxSkew

    def authenticateS3(self, parts, remoteAddress=None, requestId=None, virtualBucket=None):
        try:
            accessKey = signer.s3AccessKey(parts)
            if accessKey is None:
                return succeed((None, None))
            access, project = signer.splitAccessKey(accessKey)
            key = self.keys.get(access)
            if key is None:
                raise signer.AuthFailure(
                    "The AWS Access Key Id you provided does not exist in our records."
                )
            verification = signer.verifyS3(
                parts,
                key.secret,
                self.clock.seconds(),
                maxSkew=self.maxSkew,
                virtualBucket=virtualBucket,
            )
        except signer.SignerError:
            return fail()
        if project is not None and project != key.projectId and not key.isAdmin:
            return fail(signer.AuthFailure(f"The user is not a member of project {project}."))
        context = RequestContext(
            userId=key.userId,
            projectId=project or key.projectId,
            isAdmin=key.isAdmin,
            remoteAddress=remoteAddress,
            **({"requestId": requestId} if requestId else {}),
        )
        return succeed((context, verification))

    def isCanonicalUser(self, canonicalId):
        return succeed(any(key.projectId == canonicalId for key in self.keys.values()))


@implementer(IS3Authenticator)
class AnonymousAuthenticator:
    """
    Admits anonymous requests only: any signed request is refused, so only
    what is granted to all users can be reached.
    """

    def authenticateS3(self, parts, remoteAddress=None, requestId=None, virtualBucket=None):
        try:
            if signer.s3AccessKey(parts) is None:
                return succeed((None, None))
            raise signer.AuthFailure(
                "The AWS Access Key Id you provided does not exist in our records."
            )
        except signer.SignerError:
            return fail()


@implementer(ICanonicalUsers)
class ProjectCanonicalUsers:
    """
    The projects Nova's C{AuthManager} knows, as the canonical users grants
    may name.
    """

    def __init__(self, authManager):
        """
        @param authManager: a L{nova.auth.manager.AuthManager}.
        """
        self.authManager = authManager

    def isCanonicalUser(self, canonicalId):
        from nova.auth.interfaces import ProjectNotFound

        def unknown(failure):
            failure.trap(ProjectNotFound)
            return False

        d = self.authManager.getProject(canonicalId)
        d.addCallbacks(lambda project: True, unknown)
        return d


def canonicalUsersOf(authenticator):
    """
    @param authenticator: the L{IS3Authenticator} of the object store.
    @return: the L{ICanonicalUsers} that goes with it: the authenticator
        itself when it provides it, the projects of a
        L{nova.auth.manager.AuthManager}, or C{None} when it knows no one
        (grants are then not checked).
    """
    if ICanonicalUsers.providedBy(authenticator):
        return authenticator
    from nova.auth.manager import AuthManager

    if isinstance(authenticator, AuthManager):
        return ProjectCanonicalUsers(authenticator)
    return None
