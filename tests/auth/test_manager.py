"""
Tests for L{nova.auth.manager}: users, projects and roles through the
manager, the role matrix, credentials, EC2/S3 authentication with lockout,
the read cache and key pairs.  The driver is the SQL driver on an inline
SQLite database; the cache is a L{MemoryCache} on a L{task.Clock}.
"""

import base64
import hashlib
import hmac
import time
from email.utils import formatdate
from urllib.parse import quote

from twisted.application.internet import TimerService
from twisted.application.service import IService
from twisted.internet import task
from twisted.internet.defer import fail, maybeDeferred
from twisted.logger import Logger, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from nova.auth import interfaces, policy, signer
from nova.auth.crypto import InvalidKeyFormat, generateKeyPair
from nova.auth.interfaces import User
from nova.auth.ldapdriver import LDAPAuthDriver
from nova.auth.manager import (
    AccessKeyLocked,
    AuthManager,
    Credentials,
    InvalidKeyPairName,
    KeyPairService,
    authManagerFromConfig,
)
from nova.auth.sql import SQLAuthDriver
from nova.cache.interfaces import CacheUnavailable
from nova.cache.memory import MemoryCache
from nova.cache.redis import RedisCache
from nova.config import configFromFlags
from nova.context import RequestContext
from nova.db.api import inlineDatabase
from nova.db.keypairs import KeyPairExists, KeyPairNotFound
from nova.exception import DatabaseError, Invalid

HOST = "127.0.0.1:8773"
# An RSA public key in OpenSSH form.
PUBLIC_KEY = generateKeyPair(2048).publicKey
PATH = "/services/Cloud"


def inline(function, *args):
    return maybeDeferred(function, *args)


