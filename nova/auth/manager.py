# -*- test-case-name: tests.auth.test_manager -*-
"""
L{AuthManager}: Nova's identity core over an L{IAuthDriver}.

  - Users, projects, memberships and role grants, validated and stored
    through the driver; lookups by access key, the user list, projects and
    role grants are cached in an L{ICache} for C{--credentials_cache_ttl}
    seconds and invalidated on every change made through this manager.
  - Effective roles: access and secret keys are per user, and "a user's
    actual permissions in a particular project are the INTERSECTION of his
    user-specific roles and his project-specific roles": a project role
    (C{sysadmin}, C{netadmin}, C{developer}) counts in a project only when
    the user holds it globally AND in that project.  C{cloudadmin} and
    C{itsec} are global and count everywhere; the project's manager holds
    C{projectmanager} there; C{cloudadmin} and the admin flag make a
    superuser (C{RequestContext.isAdmin}).
  - Authentication for the EC2 and S3 APIs (L{AuthManager.authenticateEC2},
    L{AuthManager.authenticateS3}): lockout check, signature verification
    with L{nova.auth.signer}, failure counting per (access key, client
    address) with a lock that doubles at each repetition, logging, and the
    request context.
  - Key pairs per user (L{KeyPairService}).

L{authManagerFromConfig} builds it all from flags for the daemons and
C{nova-manage}.
"""

import json
import re
import secrets
import uuid

import attr
from twisted.application.internet import TimerService
from twisted.application.service import MultiService
from twisted.internet.defer import fail, inlineCallbacks, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface.verify import verifyObject

from nova.auth import crypto, interfaces, signer
from nova.auth.interfaces import (
    ALLOWED_ROLES,
    GLOBAL_ROLES,
    PROJECT_MANAGER,
    PROJECT_ROLES,
    SUPERUSER_ROLES,
    IAuthDriver,
    Project,
    User,
)
from nova.cache.interfaces import CacheUnavailable
from nova.config import Flag
from nova.context import RequestContext
from nova.exception import DatabaseError, Invalid, NovaError
from nova.util.outage import outageOf
from nova.util.threads import reactorThreads

# Driver flag values, including the class paths Nova's own flagfiles name.
AUTH_DRIVERS = {
    "sql": "sql",
    "ldap": "ldap",
    "nova.auth.dbdriver.DbDriver": "sql",
    "nova.auth.ldapdriver.LdapDriver": "ldap",
}

OPTIONS = (
    Flag(
        "auth_driver",
        "str",
        "sql",
        "Where users, projects and roles live: 'sql' (Nova's database) or "
        "'ldap' (an LDAP directory: see the ldap_* flags and docs/ldap.md).  "
        "Nova's class paths nova.auth.dbdriver.DbDriver and "
        "nova.auth.ldapdriver.LdapDriver are accepted too.",
        choices=tuple(AUTH_DRIVERS),
    ),
    Flag(
        "lockout_attempts",
        "int",
        5,
        "Failed signatures with one access key from one client address "
        "(the peer, or the address a proxy in metadata_trusted_proxies names "
        "in X-Forwarded-For), within lockout_window minutes, that lock the "
        "key for requests from that address only; other addresses are not "
        "affected.",
        minimum=1,
    ),
    Flag(
        "lockout_window",
        "float",
        15.0,
        "Minutes over which failed signatures of one access key from one "
        "address are counted; the window starts with the first failure.",
        minimum=0.01,
    ),
    Flag(
        "lockout_minutes",
        "float",
        15.0,
        "The longest an access key stays locked for one address.  The first "
        "lock of an (access key, address) pair lasts 1 minute (or this, if "
        "shorter), each further lock of the pair twice as long as the one "
        "before, up to this; the count of locks is forgotten after a day "
        "without a lock.  Requests with the key from that address are "
        "refused meanwhile.",
        minimum=0.01,
    ),
    Flag(
        "credentials_cache_ttl",
        "float",
        60.0,
        "Seconds that users (by access key and by name), the user list, "
        "projects and role grants stay in the cache; 0 disables caching.  "
        "Changes made through Nova (nova-manage, the admin API) reach every "
        "process within --credentials_refresh_interval; this bounds how "
        "long changes made directly in the database or directory take to "
        "be seen.",
        minimum=0.0,
    ),
    Flag(
        "credentials_refresh_interval",
        "float",
        1.0,
        "Seconds between each process's checks of the database's count of "
        "user, project, membership and role changes; when another process "
        "(nova-manage, another nova-api) changed any, the cached ones are no "
        "longer used.  0 disables the checks.",
        minimum=0.0,
    ),
)

#: The name of the counter of changes to users, projects and roles in the
#: generations table (L{nova.db.generations}).
AUTH_GENERATION = "auth"


class AccessKeyLocked(signer.AuthFailure):
    """
    Too many failed authentications.
    """

    code = "AccessKeyLocked"
    ec2Code = "AuthFailure"
    httpStatus = 403
    s3Code = "AccessDenied"
    s3Status = 403