class CountingDriver:
    """
    Wraps a driver and counts the calls of each method.
    """

    def __init__(self, driver):
        self.driver = driver
        self.calls = {}

    def __getattr__(self, name):
        method = getattr(self.driver, name)

        def counted(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            return method(*args, **kwargs)

        return counted


class BrokenCache:
    """
    A cache whose server is down.
    """

    def _down(self, *args, **kwargs):
        return fail(CacheUnavailable("redis is down"))

    get = set = delete = increment = _down


def signEC2(user, params, timestamp, accessKey=None, secretKey=None, host=HOST):
    """
    Sign EC2 Query parameters with signature version 2, as boto does.

    @return: C{(HTTPRequestParts, params)}.
    """
    params = dict(params)
    params.update(
        {
            "AWSAccessKeyId": accessKey or user.accessKey,
            "SignatureMethod": "HmacSHA256",
            "SignatureVersion": "2",
            "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp)),
            "Version": "2010-08-31",
        }
    )
    query = "&".join(
        quote(k, safe="") + "=" + quote(params[k], safe="-_~") for k in sorted(params)
    )
    stringToSign = f"POST\n{host}\n{PATH}\n{query}"
    mac = hmac.new((secretKey or user.secretKey).encode(), stringToSign.encode(), hashlib.sha256)
    params["Signature"] = base64.b64encode(mac.digest()).decode()
    parts = signer.HTTPRequestParts(
        method="POST", host=host, path=PATH, query="", headers={"host": host}, body=b""
    )
    return parts, params


def signS3(accessKey, secretKey, timestamp, path="/bucket/key"):
    """
    Sign an S3 GET with signature version 2 in the Authorization header.
    """
    date = formatdate(timestamp, usegmt=True)
    stringToSign = f"GET\n\n\n{date}\n{path}"
    mac = hmac.new(secretKey.encode(), stringToSign.encode(), hashlib.sha1)
    signature = base64.b64encode(mac.digest()).decode()
    return signer.HTTPRequestParts(
        method="GET",
        host="127.0.0.1:3333",
        path=path,
        headers={"host": "127.0.0.1:3333", "date": date,
                 "authorization": f"AWS {accessKey}:{signature}"},
    )


class ManagerTestMixin:
    def setUp(self):
        self.clock = task.Clock()
        self.clock.advance(1_700_000_000)
        self.db = inlineDatabase("sqlite:", self.clock)
        self.successResultOf(self.db.sync())
        self.addCleanup(self.db.transactor.close)
        self.driver = CountingDriver(SQLAuthDriver(self.db))
        self.cache = MemoryCache(self.clock)
        self.events = []
        self.manager = self.makeManager()

    def makeManager(self, cache=None, **kwargs):
        manager = AuthManager(
            self.driver,
            self.cache if cache is None else cache,
            self.clock,
            keyPairs=KeyPairService(self.db.keypairs, inline),
            **kwargs,
        )
        manager.log = Logger(observer=self.events.append)
        return manager

    def ok(self, d):
        return self.successResultOf(d)

    def logText(self):
        return [formatEvent(event) for event in self.events]


class UserAndProjectTests(ManagerTestMixin, SynchronousTestCase):
    def test_createUserMakesKeys(self):
        user = self.ok(self.manager.createUser("alice"))
        self.assertRegex(user.accessKey, r"\A[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
        self.assertEqual(len(user.secretKey), 40)
        self.assertFalse(user.isAdmin)
        other = self.ok(self.manager.createUser("bob", admin=True))
        self.assertNotEqual(other.accessKey, user.accessKey)
        self.assertNotEqual(other.secretKey, user.secretKey)
        self.assertTrue(other.isAdmin)
        given = self.ok(self.manager.createUser("carol", "carol-ak", "carol-sk"))
        self.assertEqual(given, User("carol", "carol-ak", "carol-sk", False))
        self.assertNotIn("carol-sk", repr(given))

    def test_badNamesAndKeysRefused(self):
        for name in ("", "-x", "a b", "a:b", "a/b", "x" * 256, "é", None, "a,b", "a+b"):
            self.failureResultOf(self.manager.createUser(name), interfaces.InvalidName)
        self.failureResultOf(self.manager.createUser("ok", "a:b"), Invalid)
        self.failureResultOf(self.manager.createUser("ok", "a b"), Invalid)
        self.failureResultOf(self.manager.createUser("ok", None, "s s"), Invalid)
        self.failureResultOf(self.manager.modifyUser("ok", "x:y"), Invalid)
        self.ok(self.manager.createUser("ok"))
        self.failureResultOf(self.manager.createProject("bad name", "ok"), interfaces.InvalidName)
        self.assertEqual(
            [u.name for u in self.ok(self.manager.getUsers())], ["ok"]
        )

    def test_duplicateUser(self):
        self.ok(self.manager.createUser("alice", "ak"))
        self.failureResultOf(self.manager.createUser("alice"), interfaces.UserExists)
        self.failureResultOf(self.manager.createUser("bob", "ak"), interfaces.AccessKeyExists)

    def test_projectManagerIsMember(self):
        self.ok(self.manager.createUser("alice"))
        self.ok(self.manager.createUser("bob"))
        project = self.ok(self.manager.createProject("proj", "alice"))
        self.assertEqual((project.managerId, project.memberIds), ("alice", ("alice",)))
        self.assertEqual(project.description, "proj")
        self.assertTrue(self.ok(self.manager.isProjectMember("alice", "proj")))
        self.assertTrue(self.ok(self.manager.isProjectManager("alice", "proj")))
        self.assertFalse(self.ok(self.manager.isProjectMember("bob", "proj")))
        self.ok(self.manager.modifyProject("proj", manager="bob", description="d"))
        project = self.ok(self.manager.getProject("proj"))
        self.assertEqual(
            (project.managerId, project.memberIds, project.description),
            ("bob", ("alice", "bob"), "d"),
        )
        self.assertTrue(self.ok(self.manager.isProjectManager("bob", "proj")))
        self.assertEqual([p.name for p in self.ok(self.manager.getProjects("alice"))], ["proj"])

    def test_deleteProjectRemovesRoleGroups(self):
        self.ok(self.manager.createUser("alice"))
        self.ok(self.manager.createProject("proj", "alice"))
        self.ok(self.manager.addRole("alice", "sysadmin"))
        self.ok(self.manager.addRole("alice", "sysadmin", "proj"))
        self.assertTrue(self.ok(self.manager.hasRole("alice", "sysadmin", "proj")))
        self.ok(self.manager.deleteProject("proj"))
        self.failureResultOf(self.manager.getProject("proj"), interfaces.ProjectNotFound)
        self.ok(self.manager.createProject("proj", "alice"))
        self.assertFalse(self.ok(self.manager.hasRole("alice", "sysadmin", "proj")))
        self.assertEqual(self.ok(self.manager.getUserRoles("alice", "proj")), [])

    def test_deleteUserLeavesProjectsAndKeyPairs(self):
        self.ok(self.manager.createUser("alice"))
        bob = self.ok(self.manager.createUser("bob"))
        self.ok(self.manager.createProject("proj", "alice", members=["bob"]))
        self.ok(self.manager.keyPairs.importKeyPair("bob", "k", PUBLIC_KEY))
        self.assertEqual(self.ok(self.manager.getProject("proj")).memberIds, ("alice", "bob"))
        self.ok(self.manager.getUserFromAccessKey(bob.accessKey))
        self.ok(self.manager.deleteUser("bob"))
        self.assertEqual(self.ok(self.manager.getProject("proj")).memberIds, ("alice",))
        self.failureResultOf(self.manager.getUser("bob"), interfaces.UserNotFound)
        self.failureResultOf(
            self.manager.getUserFromAccessKey(bob.accessKey), interfaces.UserNotFound
        )
        self.assertEqual(self.ok(self.db.keypairs.list("bob")), [])
        self.failureResultOf(self.manager.deleteUser("alice"), interfaces.ProjectManagerRequired)

    def test_roleGrantsValidated(self):
        self.ok(self.manager.createUser("alice"))
        self.ok(self.manager.createUser("bob"))
        self.ok(self.manager.createProject("proj", "alice"))
        for role, project in [
            ("root", None),
            ("root", "proj"),
            ("projectmanager", "proj"),
            ("projectmanager", None),
            ("cloudadmin", "proj"),
            ("itsec", "proj"),
        ]:
            failure = self.failureResultOf(
                self.manager.addRole("alice", role, project), interfaces.InvalidRole
            )
            self.assertIsInstance(failure.value, Invalid)
            self.failureResultOf(
                self.manager.removeRole("alice", role, project), interfaces.InvalidRole
            )
        self.failureResultOf(
            self.manager.addRole("bob", "sysadmin", "proj"), interfaces.MembershipNotFound
        )
        self.failureResultOf(self.manager.hasRole("alice", "root"), interfaces.InvalidRole)
        self.assertEqual(self.ok(self.manager.getUserRoles("alice")), [])


# The role matrix.  Project "proj" is managed by "mgr"; "other" by "omgr".
# Each user: (admin flag, global roles, member of proj?, roles in proj,
# member of other?, roles in other).
USERS = {
    "mgr": (False, [], True, [], False, []),
    "glob": (False, ["sysadmin"], True, [], False, []),
    "proj": (False, [], True, ["sysadmin"], False, []),
    "both": (False, ["sysadmin"], True, ["sysadmin"], False, []),
    "net": (False, ["netadmin"], True, ["netadmin"], False, []),
    "dev": (False, ["developer"], True, ["developer"], False, []),
    "itsec": (False, ["itsec"], True, [], False, []),
    "admin": (True, [], False, [], False, []),
    "cloud": (False, ["cloudadmin"], False, [], False, []),
    "outsider": (False, ["sysadmin", "netadmin"], False, [], True, ["sysadmin", "netadmin"]),
}

# Active roles and superuser in proj (None: may not act in proj at all).
ACTIVE = {
    "mgr": (["projectmanager"], False),
    "glob": ([], False),
    "proj": ([], False),
    "both": (["sysadmin"], False),
    "net": (["netadmin"], False),
    "dev": (["developer"], False),
    "itsec": (["itsec"], False),
    "admin": ([], True),
    "cloud": (["cloudadmin"], True),
    "outsider": None,
}

ACTIONS = (
    "DescribeInstances",
    "CreateKeyPair",
    "RunInstances",
    "AttachVolume",
    "AllocateAddress",
    "AuthorizeSecurityGroupIngress",
    "DescribeUsers",
    "s3:GetObject",
)

Y, N = True, False
MATRIX = {
    #          Describe  KeyPair  Run  Volume  Address  SecGroup  Admin  S3
    "mgr":     (Y,       Y,       Y,   Y,      N,       N,        N,     Y),
    "glob":    (Y,       Y,       N,   N,      N,       N,        N,     Y),
    "proj":    (Y,       Y,       N,   N,      N,       N,        N,     Y),
    "both":    (Y,       Y,       Y,   Y,      N,       N,        N,     Y),
    "net":     (Y,       Y,       N,   N,      Y,       Y,        N,     Y),
    "dev":     (Y,       Y,       N,   N,      N,       N,        N,     Y),
    "itsec":   (Y,       Y,       N,   N,      N,       N,        N,     Y),
    "admin":   (Y,       Y,       Y,   Y,      Y,       Y,        Y,     Y),
    "cloud":   (Y,       Y,       Y,   Y,      Y,       Y,        Y,     Y),
}


class RoleMatrixTests(ManagerTestMixin, SynchronousTestCase):
    """
    Who may act where: global only, project only, both, the manager,
    superusers and non-members.
    """

    def setUp(self):
        ManagerTestMixin.setUp(self)
        for name, (admin, *_rest) in USERS.items():
            self.ok(self.manager.createUser(name, admin=admin))
        self.ok(self.manager.createUser("omgr"))
        self.ok(self.manager.createProject("proj", "mgr"))
        self.ok(self.manager.createProject("other", "omgr"))
        for name, (_, globalRoles, inProj, projRoles, inOther, otherRoles) in USERS.items():
            for role in globalRoles:
                self.ok(self.manager.addRole(name, role))
            for project, member, roles in (("proj", inProj, projRoles), ("other", inOther, otherRoles)):
                if member and name != "mgr":
                    self.ok(self.manager.addToProject(name, project))
                for role in roles:
                    self.ok(self.manager.addRole(name, role, project))

    def test_activeRoles(self):
        for name, expected in ACTIVE.items():
            if expected is None:
                self.failureResultOf(
                    self.manager.contextFor(name, "proj"), interfaces.NotProjectMember
                )
                continue
            roles, superuser = expected
            context = self.ok(self.manager.contextFor(name, "proj", requestId="r-1",
                                                      remoteAddress="10.0.0.9"))
            self.assertEqual(
                (context.userId, context.projectId, list(context.roles), context.isAdmin),
                (name, "proj", roles, superuser),
                name,
            )
            self.assertEqual((context.requestId, context.remoteAddress), ("r-1", "10.0.0.9"))
            self.assertEqual(self.ok(self.manager.getActiveRoles(name, "proj")), roles)
            self.assertEqual(self.ok(self.manager.isSuperuser(name)), superuser, name)

    def test_matrix(self):
        for name, row in MATRIX.items():
            context = self.ok(self.manager.contextFor(name, "proj"))
            for action, expected in zip(ACTIONS, row):
                self.assertEqual(
                    policy.allowed(context, action), expected, f"{name} {action}"
                )
                if expected:
                    policy.checkAllowed(context, action)
                else:
                    error = self.assertRaises(
                        policy.ActionNotAllowed, policy.checkAllowed, context, action
                    )
                    self.assertEqual((error.ec2Code, error.httpStatus),
                                     ("UnauthorizedOperation", 403))

    def test_outsiderActsInOwnProjectOnly(self):
        """
        Roles held in another project do not carry over.
        """
        context = self.ok(self.manager.contextFor("outsider", "other"))
        self.assertEqual(list(context.roles), ["netadmin", "sysadmin"])
        self.assertTrue(policy.allowed(context, "RunInstances"))
        self.failureResultOf(self.manager.contextFor("outsider", "proj"),
                             interfaces.NotProjectMember)

    def test_hasRole(self):
        cases = [
            ("glob", "sysadmin", None, True),
            ("glob", "sysadmin", "proj", False),
            ("proj", "sysadmin", None, False),
            ("proj", "sysadmin", "proj", False),
            ("both", "sysadmin", "proj", True),
            ("both", "netadmin", "proj", False),
            ("net", "netadmin", "proj", True),
            ("outsider", "sysadmin", "other", True),
            ("outsider", "sysadmin", "proj", False),
            ("itsec", "itsec", None, True),
            ("itsec", "itsec", "other", True),
            ("cloud", "cloudadmin", "proj", True),
            ("mgr", "projectmanager", "proj", True),
            ("mgr", "projectmanager", None, False),
            ("both", "projectmanager", "proj", False),
            ("admin", "sysadmin", "proj", False),
        ]
        for user, role, project, expected in cases:
            self.assertEqual(
                self.ok(self.manager.hasRole(user, role, project)), expected,
                (user, role, project),
            )

    def test_roleChangesApplyAtOnce(self):
        """
        Granting and revoking invalidate the cached roles.
        """
        self.assertEqual(self.ok(self.manager.contextFor("glob", "proj")).roles, ())
        self.ok(self.manager.addRole("glob", "sysadmin", "proj"))
        self.assertEqual(self.ok(self.manager.contextFor("glob", "proj")).roles, ("sysadmin",))
        self.ok(self.manager.removeRole("glob", "sysadmin"))
        self.assertEqual(self.ok(self.manager.contextFor("glob", "proj")).roles, ())
        self.ok(self.manager.removeFromProject("both", "proj"))
        self.failureResultOf(self.manager.contextFor("both", "proj"), interfaces.NotProjectMember)
        self.ok(self.manager.addToProject("both", "proj"))
        self.assertEqual(self.ok(self.manager.contextFor("both", "proj")).roles, ())
        self.ok(self.manager.modifyUser("glob", admin=True))
        self.assertTrue(self.ok(self.manager.contextFor("glob", "proj")).isAdmin)
        self.ok(self.manager.modifyProject("proj", manager="glob"))
        self.assertEqual(
            self.ok(self.manager.contextFor("glob", "proj")).roles, ("projectmanager",)
        )


class CredentialsTests(ManagerTestMixin, SynchronousTestCase):
    def setUp(self):
        ManagerTestMixin.setUp(self)
        self.alice = self.ok(self.manager.createUser("alice", "alice-ak", "alice-sk"))
        self.bob = self.ok(self.manager.createUser("bob", "bob-ak", "bob-sk"))
        self.root = self.ok(self.manager.createUser("root", "root-ak", "root-sk", admin=True))
        self.ok(self.manager.createProject("alice", "alice"))
        self.ok(self.manager.createProject("proj", "alice", members=["bob"]))

    def test_defaultProjectIsNamedLikeTheUser(self):
        credentials = self.ok(self.manager.getCredentials("alice-ak"))
        self.assertIsInstance(credentials, Credentials)
        self.assertEqual(
            (credentials.user, credentials.project.name, credentials.secretKey),
            (self.alice, "alice", "alice-sk"),
        )
        self.assertNotIn("alice-sk", repr(credentials))

    def test_namedProject(self):
        credentials = self.ok(self.manager.getCredentials("bob-ak:proj"))
        self.assertEqual((credentials.user.name, credentials.project.name), ("bob", "proj"))

    def test_unknownKey(self):
        self.failureResultOf(self.manager.getCredentials("nobody"), signer.AuthFailure)
        self.failureResultOf(self.manager.getCredentials(":proj"), signer.AuthFailure)

    def test_notMember(self):
        # bob has no project "bob"; alice is not in a project "ghost".
        for key in ("bob-ak", "alice-ak:ghost", "bob-ak:alice"):
            failure = self.failureResultOf(
                self.manager.getCredentials(key), interfaces.NotProjectMember
            )
            self.assertEqual(failure.value.httpStatus, 403)

    def test_adminActsAnywhere(self):
        credentials = self.ok(self.manager.getCredentials("root-ak:proj"))
        self.assertEqual(credentials.project.name, "proj")
        self.failureResultOf(self.manager.getCredentials("root-ak:ghost"),
                             interfaces.NotProjectMember)


class AuthenticateTests(ManagerTestMixin, SynchronousTestCase):
    def setUp(self):
        ManagerTestMixin.setUp(self)
        self.alice = self.ok(self.manager.createUser("alice", "alice-ak", "alice-sk"))
        self.ok(self.manager.createProject("alice", "alice"))
        self.ok(self.manager.createProject("proj", "alice"))
        self.ok(self.manager.createUser("mallory", "mallory-ak", "mallory-sk"))
        self.ok(self.manager.createProject("mallory", "mallory"))

    def request(self, **kwargs):
        return signEC2(self.alice, {"Action": "DescribeInstances"}, self.clock.seconds(), **kwargs)

    def authenticate(self, parts, params, manager=None, remoteAddress="192.0.2.7"):
        return (manager or self.manager).authenticateEC2(
            parts, params, remoteAddress=remoteAddress, requestId="req-1"
        )

    def test_success(self):
        context, verification = self.ok(self.authenticate(*self.request()))
        self.assertIsInstance(context, RequestContext)
        self.assertEqual(
            (context.userId, context.projectId, context.roles, context.requestId,
             context.remoteAddress),
            ("alice", "alice", ("projectmanager",), "req-1", "192.0.2.7"),
        )
        self.assertIsNone(verification)
        self.assertEqual(self.events, [])

    def test_projectInAccessKey(self):
        context, _ = self.ok(self.authenticate(*self.request(accessKey="alice-ak:proj")))
        self.assertEqual(context.projectId, "proj")

    def assertLogged(self, *fragments):
        text = "\n".join(self.logText())
        for fragment in fragments:
            self.assertIn(fragment, text)
        for secret in ("alice-sk", "mallory-sk", "wrong-secret"):
            self.assertNotIn(secret, text)

    def test_badSignature(self):
        failure = self.failureResultOf(
            self.authenticate(*self.request(secretKey="wrong-secret")),
            signer.SignatureDoesNotMatch,
        )
        self.assertEqual(failure.value.ec2Code, "SignatureDoesNotMatch")
        self.assertLogged("alice-ak", "192.0.2.7", "SignatureDoesNotMatch")

    def test_unknownKey(self):
        self.failureResultOf(
            self.authenticate(*self.request(accessKey="nobody")), signer.AuthFailure
        )
        self.assertLogged("nobody", "192.0.2.7", "AuthFailure")

    def test_noCredentials(self):
        parts, params = self.request()
        del params["AWSAccessKeyId"]
        self.failureResultOf(self.authenticate(parts, params), signer.AuthFailure)
        self.assertLogged("192.0.2.7")

    def test_wrongProject(self):
        """
        A correctly signed request for a project the user is not in is
        refused (after the signature is checked) and logged.
        """
        parts, params = signEC2(
            User("mallory", "mallory-ak:proj", "mallory-sk"), {"Action": "RunInstances"},
            self.clock.seconds(),
        )
        failure = self.failureResultOf(
            self.authenticate(parts, params), interfaces.NotProjectMember
        )
        self.assertEqual((failure.value.ec2Code, failure.value.httpStatus), ("AuthFailure", 403))
        self.assertLogged("mallory-ak", "192.0.2.7", "NotProjectMember")

    def test_expiredRequest(self):
        parts, params = self.request()
        self.clock.advance(3600)
        self.failureResultOf(self.authenticate(parts, params), signer.RequestExpired)
        self.assertLogged("alice-ak", "RequestExpired")

    def failSignatures(self, count=1, manager=None, remoteAddress="192.0.2.7"):
        for _ in range(count):
            self.failureResultOf(
                self.authenticate(
                    *self.request(secretKey="wrong-secret"), manager=manager,
                    remoteAddress=remoteAddress,
                ),
                signer.SignatureDoesNotMatch,
            )

    def assertLocked(self, remoteAddress="192.0.2.7", manager=None):
        return self.failureResultOf(
            self.authenticate(*self.request(), manager=manager, remoteAddress=remoteAddress),
            AccessKeyLocked,
        )

    def assertNotLocked(self, remoteAddress="192.0.2.7", manager=None):
        self.ok(self.authenticate(*self.request(), manager=manager, remoteAddress=remoteAddress))

    def test_lockout(self):
        """
        Five failed signatures from one address lock the key for that
        address for a minute at first; the lock and its end are logged
        once each.
        """
        self.failSignatures(4)
        self.ok(self.authenticate(*self.request()))
        self.failSignatures(1)
        error = self.assertLocked().value
        self.assertIsInstance(error, signer.AuthFailure)
        self.assertEqual(
            (error.ec2Code, error.httpStatus, error.s3Code, error.s3Status, str(error)),
            ("AuthFailure", 403, "AccessDenied", 403, "Too many failed authentications."),
        )
        self.assertLogged(
            "alice-ak locked for requests from 192.0.2.7 for 1 minutes after 5 failed",
            "AccessKeyLocked",
        )
        # Other keys are not affected.
        parts, params = signEC2(User("mallory", "mallory-ak", "mallory-sk"), {},
                                self.clock.seconds())
        self.ok(self.authenticate(parts, params))
        self.clock.advance(60 - 1)
        self.assertLocked()
        self.clock.advance(1)
        self.assertNotLocked()
        self.assertNotLocked()
        released = [line for line in self.logText() if "ended" in line]
        self.assertEqual(
            released,
            ["Lockout of access key alice-ak for requests from 192.0.2.7 ended (lock 1)"],
        )
        # Counting starts afresh.
        self.failSignatures(4)
        self.ok(self.authenticate(*self.request()))

    def test_lockoutPerAddress(self):
        """
        A stranger's bad signatures lock the key for the stranger's
        address only: its owner, elsewhere, goes on working.
        """
        self.failSignatures(5, remoteAddress="198.51.100.66")
        self.assertLocked("198.51.100.66")
        self.assertNotLocked("192.0.2.7")
        # The owner's own failures are counted apart.
        self.failSignatures(4, remoteAddress="192.0.2.7")
        self.assertNotLocked("192.0.2.7")
        self.assertLocked("198.51.100.66")

    def test_lockoutBackoff(self):
        """
        Each further lock of the same pair lasts twice as long as the one
        before, up to lockout_minutes.
        """
        durations = []
        for _ in range(6):
            self.failSignatures(5)
            start = self.clock.seconds()
            while True:
                self.clock.advance(30)
                try:
                    self.assertNotLocked()
                except self.failureException:
                    continue
                break
            durations.append(self.clock.seconds() - start)
        self.assertEqual(durations, [60, 120, 240, 480, 900, 900])
        self.assertLogged("for 2 minutes", "(lock 2 of this address)", "for 15 minutes")

    def test_lockoutBackoffForgotten(self):
        """
        The count of locks is forgotten a day after the last lock.
        """
        self.failSignatures(5)
        self.clock.advance(60)
        self.failSignatures(5)
        self.clock.advance(120 + 24 * 3600)
        self.failSignatures(5)
        self.assertLocked()
        self.clock.advance(60)
        self.assertNotLocked()

    def test_lockoutWindow(self):
        """
        Failures older than the window are forgotten.
        """
        self.failSignatures(4)
        self.clock.advance(15 * 60)
        self.failSignatures(4)
        self.ok(self.authenticate(*self.request()))
        self.failSignatures(1)
        self.failureResultOf(self.authenticate(*self.request()), AccessKeyLocked)

    def test_lockoutSettings(self):
        """
        lockout_minutes caps the first lock too.
        """
        manager = self.makeManager(lockoutAttempts=2, lockoutWindow=60, lockoutSeconds=30)
        self.failSignatures(2, manager=manager)
        self.failureResultOf(self.authenticate(*self.request(), manager=manager), AccessKeyLocked)
        self.clock.advance(30)
        self.ok(self.authenticate(*self.request(), manager=manager))
        self.failSignatures(2, manager=manager)
        self.clock.advance(30)
        self.ok(self.authenticate(*self.request(), manager=manager))

    def test_lockoutSharedThroughCache(self):
        """
        Two API processes sharing a cache (Redis) share the count.
        """
        other = self.makeManager()
        self.failSignatures(3)
        self.failSignatures(2, manager=other)
        self.failureResultOf(self.authenticate(*self.request()), AccessKeyLocked)
        self.failureResultOf(self.authenticate(*self.request(), manager=other), AccessKeyLocked)

    def test_recordFailedSignature(self):
        """
        Failures reported by the API layer (a bad chunk signature) count.
        """
        for _ in range(4):
            self.ok(self.manager.recordFailedSignature("alice-ak", "192.0.2.7"))
        self.failSignatures(1)
        self.failureResultOf(self.authenticate(*self.request()), AccessKeyLocked)

    def test_unlock(self):
        """
        unlock lifts the locks of every address and forgets their counts
        (and the lock count: the next lock is a first one again).
        """
        self.failSignatures(5)
        self.failSignatures(5, remoteAddress="198.51.100.66")
        self.failSignatures(4, remoteAddress="203.0.113.9")
        self.ok(self.manager.unlock("alice-ak"))
        self.assertNotLocked()
        self.assertNotLocked("198.51.100.66")
        self.failSignatures(1, remoteAddress="203.0.113.9")
        self.assertNotLocked("203.0.113.9")
        self.assertLogged("alice-ak unlocked for every address")
        self.failSignatures(5)
        self.clock.advance(60)
        self.assertNotLocked()

    def test_unlockBrokenCache(self):
        manager = self.makeManager(cache=BrokenCache())
        self.ok(manager.unlock("alice-ak"))
        self.assertLogged("redis is down")

    def test_expiredDoesNotCount(self):
        for _ in range(6):
            parts, params = self.request()
            self.clock.advance(3600)
            self.failureResultOf(self.authenticate(parts, params), signer.RequestExpired)
        self.ok(self.authenticate(*self.request()))

    def test_brokenCacheFailsOpen(self):
        """
        With the cache down, authentication still works (lockouts are not
        counted) and the trouble is logged.
        """
        manager = self.makeManager(cache=BrokenCache())
        context, _ = self.ok(self.authenticate(*self.request(), manager=manager))
        self.assertEqual(context.userId, "alice")
        self.failSignatures(6, manager=manager)
        self.ok(self.authenticate(*self.request(), manager=manager))
        self.assertLogged("redis is down", "not counted")

    def test_s3(self):
        now = self.clock.seconds()
        context, verification = self.ok(
            self.manager.authenticateS3(signS3("alice-ak", "alice-sk", now),
                                        remoteAddress="192.0.2.7")
        )
        self.assertEqual((context.userId, context.projectId), ("alice", "alice"))
        self.assertEqual(verification, signer.S3Verification(accessKey="alice-ak"))
        context, _ = self.ok(
            self.manager.authenticateS3(signS3("alice-ak:proj", "alice-sk", now))
        )
        self.assertEqual(context.projectId, "proj")

    def test_s3Anonymous(self):
        parts = signer.HTTPRequestParts("GET", "127.0.0.1:3333", "/bucket/key",
                                        headers={"host": "127.0.0.1:3333"})
        self.assertEqual(self.ok(self.manager.authenticateS3(parts)), (None, None))

    def test_s3Failures(self):
        now = self.clock.seconds()
        for _ in range(5):
            failure = self.failureResultOf(
                self.manager.authenticateS3(signS3("alice-ak", "wrong-secret", now),
                                            remoteAddress="198.51.100.1"),
                signer.SignatureDoesNotMatch,
            )
        failure = self.failureResultOf(
            self.manager.authenticateS3(signS3("alice-ak", "alice-sk", now),
                                        remoteAddress="198.51.100.1"),
            AccessKeyLocked,
        )
        self.assertEqual(failure.value.s3Code, "AccessDenied")
        # From elsewhere the key works.
        self.ok(self.manager.authenticateS3(signS3("alice-ak", "alice-sk", now),
                                            remoteAddress="192.0.2.7"))
        self.assertLogged("S3 authentication failed for access key alice-ak from 198.51.100.1")
        self.failureResultOf(
            self.manager.authenticateS3(signS3("nobody", "x", now)), signer.AuthFailure
        )


class CacheTests(ManagerTestMixin, SynchronousTestCase):
    def setUp(self):
        ManagerTestMixin.setUp(self)
        self.alice = self.ok(self.manager.createUser("alice", "alice-ak", "alice-sk"))
        self.ok(self.manager.createProject("alice", "alice"))
        self.driver.calls.clear()

    def test_lookupsAreCached(self):
        for _ in range(3):
            self.ok(self.manager.getCredentials("alice-ak"))
            self.ok(self.manager.contextFor("alice", "alice"))
            self.ok(self.manager.getUsers())
        self.assertEqual(
            self.driver.calls,
            {"getUserFromAccessKey": 1, "getProject": 1, "getUserRoles": 2, "getUser": 1,
             "listUsers": 1},
        )

    def test_ttl(self):
        """
        Changes made behind the manager's back show after the TTL.
        """
        manager = self.makeManager(cacheTTL=30)
        self.ok(manager.getUserFromAccessKey("alice-ak"))
        self.ok(self.driver.modifyUser("alice", secretKey="changed"))
        self.assertEqual(self.ok(manager.getUserFromAccessKey("alice-ak")).secretKey, "alice-sk")
        self.clock.advance(30)
        self.assertEqual(self.ok(manager.getUserFromAccessKey("alice-ak")).secretKey, "changed")

    def test_noCaching(self):
        manager = self.makeManager(cacheTTL=0)
        self.ok(manager.getUserFromAccessKey("alice-ak"))
        self.ok(manager.getUserFromAccessKey("alice-ak"))
        self.assertEqual(self.driver.calls, {"getUserFromAccessKey": 2})
        self.assertEqual(self.cache.entries, {})

    def test_modifyUserInvalidates(self):
        self.ok(self.manager.getCredentials("alice-ak"))
        self.ok(self.manager.getUsers())
        self.ok(self.manager.modifyUser("alice", accessKey="new-ak", secretKey="new-sk"))
        self.failureResultOf(self.manager.getCredentials("alice-ak"), signer.AuthFailure)
        self.assertEqual(self.ok(self.manager.getCredentials("new-ak")).secretKey, "new-sk")
        self.assertEqual(self.ok(self.manager.getUsers())[0].accessKey, "new-ak")

    def test_sharedCacheInvalidatedByAnotherManager(self):
        """
        A change made by one process (nova-manage) is seen at once by
        another sharing the cache.
        """
        api = self.makeManager()
        self.ok(api.getCredentials("alice-ak"))
        self.ok(self.manager.modifyUser("alice", secretKey="rotated"))
        self.assertEqual(self.ok(api.getCredentials("alice-ak")).secretKey, "rotated")

    def test_deleteUserInvalidates(self):
        self.ok(self.manager.createUser("bob", "bob-ak"))
        self.ok(self.manager.addToProject("bob", "alice"))
        self.ok(self.manager.getCredentials("bob-ak:alice"))
        self.ok(self.manager.getUsers())
        self.ok(self.manager.deleteUser("bob"))
        self.failureResultOf(self.manager.getCredentials("bob-ak:alice"), signer.AuthFailure)
        self.assertEqual([u.name for u in self.ok(self.manager.getUsers())], ["alice"])
        self.assertEqual(self.ok(self.manager.getProject("alice")).memberIds, ("alice",))

    def test_deleteProjectInvalidates(self):
        self.ok(self.manager.createProject("proj", "alice"))
        self.ok(self.manager.getCredentials("alice-ak:proj"))
        self.ok(self.manager.deleteProject("proj"))
        self.failureResultOf(self.manager.getCredentials("alice-ak:proj"),
                             interfaces.NotProjectMember)

    def test_malformedEntryIgnored(self):
        self.ok(self.cache.set("auth:access:alice-ak@0", "{not json"))
        self.assertEqual(self.ok(self.manager.getUserFromAccessKey("alice-ak")), self.alice)
        self.assertIn("malformed", "\n".join(self.logText()))

    def test_otherProcessChangesSeenAfterRefresh(self):
        """
        A change another process makes (nova-manage, another nova-api, each
        with its own cache) bumps the change counter in the database; once
        this manager has read the counter it looks things up afresh.
        """
        here = self.makeManager(generations=self.db.generations)
        there = AuthManager(
            self.driver, MemoryCache(self.clock), self.clock, generations=self.db.generations
        )
        self.ok(here.addRole("alice", "netadmin"))
        self.assertTrue(self.ok(here.hasRole("alice", "netadmin")))
        self.ok(there.removeRole("alice", "netadmin"))
        # Until it reads the counter, the cached grant is used.
        self.assertTrue(self.ok(here.hasRole("alice", "netadmin")))
        self.assertEqual(self.ok(here.refreshGeneration()), self.ok(there.refreshGeneration()))
        self.assertFalse(self.ok(here.hasRole("alice", "netadmin")))
        # Its own changes count at once.
        self.ok(here.addRole("alice", "netadmin"))
        self.assertTrue(self.ok(here.hasRole("alice", "netadmin")))

    def test_counterFailureKeepsCache(self):
        """
        When the counter cannot be read, the cache stays in use and the
        failure is logged.
        """

        class BrokenGenerations:
            def get(self, name):
                return fail(DatabaseError("database is down"))

            def bump(self, name):
                return fail(DatabaseError("database is down"))

        manager = self.makeManager(generations=BrokenGenerations())
        self.assertEqual(self.ok(manager.refreshGeneration()), 0)
        self.ok(manager.addRole("alice", "netadmin"))
        self.assertTrue(self.ok(manager.hasRole("alice", "netadmin")))
        self.assertIn("reading the count of user, project and role changes failed", self.logText())

    def test_brokenCache(self):
        manager = self.makeManager(cache=BrokenCache())
        self.assertEqual(self.ok(manager.getUser("alice")), self.alice)
        self.ok(manager.createUser("bob"))
        self.assertIn("redis is down", "\n".join(self.logText()))


class KeyPairTests(ManagerTestMixin, SynchronousTestCase):
    def setUp(self):
        ManagerTestMixin.setUp(self)
        self.keyPairs = self.manager.keyPairs

    def test_create(self):
        created = self.ok(self.keyPairs.createKeyPair("alice", "k1"))
        self.assertIn("PRIVATE KEY", created.privateKey)
        self.assertNotIn("PRIVATE", repr(created))
        self.assertRegex(created.fingerprint, r"\A([0-9a-f]{2}:){19}[0-9a-f]{2}\Z")
        (record,) = self.ok(self.keyPairs.describeKeyPairs("alice"))
        self.assertEqual((record.name, record.fingerprint, record.key_type),
                         ("k1", created.fingerprint, "rsa"))
        self.assertTrue(record.public_key.startswith("ssh-rsa "))
        self.assertEqual(self.ok(self.keyPairs.describeKeyPairs("bob")), [])

    def test_createDuplicateDoesNotGenerate(self):
        calls = []

        def recording(function, *args):
            calls.append(function.__name__)
            return maybeDeferred(function, *args)

        keyPairs = KeyPairService(self.db.keypairs, recording)
        self.ok(keyPairs.createKeyPair("alice", "k1", keyType="ed25519"))
        failure = self.failureResultOf(keyPairs.createKeyPair("alice", "k1"), KeyPairExists)
        self.assertEqual(failure.value.ec2Code, "InvalidKeyPair.Duplicate")
        self.assertEqual(calls, ["generateKeyPair"])
        # Another user may use the same name.
        self.ok(keyPairs.createKeyPair("bob", "k1", keyType="ed25519"))

    def test_import(self):
        record = self.ok(self.keyPairs.importKeyPair("alice", "mine", PUBLIC_KEY + " me@host"))
        self.assertEqual(record.public_key, PUBLIC_KEY + " me@host")
        self.assertRegex(record.fingerprint, r"\A([0-9a-f]{2}:){15}[0-9a-f]{2}\Z")
        self.failureResultOf(
            self.keyPairs.importKeyPair("alice", "mine", PUBLIC_KEY), KeyPairExists
        )
        self.failureResultOf(
            self.keyPairs.importKeyPair("alice", "bad", "ssh-rsa notbase64"), InvalidKeyFormat
        )
        self.assertEqual([r.name for r in self.ok(self.keyPairs.describeKeyPairs("alice"))],
                         ["mine"])

    def test_names(self):
        for name in ("", "x" * 256, "tab\there", "caf\u00e9"):
            self.failureResultOf(self.keyPairs.createKeyPair("alice", name), InvalidKeyPairName)
            self.failureResultOf(
                self.keyPairs.importKeyPair("alice", name, PUBLIC_KEY), InvalidKeyPairName
            )

    def test_describeAndDelete(self):
        for name in ("b", "a"):
            self.ok(self.keyPairs.importKeyPair("alice", name, PUBLIC_KEY))
        self.assertEqual(
            [r.name for r in self.ok(self.keyPairs.describeKeyPairs("alice", ["b", "a"]))],
            ["a", "b"],
        )
        failure = self.failureResultOf(
            self.keyPairs.describeKeyPairs("alice", ["a", "zz"]), KeyPairNotFound
        )
        self.assertEqual(failure.value.ec2Code, "InvalidKeyPair.NotFound")
        self.assertTrue(self.ok(self.keyPairs.deleteKeyPair("alice", "a")))
        self.assertFalse(self.ok(self.keyPairs.deleteKeyPair("alice", "a")))
        self.assertEqual([r.name for r in self.ok(self.keyPairs.describeKeyPairs("alice"))],
                         ["b"])


class FromConfigTests(SynchronousTestCase):
    def setUp(self):
        self.clock = task.Clock()
        self.db = inlineDatabase("sqlite:", self.clock)
        self.addCleanup(self.db.transactor.close)

    def test_defaults(self):
        manager = authManagerFromConfig(configFromFlags(), self.db, self.clock)
        self.assertIsInstance(manager.driver, SQLAuthDriver)
        self.assertIsInstance(manager.cache, MemoryCache)
        self.assertIsInstance(manager.keyPairs, KeyPairService)
        self.assertEqual(
            (manager.lockoutAttempts, manager.lockoutWindow, manager.lockoutSeconds,
             manager.cacheTTL),
            (5, 900, 900, 60),
        )
        self.assertTrue(IService.providedBy(manager.service))
        [poller] = list(manager.service)
        self.assertIsInstance(poller, TimerService)
        self.assertEqual(poller.step, 1.0)
        self.assertIs(manager.generations, self.db.generations)
        manager = authManagerFromConfig(
            configFromFlags(credentials_refresh_interval=0), self.db, self.clock
        )
        self.assertEqual(list(manager.service), [])

    def test_ldapAndRedis(self):
        config = configFromFlags(
            auth_driver="nova.auth.ldapdriver.LdapDriver",
            cache_backend="redis",
            ldap_url="ldap://ldap.example.com",
            lockout_attempts=3,
            lockout_window=2.0,
            lockout_minutes=1.0,
            credentials_cache_ttl=5.0,
        )
        manager = authManagerFromConfig(config, self.db, self.clock)
        self.assertIsInstance(manager.driver, LDAPAuthDriver)
        self.assertEqual(manager.driver.settings.url, "ldap://ldap.example.com")
        self.assertIsInstance(manager.cache, RedisCache)
        self.assertEqual(
            {service for service in manager.service if not isinstance(service, TimerService)},
            {manager.driver, manager.cache},
        )
        self.assertEqual(
            (manager.lockoutAttempts, manager.lockoutWindow, manager.lockoutSeconds,
             manager.cacheTTL),
            (3, 120, 60, 5.0),
        )

    def test_dbDriverName(self):
        config = configFromFlags(auth_driver="nova.auth.dbdriver.DbDriver")
        self.assertIsInstance(authManagerFromConfig(config, self.db, self.clock).driver,
                              SQLAuthDriver)