class InvalidKeyPairName(Invalid):
    """The key pair name is not allowed."""

    code = "InvalidKeyPairName"


_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._@-]{0,254}\Z")
_ACCESS_KEY = re.compile(r"\A[^\s:]{1,255}\Z")
_SECRET_KEY = re.compile(r"\A\S{1,255}\Z")
_KEY_PAIR_NAME = re.compile(r"\A[\x20-\x7e]{1,255}\Z")


def checkName(kind, name):
    """
    User and project names: a letter or digit, then letters, digits and
    C{. _ @ -}, at most 255 characters (they appear in DNs, file names
    and C{access:project} keys).

    @raise interfaces.InvalidName: otherwise.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise interfaces.InvalidName(
            f"invalid {kind} name {name!r}: use letters, digits and . _ @ -, "
            "starting with a letter or digit"
        )


def _checkKeys(accessKey, secretKey):
    if accessKey is not None and not _ACCESS_KEY.match(accessKey):
        raise Invalid("an access key is 1-255 characters without spaces or ':'")
    if secretKey is not None and not _SECRET_KEY.match(secretKey):
        raise Invalid("a secret key is 1-255 characters without spaces")


def newAccessKey():
    """
    @return: a new access key: a UUID, as Nova makes them.
    """
    return str(uuid.uuid4())


def newSecretKey():
    """
    @return: a new secret key: 40 random URL-safe characters (240 bits).
    """
    return secrets.token_urlsafe(30)


def _name(thing):
    """
    @return: the name of a L{User} or L{Project}, or C{thing} itself.
    """
    return getattr(thing, "name", thing)


@attr.s(frozen=True)
class Credentials:
    """
    What an access key stands for.

    @ivar user: the L{User}.
    @ivar project: the L{Project} the request acts in.
    @ivar secretKey: the user's secret key, which signs its requests.
    """

    user = attr.ib()
    project = attr.ib()
    secretKey = attr.ib(repr=False)


# Cache keys.


def _accessKey(access):
    return "auth:access:" + access


def _userKey(name):
    return "auth:user:" + name


_USERS_KEY = "auth:users"


def _projectKey(name):
    return "auth:project:" + name


def _rolesKey(userName, projectName=None):
    if projectName is None:
        return "auth:roles:" + userName
    return f"auth:roles:{userName}:{projectName}"


def _epochKey(access):
    return "auth:lockepoch:" + access


def _pair(access, epoch, remoteAddress):
    return f"{access}@{epoch or '0'}@{remoteAddress or 'unknown'}"


def _failuresKey(pair):
    return "auth:failures:" + pair


def _lockoutKey(pair):
    return "auth:lockout:" + pair


#: Seconds the first lock of an (access key, address) pair lasts; each
#: further lock of the pair lasts twice the one before, up to
#: C{--lockout_minutes}.
FIRST_LOCKOUT_SECONDS = 60.0

#: Seconds after its last lock ended that a pair's lock count is
#: remembered (at least; see L{AuthManager._memorySeconds}).
LOCKOUT_MEMORY_SECONDS = 24 * 3600.0


class AuthManager:
    """
    @ivar driver: the L{IAuthDriver}.
    @ivar cache: the L{nova.cache.interfaces.ICache}.
    @ivar keyPairs: a L{KeyPairService}, or L{None}.
    @ivar service: an L{IService} to start before use and stop after (the
        driver's and the cache's connections), as L{authManagerFromConfig}
        builds it; an empty L{MultiService} otherwise.
    """

    log = Logger()

    def __init__(
        self,
        driver,
        cache,
        clock,
        keyPairs=None,
        lockoutAttempts=5,
        lockoutWindow=15 * 60,
        lockoutSeconds=15 * 60,
        firstLockoutSeconds=FIRST_LOCKOUT_SECONDS,
        cacheTTL=60,
        maxSkew=900,
        service=None,
        generations=None,
    ):
        """
        @param clock: an L{IReactorTime}: the time signatures are checked at.
        @param lockoutAttempts: failed signatures of one access key from
            one address, within C{lockoutWindow}, that lock the key for
            requests from that address.
        @param lockoutWindow: seconds over which failures are counted.
        @param lockoutSeconds: the longest a lock lasts.
        @param firstLockoutSeconds: how long the first lock of an (access
            key, address) pair lasts (at most C{lockoutSeconds}); each
            further lock of the pair lasts twice the one before.
        @param cacheTTL: seconds lookups stay cached (0: no caching).
        @param maxSkew: seconds a signed request's time may be off.
        @param generations: a L{nova.db.generations.GenerationStore}, or
            L{None}.  With one, every change bumps the C{auth} counter and
            cache keys carry the counter's value, so that a change made by
            another process is seen once L{refreshGeneration} read it.
        """
        self.driver = driver
        self.cache = cache
        self.clock = clock
        self.keyPairs = keyPairs
        self.lockoutAttempts = lockoutAttempts
        self.lockoutWindow = lockoutWindow
        self.lockoutSeconds = lockoutSeconds
        self.firstLockoutSeconds = min(firstLockoutSeconds, lockoutSeconds)
        self.cacheTTL = cacheTTL
        self.maxSkew = maxSkew
        self.service = service if service is not None else MultiService()
        self.generations = generations
        self.generation = 0

    # The cache.  Its failures are logged and otherwise ignored: lookups fall
    # back to the driver.

    def _cacheFailed(self, failure, operation, key):
        failure.trap(CacheUnavailable)
        self.log.warn(
            "Cache {operation} of {key} failed: {error}",
            operation=operation,
            key=key,
            error=failure.getErrorMessage(),
        )
        return None

    def _versioned(self, key):
        return f"{key}@{self.generation}"

    def _cacheGet(self, key):
        if self.cacheTTL <= 0:
            return succeed(None)
        key = self._versioned(key)
        return self.cache.get(key).addErrback(self._cacheFailed, "get", key)

    def _cacheSet(self, key, value):
        if self.cacheTTL <= 0:
            return succeed(None)
        key = self._versioned(key)
        return self.cache.set(key, value, ttl=self.cacheTTL).addErrback(
            self._cacheFailed, "set", key
        )

    @inlineCallbacks
    def _invalidate(self, *keys):
        """
        Something changed: bump the change counter (so that every process
        stops using what it cached), and drop C{keys} from the cache.
        """
        if self.generations is not None:
            try:
                generation = yield self.generations.bump(AUTH_GENERATION)
            except DatabaseError:
                self.log.failure("counting a change of users, projects or roles failed")
            else:
                self.generation = max(self.generation, generation)
        versioned = [self._versioned(key) for key in keys]
        yield self.cache.delete(*versioned).addErrback(
            self._cacheFailed, "delete", ",".join(versioned)
        )

    @inlineCallbacks
    def refreshGeneration(self):
        """
        Read the change counter: what another process changed since the
        last read is looked up afresh from now on.  Database failures are
        logged (the cache then stays in use).

        @return: L{Deferred} firing with the counter's value.
        """
        if self.generations is None:
            return self.generation
        try:
            generation = yield self.generations.get(AUTH_GENERATION)
        except DatabaseError:
            self.log.failure("reading the count of user, project and role changes failed")
        else:
            self.generation = max(self.generation, generation)
        return self.generation

    @inlineCallbacks
    def _cached(self, key, load, encode, decode):
        text = yield self._cacheGet(key)
        if text is not None:
            try:
                return decode(json.loads(text))
            except (ValueError, KeyError, TypeError):
                self.log.warn("Ignoring a malformed cache entry {key}", key=key)
        value = yield load()
        yield self._cacheSet(key, json.dumps(encode(value)))
        return value

    # Users

    def getUser(self, name):
        """
        @return: L{Deferred} firing with the L{User}; failing with
            L{interfaces.UserNotFound}.
        """
        return self._cached(
            _userKey(name), lambda: self.driver.getUser(name), User.toDict, User.fromDict
        )

    def getUserFromAccessKey(self, accessKey):
        """
        @param accessKey: the access key alone (no C{:project}).
        @return: L{Deferred} firing with the L{User}; failing with
            L{interfaces.UserNotFound}.
        """
        return self._cached(
            _accessKey(accessKey),
            lambda: self.driver.getUserFromAccessKey(accessKey),
            User.toDict,
            User.fromDict,
        )

    def getUsers(self):
        """
        @return: L{Deferred} firing with every L{User}, by name.
        """
        return self._cached(
            _USERS_KEY,
            self.driver.listUsers,
            lambda users: [u.toDict() for u in users],
            lambda data: [User.fromDict(d) for d in data],
        )

    @inlineCallbacks
    def createUser(self, name, accessKey=None, secretKey=None, admin=False):
        """
        Create a user.  The access key defaults to a new UUID, the secret
        key to a new random key.

        @return: L{Deferred} firing with the new L{User}; failing with
            L{interfaces.InvalidName}, L{interfaces.UserExists},
            L{interfaces.AccessKeyExists} or L{Invalid} (a malformed key).
        """
        checkName("user", name)
        _checkKeys(accessKey, secretKey)
        user = yield self.driver.createUser(
            name, accessKey or newAccessKey(), secretKey or newSecretKey(), bool(admin)
        )
        yield self._invalidate(_USERS_KEY, _userKey(name), _accessKey(user.accessKey))
        return user

    @inlineCallbacks
    def modifyUser(self, name, accessKey=None, secretKey=None, admin=None):
        """
        Change a user's keys or admin flag (L{None} leaves one alone).

        @return: L{Deferred} firing with the updated L{User}.
        """
        _checkKeys(accessKey, secretKey)
        old = yield self.driver.getUser(name)
        user = yield self.driver.modifyUser(name, accessKey, secretKey, admin)
        yield self._invalidate(
            _USERS_KEY, _userKey(name), _accessKey(old.accessKey), _accessKey(user.accessKey)
        )
        return user

    @inlineCallbacks
    def deleteUser(self, name):
        """
        Delete a user: it leaves its projects and loses its roles and key
        pairs.

        @return: L{Deferred} firing with L{None}; failing with
            L{interfaces.UserNotFound}, or L{interfaces.ProjectManagerRequired}
            while it manages a project.
        """
        user = yield self.driver.getUser(name)
        projects = yield self.driver.listProjects(name)
        yield self.driver.deleteUser(name)
        if self.keyPairs is not None:
            yield self.keyPairs.store.deleteAllForUser(name)
        keys = [_USERS_KEY, _userKey(name), _accessKey(user.accessKey), _rolesKey(name)]
        for project in projects:
            keys += [_projectKey(project.name), _rolesKey(name, project.name)]
        yield self._invalidate(*keys)

    # Projects

    def getProject(self, name):
        """
        @return: L{Deferred} firing with the L{Project}; failing with
            L{interfaces.ProjectNotFound}.
        """
        return self._cached(
            _projectKey(name),
            lambda: self.driver.getProject(name),
            Project.toDict,
            Project.fromDict,
        )

    def getProjects(self, user=None):
        """
        @return: L{Deferred} firing with every L{Project} by name, or those
            C{user} is a member of.
        """
        return self.driver.listProjects(None if user is None else _name(user))

    def createProject(self, name, manager, description=None, members=()):
        """
        Create a project; its manager and C{members} are its members.  The
        description defaults to the name.

        @return: L{Deferred} firing with the new L{Project}; failing with
            L{interfaces.InvalidName}, L{interfaces.ProjectExists} or
            L{interfaces.UserNotFound}.
        """
        try:
            checkName("project", name)
        except NovaError as e:
            return fail(e)
        d = self.driver.createProject(
            name,
            _name(manager),
            name if description is None else description,
            [_name(m) for m in members],
        )

        def created(project):
            return self._invalidate(_projectKey(name)).addCallback(lambda _: project)

        return d.addCallback(created)

    @inlineCallbacks
    def modifyProject(self, name, manager=None, description=None):
        """
        Change the manager (who becomes a member) or the description.

        @return: L{Deferred} firing with the updated L{Project}.
        """
        project = yield self.driver.modifyProject(
            name, None if manager is None else _name(manager), description
        )
        yield self._invalidate(_projectKey(name))
        return project

    @inlineCallbacks
    def deleteProject(self, name):
        """
        Delete a project and its role grants.

        @return: L{Deferred} firing with L{None}; failing with
            L{interfaces.ProjectNotFound}.
        """
        project = yield self.driver.getProject(name)
        yield self.driver.deleteProject(name)
        yield self._invalidate(
            _projectKey(name), *[_rolesKey(member, name) for member in project.memberIds]
        )

    @inlineCallbacks
    def addToProject(self, user, project):
        """
        @return: L{Deferred} firing with L{None}; failing with
            L{interfaces.AlreadyMember}, L{interfaces.UserNotFound} or
            L{interfaces.ProjectNotFound}.
        """
        userName, projectName = _name(user), _name(project)
        yield self.driver.addToProject(userName, projectName)
        yield self._invalidate(_projectKey(projectName), _rolesKey(userName, projectName))

    @inlineCallbacks
    def removeFromProject(self, user, project):
        """
        Remove a member, with the roles it holds in the project.

        @return: L{Deferred} firing with L{None}; failing with
            L{interfaces.MembershipNotFound} or
            L{interfaces.ProjectManagerRequired}.
        """
        userName, projectName = _name(user), _name(project)
        yield self.driver.removeFromProject(userName, projectName)
        yield self._invalidate(_projectKey(projectName), _rolesKey(userName, projectName))

    @inlineCallbacks
    def isProjectMember(self, user, project):
        """
        @return: L{Deferred} firing with L{True} if C{user} is a member.
        """
        project = yield self.getProject(_name(project))
        return _name(user) in project.memberIds

    @inlineCallbacks
    def isProjectManager(self, user, project):
        """
        @return: L{Deferred} firing with L{True} if C{user} manages it.
        """
        project = yield self.getProject(_name(project))
        return project.managerId == _name(user)

    # Roles

    def _checkGrant(self, role, projectName):
        if role == PROJECT_MANAGER:
            raise interfaces.InvalidRole(
                "projectmanager is not granted: the project's manager holds it "
                "(nova-manage project modify)"
            )
        if role not in ALLOWED_ROLES:
            raise interfaces.InvalidRole(
                f"no role {role!r}; roles are {', '.join(ALLOWED_ROLES)}"
            )
        if projectName is not None and role in GLOBAL_ROLES:
            raise interfaces.InvalidRole(f"the {role} role is global only")

    @inlineCallbacks
    def addRole(self, user, role, project=None):
        """
        Grant a role globally, or in a project (of which the user must be a
        member).

        @return: L{Deferred} firing with L{None}; failing with
            L{interfaces.InvalidRole} (unknown, C{projectmanager}, or a
            global role given a project), L{interfaces.MembershipNotFound}...
        """
        userName = _name(user)
        projectName = None if project is None else _name(project)
        self._checkGrant(role, projectName)
        yield self.driver.addRole(userName, role, projectName)
        yield self._invalidate(_rolesKey(userName, projectName))

    @inlineCallbacks
    def removeRole(self, user, role, project=None):
        """
        Revoke a role globally or in a project.

        @return: L{Deferred} firing with L{None}.
        """
        userName = _name(user)
        projectName = None if project is None else _name(project)
        self._checkGrant(role, projectName)
        yield self.driver.removeRole(userName, role, projectName)
        yield self._invalidate(_rolesKey(userName, projectName))

    def getUserRoles(self, user, project=None):
        """
        @return: L{Deferred} firing with the roles granted to C{user}
            globally, or in C{project}, as stored (not the effective ones:
            see L{getActiveRoles}).
        """
        userName = _name(user)
        projectName = None if project is None else _name(project)
        return self._cached(
            _rolesKey(userName, projectName),
            lambda: self.driver.getUserRoles(userName, projectName),
            list,
            list,
        )

    @inlineCallbacks
    def getActiveRoles(self, user, project=None):
        """
        The roles that count for C{user} in C{project}: global roles of
        L{GLOBAL_ROLES}; the L{PROJECT_ROLES} held both globally and in the
        project; C{projectmanager} for the project's manager.  Without a
        project: the global roles of L{GLOBAL_ROLES} held.

        @return: L{Deferred} firing with a sorted L{list}.
        """
        userName = _name(user)
        globalRoles = set((yield self.getUserRoles(userName)))
        active = {role for role in GLOBAL_ROLES if role in globalRoles}
        if project is not None:
            project = yield self.getProject(_name(project))
            projectRoles = set((yield self.getUserRoles(userName, project.name)))
            active |= {r for r in PROJECT_ROLES if r in globalRoles and r in projectRoles}
            if project.managerId == userName:
                active.add(PROJECT_MANAGER)
        return sorted(active)

    @inlineCallbacks
    def hasRole(self, user, role, project=None):
        """
        Does C{role} count for C{user} (in C{project})?  See
        L{getActiveRoles}; without a project, a project role counts when
        held globally.

        @return: L{Deferred} firing with L{True} or L{False}.
        """
        if role == PROJECT_MANAGER:
            if project is None:
                return False
            return (yield self.isProjectManager(user, project))
        if role not in ALLOWED_ROLES:
            raise interfaces.InvalidRole(f"no role {role!r}")
        globalRoles = yield self.getUserRoles(user)
        if role not in globalRoles:
            return False
        if project is None or role in GLOBAL_ROLES:
            return True
        return role in (yield self.getUserRoles(user, project))

    @inlineCallbacks
    def isSuperuser(self, user):
        """
        @return: L{Deferred} firing with L{True} for a user with the admin
            flag or a superuser role (C{cloudadmin}).
        """
        if not isinstance(user, User):
            user = yield self.getUser(user)
        if user.isAdmin:
            return True
        globalRoles = yield self.getUserRoles(user.name)
        return any(role in globalRoles for role in SUPERUSER_ROLES)

    # Contexts and credentials

    @inlineCallbacks
    def _projectFor(self, user, projectName):
        """
        @return: the L{Project} C{user} may act in, and whether the user is
            a superuser.
        @raise interfaces.NotProjectMember: if it may not (or the project
            does not exist).
        """
        superuser = yield self.isSuperuser(user)
        try:
            project = yield self.getProject(projectName)
        except interfaces.ProjectNotFound:
            raise interfaces.NotProjectMember(
                f"User {user.name} may not act in project {projectName}: no such project."
            )
        if not superuser and user.name not in project.memberIds:
            raise interfaces.NotProjectMember(
                f"User {user.name} is not a member of project {projectName}."
            )
        return project, superuser

    @inlineCallbacks
    def contextFor(self, user, project, requestId=None, remoteAddress=None):
        """
        The request context of C{user} acting in C{project}.

        @param user: a L{User} or a user name.
        @param project: a L{Project} or a project name.
        @return: L{Deferred} firing with a L{RequestContext} holding the
            active roles (L{getActiveRoles}) and C{isAdmin} for superusers;
            failing with L{interfaces.UserNotFound} or
            L{interfaces.NotProjectMember} (superusers may act in any
            existing project).
        """
        if not isinstance(user, User):
            user = yield self.getUser(user)
        project, superuser = yield self._projectFor(user, _name(project))
        return (yield self._context(user, project, superuser, requestId, remoteAddress))

    @inlineCallbacks
    def _context(self, user, project, superuser, requestId, remoteAddress):
        roles = yield self.getActiveRoles(user, project)
        fields = {
            "userId": user.name,
            "projectId": project.name,
            "roles": roles,
            "isAdmin": superuser,
            "remoteAddress": remoteAddress,
        }
        if requestId is not None:
            fields["requestId"] = requestId
        return RequestContext(**fields)

    @inlineCallbacks
    def getCredentials(self, accessKey):
        """
        Look up what an access key, as clients send it, stands for.

        @param accessKey: C{access} or C{access:project}; without a project
            the project is the one named like the user, as in Nova.
        @return: L{Deferred} firing with L{Credentials}; failing with
            L{signer.AuthFailure} for an unknown access key or
            L{interfaces.NotProjectMember} when the user may not act in the
            project.
        """
        access, projectName = signer.splitAccessKey(accessKey)
        user = yield self._userForAccessKey(access)
        project, _ = yield self._projectFor(user, projectName or user.name)
        return Credentials(user=user, project=project, secretKey=user.secretKey)

    @inlineCallbacks
    def _userForAccessKey(self, access):
        try:
            return (yield self.getUserFromAccessKey(access))
        except interfaces.UserNotFound:
            raise signer.AuthFailure(
                "AWS was not able to validate the provided access credentials."
            )

    # Authentication and lockout
    #
    # Failed signatures are counted per (access key, client address) pair:
    # anyone who has seen an access key (it is in every presigned URL) can
    # send requests signed with a wrong secret, and must lock out only
    # himself.  A pair is locked after lockoutAttempts failures within
    # lockoutWindow, first for firstLockoutSeconds, then twice as long at
    # each further lock, up to lockoutSeconds; the count of locks is
    # forgotten once the pair has not been locked for a day.  In the
    # cache: "auth:failures:<pair>", a counter expiring with the window,
    # and "auth:lockout:<pair>", a JSON record {"locks", "until",
    # "released"}.  The pair's name carries the access key's unlock epoch
    # ("auth:lockepoch:<access>"), which unlock() changes: every address
    # of the key is then free and its counts start afresh.

    def _memorySeconds(self):
        return max(LOCKOUT_MEMORY_SECONDS, self.lockoutSeconds + self.lockoutWindow)

    @inlineCallbacks
    def _lockPair(self, access, remoteAddress):
        epoch = yield self.cache.get(_epochKey(access))
        return _pair(access, epoch, remoteAddress)

    @inlineCallbacks
    def _isLocked(self, access, remoteAddress=None):
        """
        @return: L{Deferred} firing with whether C{access} is locked for
            requests from C{remoteAddress}.  The first check after a lock
            ended logs its release.  Cache failures are logged and the
            check skipped.
        """
        try:
            key = _lockoutKey((yield self._lockPair(access, remoteAddress)))
            text = yield self.cache.get(key)
            if text is None:
                return False
            record = json.loads(text)
            if self.clock.seconds() < record["until"]:
                return True
            if not record.get("released"):
                record["released"] = True
                yield self.cache.set(key, json.dumps(record), ttl=self._memorySeconds())
                self.log.info(
                    "Lockout of access key {accessKey} for requests from "
                    "{remoteAddress} ended (lock {locks})",
                    accessKey=access,
                    remoteAddress=remoteAddress,
                    locks=record.get("locks", 1),
                )
            return False
        except CacheUnavailable as e:
            self.log.warn(
                "Lockout check of access key {accessKey} skipped: {error}",
                accessKey=access,
                error=str(e),
            )
            return False
        except (ValueError, KeyError, TypeError):
            self.log.warn("Ignoring a malformed lockout record of {accessKey}", accessKey=access)
            return False

    @inlineCallbacks
    def recordFailedSignature(self, access, remoteAddress=None):
        """
        Count a failed signature of C{access} (the access key alone,
        without C{:project}) from C{remoteAddress}; lock the key for
        requests from that address when there are C{lockoutAttempts}
        within C{lockoutWindow} (the first lock of the pair lasts
        C{firstLockoutSeconds}, each further one twice as long as the one
        before, at most C{lockoutSeconds}).  Requests from other addresses
        are not affected.  The authenticate methods call it; the S3 layer
        may also call it when a chunk of a streamed body fails its
        signature (L{signer.InvalidChunk}).

        @return: L{Deferred} firing with L{None} (cache failures are logged,
            not raised).
        """
        try:
            pair = yield self._lockPair(access, remoteAddress)
            count = yield self.cache.increment(_failuresKey(pair), self.lockoutWindow)
            if count < self.lockoutAttempts:
                return
            locks = 1
            text = yield self.cache.get(_lockoutKey(pair))
            if text is not None:
                try:
                    locks = int(json.loads(text)["locks"]) + 1
                except (ValueError, KeyError, TypeError):
                    pass
            seconds = min(
                self.firstLockoutSeconds * 2 ** min(locks - 1, 62), self.lockoutSeconds
            )
            record = {"locks": locks, "until": self.clock.seconds() + seconds, "released": False}
            yield self.cache.set(
                _lockoutKey(pair), json.dumps(record), ttl=seconds + self._memorySeconds()
            )
            yield self.cache.delete(_failuresKey(pair))
            self.log.warn(
                "Access key {accessKey} locked for requests from {remoteAddress} "
                "for {minutes:g} minutes after {attempts} failed authentications "
                "(lock {locks} of this address)",
                accessKey=access,
                minutes=seconds / 60,
                attempts=count,
                remoteAddress=remoteAddress,
                locks=locks,
            )
        except CacheUnavailable as e:
            self.log.warn(
                "Failed authentication of access key {accessKey} not counted: {error}",
                accessKey=access,
                error=str(e),
            )

    def _logFailure(self, api, access, remoteAddress, error):
        self.log.warn(
            "{api} authentication failed for access key {accessKey} from "
            "{remoteAddress}: {code}: {reason}",
            api=api,
            accessKey=access,
            remoteAddress=remoteAddress,
            code=getattr(error, "code", type(error).__name__),
            reason=str(error),
        )

    @inlineCallbacks
    def _authenticate(self, api, accessKey, verify, remoteAddress, requestId):
        access = None
        try:
            access, projectName = signer.splitAccessKey(accessKey)
            if (yield self._isLocked(access, remoteAddress)):
                raise AccessKeyLocked("Too many failed authentications.")
            user = yield self._userForAccessKey(access)
            try:
                verification = verify(user.secretKey)
            except signer.SignatureDoesNotMatch:
                yield self.recordFailedSignature(access, remoteAddress)
                raise
            project, superuser = yield self._projectFor(user, projectName or user.name)
            context = yield self._context(user, project, superuser, requestId, remoteAddress)
        except NovaError as e:
            if outageOf(e) is None:
                # An unreachable database is logged once per outage by
                # the API's error mapper, not once per request here.
                self._logFailure(
                    api, access if access is not None else accessKey, remoteAddress, e
                )
            raise
        return context, verification

    def authenticateEC2(
        self, parts, params, remoteAddress=None, requestId=None, weakSignatures=False
    ):
        """
        Authenticate an EC2 Query API request.

        @param parts: the request's L{signer.HTTPRequestParts}.
        @param params: the decoded parameters the API will act on.
        @param remoteAddress: the client's address, for the lockout, logs
            and context.
        @param weakSignatures: whether signature versions 0 and 1 are
            accepted (see L{signer.verifyEC2}).
        @return: L{Deferred} firing with C{(RequestContext, None)}; failing
            with L{AccessKeyLocked} (a key locked for requests from
            C{remoteAddress}: EC2 code C{AuthFailure}, HTTP 403, "Too many
            failed authentications."),
            L{signer.AuthFailure} (unknown or missing key),
            L{signer.SignatureDoesNotMatch} (counted towards the lockout),
            L{signer.RequestExpired}, L{signer.MissingAuthParameter} or
            L{interfaces.NotProjectMember}.  Every failure is logged with
            the access key and the remote address.
        """
        try:
            accessKey = signer.ec2AccessKey(parts, params)
        except NovaError as e:
            self._logFailure("EC2", None, remoteAddress, e)
            return fail(e)

        def verify(secretKey):
            signer.verifyEC2(
                parts, params, secretKey, self.clock.seconds(), self.maxSkew,
                weakSignatures=weakSignatures,
            )

        return self._authenticate("EC2", accessKey, verify, remoteAddress, requestId)

    def authenticateS3(self, parts, remoteAddress=None, requestId=None, **verifyOptions):
        """
        Authenticate an S3 request.

        @param verifyOptions: passed to L{signer.verifyS3} (C{virtualBucket},
            C{maxChunkSize}).
        @return: L{Deferred} firing with C{(RequestContext,
            S3Verification)}, or C{(None, None)} for an anonymous request;
            failing as L{authenticateEC2} does.
        """
        try:
            accessKey = signer.s3AccessKey(parts)
        except NovaError as e:
            self._logFailure("S3", None, remoteAddress, e)
            return fail(e)
        if accessKey is None:
            return succeed((None, None))

        def verify(secretKey):
            return signer.verifyS3(
                parts, secretKey, self.clock.seconds(), maxSkew=self.maxSkew, **verifyOptions
            )

        return self._authenticate("S3", accessKey, verify, remoteAddress, requestId)

    @inlineCallbacks
    def unlock(self, accessKey):
        """
        Lift the lockouts of an access key from every address and forget
        its counted failures (an operator's action): its unlock epoch
        changes, so the cache entries of every address are no longer
        read.

        @param accessKey: the access key (a C{:project} suffix is ignored).
        @return: L{Deferred} firing with L{None}; cache failures are logged.
        """
        access, _ = signer.splitAccessKey(accessKey)
        key = _epochKey(access)
        try:
            yield self.cache.set(key, uuid.uuid4().hex, ttl=self._memorySeconds())
        except CacheUnavailable as e:
            self._cacheFailed(Failure(e), "set", key)
        else:
            self.log.info("Access key {accessKey} unlocked for every address", accessKey=access)


@attr.s(frozen=True)
class CreatedKeyPair:
    """
    A key pair made by L{KeyPairService.createKeyPair}: the only time the
    private key is seen.
    """

    name = attr.ib()
    fingerprint = attr.ib()
    privateKey = attr.ib(repr=False)
    keyType = attr.ib()


def _checkKeyPairName(name):
    if not isinstance(name, str) or not _KEY_PAIR_NAME.match(name):
        raise InvalidKeyPairName(
            f"invalid key pair name {name!r}: 1-255 printable ASCII characters"
        )


class KeyPairService:
    """
    The EC2 key pair operations of a user: create (the private key is
    returned once and not kept), import, describe, delete.

    @ivar store: the L{nova.db.keypairs.KeyPairStore}.
    """

    def __init__(self, store, runInThread):
        """
        @param runInThread: C{f(function, *args)} returning a L{Deferred} of
            C{function(*args)} run in a thread (key generation is slow).
        """
        self.store = store
        self.runInThread = runInThread

    @inlineCallbacks
    def createKeyPair(self, userId, name, keyType="rsa", bits=2048):
        """
        @return: L{Deferred} firing with a L{CreatedKeyPair}; failing with
            L{nova.db.keypairs.KeyPairExists} or L{InvalidKeyPairName}.
        """
        from nova.db.keypairs import KeyPairExists, KeyPairNotFound

        _checkKeyPairName(name)
        try:
            yield self.store.get(userId, name)
        except KeyPairNotFound:
            pass
        else:
            raise KeyPairExists(f"The keypair '{name}' already exists.")
        material = yield self.runInThread(crypto.generateKeyPair, bits, keyType)
        yield self.store.create(userId, name, material.fingerprint, material.publicKey, keyType)
        return CreatedKeyPair(name, material.fingerprint, material.privateKey, keyType)

    @inlineCallbacks
    def importKeyPair(self, userId, name, publicKey):
        """
        @param publicKey: the key as the user sent it (OpenSSH, PEM, RFC
            4716...).
        @return: L{Deferred} firing with the new
            L{nova.db.keypairs.KeyPairRecord}; failing with
            L{crypto.InvalidKeyFormat}, L{nova.db.keypairs.KeyPairExists} or
            L{InvalidKeyPairName}.
        """
        _checkKeyPairName(name)
        imported = yield self.runInThread(crypto.importPublicKey, publicKey)
        record = yield self.store.create(
            userId, name, imported.fingerprint, imported.publicKey, imported.keyType
        )
        return record

    @inlineCallbacks
    def describeKeyPairs(self, userId, names=None):
        """
        @param names: the names asked for, or L{None} for all.
        @return: L{Deferred} firing with the user's key pairs by name;
            failing with L{nova.db.keypairs.KeyPairNotFound} if a name asked
            for does not exist (as EC2 does).
        """
        from nova.db.keypairs import KeyPairNotFound

        records = yield self.store.list(userId)
        if names is None:
            return records
        byName = {record.name: record for record in records}
        missing = [name for name in names if name not in byName]
        if missing:
            raise KeyPairNotFound(f"The key pair '{missing[0]}' does not exist")
        return [byName[name] for name in sorted(set(names))]

    @inlineCallbacks
    def deleteKeyPair(self, userId, name):
        """
        Delete a key pair; deleting one that does not exist succeeds, as in
        EC2.

        @return: L{Deferred} firing with L{True} if one was deleted.
        """
        from nova.db.keypairs import KeyPairNotFound

        try:
            yield self.store.delete(userId, name)
        except KeyPairNotFound:
            return False
        return True


def authManagerFromConfig(config, db, reactor):
    """
    Build the L{AuthManager} the flags describe: its driver
    (C{--auth_driver}), its cache (C{--cache_backend}), its key pairs and
    lockout settings.

    @param config: the L{nova.config.Config}.
    @param db: the L{nova.db.api.NovaDatabase} (the SQL driver's tables and
        the key pairs).
    @param reactor: the reactor (clock, threads, connections).
    @return: the L{AuthManager}.  Its C{service} attribute is an
        L{IService} holding what needs starting (the LDAP driver's thread
        pool, the Redis connection): a daemon gives it a parent
        (C{manager.service.setServiceParent(top)}); a tool starts it and
        stops it when done.
    """
    from nova.cache.memory import MemoryCache
    from nova.cache.redis import RedisCache

    parent = MultiService()
    if AUTH_DRIVERS[config.auth_driver] == "ldap":
        from nova.auth.ldapdriver import LDAPAuthDriver

        driver = LDAPAuthDriver.fromConfig(config, reactor)
        driver.setServiceParent(parent)
    else:
        from nova.auth.sql import SQLAuthDriver

        driver = SQLAuthDriver(db)
    verifyObject(IAuthDriver, driver)
    if config.cache_backend == "redis":
        cache = RedisCache.fromConfig(config, reactor)
        cache.setServiceParent(parent)
    else:
        cache = MemoryCache(reactor)

    runInThread = reactorThreads(reactor)

    manager = AuthManager(
        driver,
        cache,
        reactor,
        keyPairs=KeyPairService(db.keypairs, runInThread),
        lockoutAttempts=config.lockout_attempts,
        lockoutWindow=config.lockout_window * 60,
        lockoutSeconds=config.lockout_minutes * 60,
        cacheTTL=config.credentials_cache_ttl,
        service=parent,
        generations=db.generations,
    )
    if config.credentials_refresh_interval > 0:
        poller = TimerService(config.credentials_refresh_interval, manager.refreshGeneration)
        poller.clock = reactor
        poller.setServiceParent(parent)
    return manager
