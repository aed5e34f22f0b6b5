# -*- test-case-name: tests.auth.test_drivers -*-
"""
L{LDAPAuthDriver}: users, projects and roles in an LDAP directory, through
ldap3, with the schema in C{etc/ldap/nova.schema}.  See C{docs/ldap.md}.

Layout (every DN is a flag; the defaults shown for C{--ldap_suffix}
C{dc=example,dc=com}):

  - a user is C{uid=<name>,ou=Users,dc=example,dc=com}: an C{inetOrgPerson}
    with the auxiliary class C{novaUser} (C{accessKey}, C{secretKey},
    C{isNovaAdmin});
  - a project is C{cn=<name>,ou=Projects,dc=example,dc=com}: a
    C{novaProject} (a C{groupOfNames} whose C{member}s are the project's
    members) with C{projectManager} (the manager's DN) and C{description};
  - a role in a project is C{cn=<role>,cn=<project>,<role_project_subtree>}
    (by default below the project's own entry), a C{groupOfNames};
  - a global role is the C{groupOfNames} its flag names
    (C{--ldap_sysadmin=cn=sysadmins,ou=Groups,dc=example,dc=com}, ...).

Role groups are made when their first member is added and deleted with
their last (C{member} is mandatory in a C{groupOfNames}).

Every ldap3 call runs in this driver's own small thread pool, one
connection per thread; the driver is a L{Service} that owns the pool.
"""

import math
import re
import threading

import attr
import ldap3
from ldap3.core import exceptions as ldapErrors
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn, parse_dn
from twisted.application.service import Service
from twisted.internet.defer import fail
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from nova.auth import interfaces
from nova.auth.interfaces import IAuthDriver, Project, User
from nova.config import Computed, Flag


def _underSuffix(template, description):
    return Computed(lambda values: template % (values["ldap_suffix"],), description)


OPTIONS = (
    Flag("ldap_url", "str", "ldap://localhost", "URL of the LDAP server (ldap:// or ldaps://)."),
    Flag(
        "ldap_suffix",
        "str",
        "dc=example,dc=com",
        "Base DN of the directory; the defaults of the other ldap_* DNs are "
        "below it.",
    ),
    Flag(
        "ldap_user_dn",
        "str",
        _underSuffix("cn=admin,%s", "cn=admin,$ldap_suffix"),
        "DN Nova binds as: it needs to read and write users, projects and "
        "role groups.",
    ),
    Flag("ldap_password", "str", "changeme", "Password of ldap_user_dn."),
    Flag(
        "ldap_user_id_attribute",
        "str",
        "uid",
        "Attribute that holds a user's name; it is the RDN of user entries.",
    ),
    Flag(
        "ldap_user_name_attribute",
        "str",
        "cn",
        "Attribute set to the user's name in entries Nova creates.",
    ),
    Flag("ldap_user_unit", "str", "Users", "Value of 'ou' in user entries Nova creates."),
    Flag(
        "ldap_user_subtree",
        "str",
        _underSuffix("ou=Users,%s", "ou=Users,$ldap_suffix"),
        "Entry whose children are the users.",
    ),
    Flag(
        "ldap_user_modify_only",
        "bool",
        False,
        "Users already exist in the directory: creating a Nova user adds "
        "the novaUser class and keys to the existing entry, deleting one "
        "removes them, and no user entry is ever added or deleted.",
    ),
    Flag(
        "ldap_project_subtree",
        "str",
        _underSuffix("ou=Projects,%s", "ou=Projects,$ldap_suffix"),
        "Entry whose children are the projects.",
    ),
    Flag(
        "role_project_subtree",
        "str",
        Computed(lambda values: values["ldap_project_subtree"], "$ldap_project_subtree"),
        "Entry below which the role groups of each project live, as "
        "cn=<role>,cn=<project>,<this>.  When it is ldap_project_subtree they "
        "live below the project's own entry; otherwise Nova keeps a "
        "cn=<project> organizationalRole entry here as their parent.",
    ),
    Flag(
        "ldap_cloudadmin",
        "str",
        _underSuffix("cn=cloudadmins,ou=Groups,%s", "cn=cloudadmins,ou=Groups,$ldap_suffix"),
        "groupOfNames of the global cloudadmin role.",
    ),
    Flag(
        "ldap_itsec",
        "str",
        _underSuffix("cn=itsec,ou=Groups,%s", "cn=itsec,ou=Groups,$ldap_suffix"),
        "groupOfNames of the global itsec role.",
    ),
    Flag(
        "ldap_sysadmin",
        "str",
        _underSuffix("cn=sysadmins,ou=Groups,%s", "cn=sysadmins,ou=Groups,$ldap_suffix"),
        "groupOfNames of the global sysadmin role.",
    ),
    Flag(
        "ldap_netadmin",
        "str",
        _underSuffix("cn=netadmins,ou=Groups,%s", "cn=netadmins,ou=Groups,$ldap_suffix"),
        "groupOfNames of the global netadmin role.",
    ),
    Flag(
        "ldap_developer",
        "str",
        _underSuffix("cn=developers,ou=Groups,%s", "cn=developers,ou=Groups,$ldap_suffix"),
        "groupOfNames of the global developer role.",
    ),
    Flag(
        "ldap_timeout",
        "float",
        10.0,
        "Seconds to wait for the LDAP server to connect or answer.",
        minimum=0.1,
    ),
)


@attr.s(frozen=True)
class LDAPSettings:
    """
    Where things are in the directory: see the flags of the same names.

    @ivar roleDNs: a L{dict} from global role to the DN of its group.
    """

    url = attr.ib(default="ldap://localhost")
    bindDN = attr.ib(default="cn=admin,dc=example,dc=com")
    password = attr.ib(default="changeme", repr=False)
    userSubtree = attr.ib(default="ou=Users,dc=example,dc=com")
    projectSubtree = attr.ib(default="ou=Projects,dc=example,dc=com")
    roleProjectSubtree = attr.ib(default="ou=Projects,dc=example,dc=com")
    roleDNs = attr.ib(
        factory=lambda: {
            "cloudadmin": "cn=cloudadmins,ou=Groups,dc=example,dc=com",
            "itsec": "cn=itsec,ou=Groups,dc=example,dc=com",
            "sysadmin": "cn=sysadmins,ou=Groups,dc=example,dc=com",
            "netadmin": "cn=netadmins,ou=Groups,dc=example,dc=com",
            "developer": "cn=developers,ou=Groups,dc=example,dc=com",
        }
    )
    userIdAttribute = attr.ib(default="uid")
    userNameAttribute = attr.ib(default="cn")
    userUnit = attr.ib(default="Users")
    userModifyOnly = attr.ib(default=False)
    timeout = attr.ib(default=10.0)

    @classmethod
    def fromConfig(cls, config):
        return cls(
            url=config.ldap_url,
            bindDN=config.ldap_user_dn,
            password=config.ldap_password,
            userSubtree=config.ldap_user_subtree,
            projectSubtree=config.ldap_project_subtree,
            roleProjectSubtree=config.role_project_subtree,
            roleDNs={
                role: getattr(config, f"ldap_{role}") for role in interfaces.ALLOWED_ROLES
            },
            userIdAttribute=config.ldap_user_id_attribute,
            userNameAttribute=config.ldap_user_name_attribute,
            userUnit=config.ldap_user_unit,
            userModifyOnly=config.ldap_user_modify_only,
            timeout=config.ldap_timeout,
        )


def connectTo(settings):
    """
    @return: a function that opens and binds a new ldap3 connection to the
        server C{settings} names (called in a pool thread).
    """

    # ldap3 packs timeouts into socket options as whole seconds.
    timeout = max(1, math.ceil(settings.timeout))

    def connect():
        server = ldap3.Server(settings.url, get_info=ldap3.NONE, connect_timeout=timeout)
        return ldap3.Connection(
            server,
            user=settings.bindDN,
            password=settings.password,
            auto_bind=ldap3.AUTO_BIND_NO_TLS,
            raise_exceptions=True,
            receive_timeout=timeout,
            read_only=False,
        )

    return connect


_UNESCAPE = re.compile(r"\\([0-9a-fA-F]{2}|.)")


def _unescape(value):
    def one(match):
        text = match.group(1)
        if len(text) == 2:
            return chr(int(text, 16))
        return text

    return _UNESCAPE.sub(one, value)


def _rdns(dn):
    """
    @return: the C{(attribute, escaped value)} pairs of C{dn}, also for the
        loose spellings older directories hold (spaces after commas).
    """
    try:
        return [(attribute, value) for attribute, value, _ in parse_dn(dn)]
    except ldapErrors.LDAPInvalidDnError:
        parts = re.split(r"(?<!\\),", dn)
        return [tuple(part.strip().split("=", 1)) for part in parts if "=" in part]


def _firstValue(dn):
    """
    @return: the value of the first RDN of C{dn}, unescaped.
    """
    return _unescape(_rdns(dn)[0][1].strip())


def _normalDN(dn):
    """
    @return: C{dn} in a form fit for comparing (attribute names and values
        lower-cased, no spaces around separators).
    """
    return ",".join(
        f"{attribute.strip().lower()}={value.strip().lower()}" for attribute, value in _rdns(dn)
    )


class _Entry:
    """
    A search result: C{dn} and attributes by lower-case name (lists of
    L{str}).
    """

    def __init__(self, dn, raw):
        self.dn = dn
        self.attributes = {
            name.lower(): [v.decode("utf-8") for v in values] for name, values in raw.items()
        }

    def first(self, name, default=None):
        values = self.attributes.get(name.lower())
        return values[0] if values else default

    def all(self, name):
        return list(self.attributes.get(name.lower(), ()))


_USER_ATTRIBUTES = ("accessKey", "secretKey", "isNovaAdmin", "objectClass")
_PROJECT_ATTRIBUTES = ("cn", "description", "projectManager", "member")
_NOT_PROJECT = "(!(objectClass=novaProject))"


@implementer(IAuthDriver)
class LDAPAuthDriver(Service):
    """
    @ivar settings: the L{LDAPSettings}.
    """

    def __init__(self, settings, reactor, connect=None, maxThreads=4):
        """
        @param connect: a function returning a new, bound ldap3
            C{Connection} with C{raise_exceptions=True}, called in a pool
            thread; by default one to C{settings.url}.
        @param maxThreads: the size of the pool (and the most connections).
        """
        self.settings = settings
        self.reactor = reactor
        self.connect = connect or connectTo(settings)
        self.pool = ThreadPool(minthreads=0, maxthreads=maxThreads, name="nova-ldap")
        self._local = threading.local()
        self._connections = []
        self._lock = threading.Lock()
        self._roleDNs = {role: dn for role, dn in settings.roleDNs.items()}
        self._separateRoleTree = _normalDN(settings.roleProjectSubtree) != _normalDN(
            settings.projectSubtree
        )

    @classmethod
    def fromConfig(cls, config, reactor):
        return cls(LDAPSettings.fromConfig(config), reactor)

    # Lifecycle and threads

    def startService(self):
        Service.startService(self)
        if not self.pool.started:
            self.pool.start()

    def stopService(self):
        Service.stopService(self)
        self._stopPool()
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            try:
                connection.unbind()
            except ldapErrors.LDAPException:
                pass

    def _newConnection(self):
        connection = self.connect()
        self._local.connection = connection
        with self._lock:
            self._connections.append(connection)
        return connection

    def _dropConnection(self, connection):
        self._local.connection = None
        with self._lock:
            if connection in self._connections:
                self._connections.remove(connection)
        try:
            connection.unbind()
        except ldapErrors.LDAPException:
            pass

    def _work(self, fn, args):
        connection = getattr(self._local, "connection", None)
        fresh = connection is None
        try:
            if fresh:
                connection = self._newConnection()
            try:
                return fn(connection, *args)
            except ldapErrors.LDAPCommunicationError:
                # A connection kept from earlier may have been closed by the
                # server (restart, idle timeout): try once on a new one.
                self._dropConnection(connection)
                if fresh:
                    raise
                connection = self._newConnection()
                return fn(connection, *args)
        except (ldapErrors.LDAPCommunicationError, ldapErrors.LDAPBindError) as e:
            if connection is not None:
                self._dropConnection(connection)
            raise interfaces.AuthBackendError(
                f"LDAP server {self.settings.url} failed: {e}"
            ) from e
        except ldapErrors.LDAPException as e:
            raise interfaces.AuthBackendError(f"LDAP error: {e}") from e

    def _stopPool(self):
        if self.pool.started:
            self.pool.stop()

    def _run(self, fn, *args):
        if not self.pool.started:
            # Used before its service started (a tool, a test): make sure
            # the threads end with the reactor.
            self.pool.start()
            self.reactor.addSystemEventTrigger("during", "shutdown", self._stopPool)
        return deferToThreadPool(self.reactor, self.pool, self._work, fn, args)

    # DNs and searches (pool threads)

    def _userDN(self, name):
        return f"{self.settings.userIdAttribute}={escape_rdn(name)},{self.settings.userSubtree}"

    def _projectDN(self, name):
        return f"cn={escape_rdn(name)},{self.settings.projectSubtree}"

    def _roleParentDN(self, projectName):
        return f"cn={escape_rdn(projectName)},{self.settings.roleProjectSubtree}"

    def _roleDN(self, role, projectName=None):
        if projectName is None:
            return self._roleDNs[role]
        return f"cn={escape_rdn(role)},{self._roleParentDN(projectName)}"

    def _search(self, connection, base, filterText, scope, attributes, paged=False):
        try:
            if paged:
                results = connection.extend.standard.paged_search(
                    base, filterText, scope, attributes=list(attributes),
                    paged_size=500, generator=False,
                )
            else:
                connection.search(base, filterText, scope, attributes=list(attributes))
                results = connection.response
        except ldapErrors.LDAPNoSuchObjectResult:
            return []
        return [
            _Entry(entry["dn"], entry.get("raw_attributes", {}))
            for entry in results or ()
            if entry.get("type") == "searchResEntry"
        ]

    def _one(self, connection, dn, filterText="(objectClass=*)", attributes=()):
        entries = self._search(connection, dn, filterText, ldap3.BASE, attributes)
        return entries[0] if entries else None

    def _toUser(self, entry):
        access = entry.first("accessKey")
        secret = entry.first("secretKey")
        if access is None or secret is None:
            return None
        return User(
            name=_firstValue(entry.dn),
            accessKey=access,
            secretKey=secret,
            isAdmin=(entry.first("isNovaAdmin", "FALSE").upper() == "TRUE"),
        )

    def _toProject(self, entry):
        manager = entry.first("projectManager")
        return Project(
            name=entry.first("cn") or _firstValue(entry.dn),
            managerId=_firstValue(manager) if manager else None,
            description=entry.first("description", ""),
            memberIds=[_firstValue(dn) for dn in entry.all("member")],
        )

    def _findUser(self, connection, name):
        entry = self._one(connection, self._userDN(name), "(objectClass=novaUser)", _USER_ATTRIBUTES)
        return None if entry is None else self._toUser(entry)

    def _requireUser(self, connection, name):
        user = self._findUser(connection, name)
        if user is None:
            raise interfaces.UserNotFound(f"no user {name!r}")
        return user

    def _findProjectEntry(self, connection, name):
        return self._one(
            connection, self._projectDN(name), "(objectClass=novaProject)", _PROJECT_ATTRIBUTES
        )

    def _requireProject(self, connection, name):
        entry = self._findProjectEntry(connection, name)
        if entry is None:
            raise interfaces.ProjectNotFound(f"no project {name!r}")
        return self._toProject(entry)

    def _usersWithAccessKey(self, connection, accessKey):
        entries = self._search(
            connection,
            self.settings.userSubtree,
            f"(&(objectClass=novaUser)(accessKey={escape_filter_chars(accessKey)}))",
            ldap3.LEVEL,
            _USER_ATTRIBUTES,
        )
        # Exact match even where the directory compares keys without case
        # (Nova's original schema used caseIgnoreMatch).
        return [
            user
            for user in map(self._toUser, entries)
            if user is not None and user.accessKey == accessKey
        ]

    def _isInGroup(self, connection, userName, groupDN):
        found = self._one(
            connection,
            groupDN,
            f"(member={escape_filter_chars(self._userDN(userName))})",
        )
        return found is not None

    def _groupMembers(self, connection, groupDN):
        entry = self._one(connection, groupDN, "(objectClass=groupOfNames)", ("member",))
        return None if entry is None else entry.all("member")

    #: How many times a change of a role group is tried when another
    #: client changed the group between its read and its write.
    GROUP_ATTEMPTS = 3

    def _addToGroup(self, connection, userName, groupDN, name, description):
        """
        Add a user to a role group, making the group if needed.  A group
        made or deleted by another client meanwhile (another nova-api, an
        operator) is read again.
        """
        userDN = self._userDN(userName)
        for attempt in range(self.GROUP_ATTEMPTS):
            last = attempt == self.GROUP_ATTEMPTS - 1
            members = self._groupMembers(connection, groupDN)
            try:
                if members is None:
                    connection.add(
                        groupDN,
                        ["top", "groupOfNames"],
                        {"cn": name, "description": description, "member": [userDN]},
                    )
                elif not self._isInGroup(connection, userName, groupDN):
                    connection.modify(groupDN, {"member": [(ldap3.MODIFY_ADD, [userDN])]})
                return
            except (ldapErrors.LDAPEntryAlreadyExistsResult, ldapErrors.LDAPNoSuchObjectResult):
                if last:
                    raise

    def _removeFromGroup(self, connection, userName, groupDN):
        """
        Remove a user from a role group, deleting the group with its last
        member.  A group deleted by another client meanwhile is left so; one
        that gained a member meanwhile is read again.
        """
        userDN = self._userDN(userName)
        for attempt in range(self.GROUP_ATTEMPTS):
            last = attempt == self.GROUP_ATTEMPTS - 1
            if not self._isInGroup(connection, userName, groupDN):
                return
            members = self._groupMembers(connection, groupDN) or []
            remaining = [m for m in members if _normalDN(m) != _normalDN(userDN)]
            try:
                if remaining:
                    connection.modify(groupDN, {"member": [(ldap3.MODIFY_DELETE, [userDN])]})
                else:
                    connection.delete(groupDN)
                return
            except ldapErrors.LDAPNoSuchObjectResult:
                return
            except (
                ldapErrors.LDAPNotAllowedOnNotLeafResult,
                ldapErrors.LDAPObjectClassViolationResult,
                ldapErrors.LDAPNoSuchAttributeResult,
            ):
                if last:
                    raise

    def _projectRoleGroups(self, connection, projectName, userName=None):
        memberFilter = ""
        if userName is not None:
            memberFilter = f"(member={escape_filter_chars(self._userDN(userName))})"
        return self._search(
            connection,
            self._roleParentDN(projectName),
            f"(&(objectClass=groupOfNames){_NOT_PROJECT}{memberFilter})",
            ldap3.LEVEL,
            ("cn",),
        )

    # Users

    def getUser(self, name):
        return self._run(self._requireUser, name)

    def getUserFromAccessKey(self, accessKey):
        return self._run(self.thd_getUserFromAccessKey, accessKey)

    def thd_getUserFromAccessKey(self, connection, accessKey):
        users = self._usersWithAccessKey(connection, accessKey)
        if not users:
            raise interfaces.UserNotFound("no user has that access key")
        return users[0]

    def listUsers(self):
        return self._run(self.thd_listUsers)

    def thd_listUsers(self, connection):
        entries = self._search(
            connection,
            self.settings.userSubtree,
            "(objectClass=novaUser)",
            ldap3.LEVEL,
            _USER_ATTRIBUTES,
            paged=True,
        )
        users = [user for user in map(self._toUser, entries) if user is not None]
        return sorted(users, key=lambda user: user.name)

    def createUser(self, name, accessKey, secretKey, isAdmin):
        return self._run(self.thd_createUser, name, accessKey, secretKey, bool(isAdmin))

    def thd_createUser(self, connection, name, accessKey, secretKey, isAdmin):
        if self._findUser(connection, name) is not None:
            raise interfaces.UserExists(f"user {name!r} exists")
        if self._usersWithAccessKey(connection, accessKey):
            raise interfaces.AccessKeyExists("another user has that access key")
        dn = self._userDN(name)
        admin = "TRUE" if isAdmin else "FALSE"
        if self.settings.userModifyOnly:
            entry = self._one(connection, dn, attributes=("objectClass",))
            if entry is None:
                raise interfaces.UserNotFound(
                    f"no LDAP entry {dn!r} to make into a Nova user"
                )
            changes = {
                "accessKey": [(ldap3.MODIFY_REPLACE, [accessKey])],
                "secretKey": [(ldap3.MODIFY_REPLACE, [secretKey])],
                "isNovaAdmin": [(ldap3.MODIFY_REPLACE, [admin])],
            }
            if "novauser" not in {c.lower() for c in entry.all("objectClass")}:
                changes["objectClass"] = [(ldap3.MODIFY_ADD, ["novaUser"])]
            connection.modify(dn, changes)
        else:
            attributes = {
                "sn": name,
                "ou": self.settings.userUnit,
                self.settings.userNameAttribute: name,
                self.settings.userIdAttribute: name,
                "accessKey": accessKey,
                "secretKey": secretKey,
                "isNovaAdmin": admin,
            }
            try:
                connection.add(
                    dn,
                    ["top", "person", "organizationalPerson", "inetOrgPerson", "novaUser"],
                    attributes,
                )
            except ldapErrors.LDAPEntryAlreadyExistsResult:
                raise interfaces.UserExists(
                    f"an LDAP entry {dn!r} exists (use --ldap_user_modify_only to "
                    "make existing entries Nova users)"
                )
        return User(name, accessKey, secretKey, isAdmin)

    def modifyUser(self, name, accessKey=None, secretKey=None, isAdmin=None):
        return self._run(self.thd_modifyUser, name, accessKey, secretKey, isAdmin)

    def thd_modifyUser(self, connection, name, accessKey, secretKey, isAdmin):
        user = self._requireUser(connection, name)
        changes = {}
        if accessKey is not None and accessKey != user.accessKey:
            if self._usersWithAccessKey(connection, accessKey):
                raise interfaces.AccessKeyExists("another user has that access key")
            changes["accessKey"] = [(ldap3.MODIFY_REPLACE, [accessKey])]
        if secretKey is not None:
            changes["secretKey"] = [(ldap3.MODIFY_REPLACE, [secretKey])]
        if isAdmin is not None:
            changes["isNovaAdmin"] = [(ldap3.MODIFY_REPLACE, ["TRUE" if isAdmin else "FALSE"])]
        if changes:
            connection.modify(self._userDN(name), changes)
        return self._requireUser(connection, name)

    def deleteUser(self, name):
        return self._run(self.thd_deleteUser, name)

    def thd_deleteUser(self, connection, name):
        self._requireUser(connection, name)
        userDN = self._userDN(name)
        memberFilter = f"(member={escape_filter_chars(userDN)})"
        managed = self._search(
            connection,
            self.settings.projectSubtree,
            f"(&(objectClass=novaProject)(projectManager={escape_filter_chars(userDN)}))",
            ldap3.LEVEL,
            ("cn",),
        )
        if managed:
            names = sorted(entry.first("cn") for entry in managed)
            raise interfaces.ProjectManagerRequired(
                f"user {name!r} manages project(s) {', '.join(names)}: change their "
                "manager first"
            )
        # Role groups of projects, then global role groups, then projects.
        projectRoles = self._search(
            connection,
            self.settings.roleProjectSubtree,
            f"(&(objectClass=groupOfNames){_NOT_PROJECT}{memberFilter})",
            ldap3.SUBTREE,
            ("cn",),
        )
        globalDNs = {_normalDN(dn) for dn in self._roleDNs.values()}
        for entry in projectRoles:
            if _normalDN(entry.dn) not in globalDNs:
                self._removeFromGroup(connection, name, entry.dn)
        for groupDN in self._roleDNs.values():
            self._removeFromGroup(connection, name, groupDN)
        projects = self._search(
            connection,
            self.settings.projectSubtree,
            f"(&(objectClass=novaProject){memberFilter})",
            ldap3.LEVEL,
            ("cn",),
        )
        for entry in projects:
            connection.modify(entry.dn, {"member": [(ldap3.MODIFY_DELETE, [userDN])]})
        if self.settings.userModifyOnly:
            connection.modify(
                userDN,
                {
                    "accessKey": [(ldap3.MODIFY_REPLACE, [])],
                    "secretKey": [(ldap3.MODIFY_REPLACE, [])],
                    "isNovaAdmin": [(ldap3.MODIFY_REPLACE, [])],
                    "objectClass": [(ldap3.MODIFY_DELETE, ["novaUser"])],
                },
            )
        else:
            connection.delete(userDN)

    # Projects

    def getProject(self, name):
        return self._run(self._requireProject, name)

    def listProjects(self, userName=None):
        return self._run(self.thd_listProjects, userName)

    def thd_listProjects(self, connection, userName):
        filterText = "(objectClass=novaProject)"
        if userName is not None:
            userDN = escape_filter_chars(self._userDN(userName))
            filterText = f"(&{filterText}(member={userDN}))"
        entries = self._search(
            connection,
            self.settings.projectSubtree,
            filterText,
            ldap3.LEVEL,
            _PROJECT_ATTRIBUTES,
            paged=True,
        )
        return sorted((self._toProject(e) for e in entries), key=lambda p: p.name)

    def createProject(self, name, managerName, description, memberNames=()):
        return self._run(
            self.thd_createProject, name, managerName, description or "", tuple(memberNames)
        )

    def thd_createProject(self, connection, name, managerName, description, memberNames):
        dn = self._projectDN(name)
        if _normalDN(dn) in {_normalDN(d) for d in self._roleDNs.values()}:
            raise interfaces.ProjectExists(f"{dn!r} is a global role group")
        if self._one(connection, dn) is not None:
            raise interfaces.ProjectExists(f"project {name!r} exists")
        members = sorted({managerName, *memberNames})
        for member in members:
            self._requireUser(connection, member)
        attributes = {
            "cn": name,
            "projectManager": self._userDN(managerName),
            "member": [self._userDN(member) for member in members],
        }
        if description:
            attributes["description"] = description
        try:
            connection.add(dn, ["top", "groupOfNames", "novaProject"], attributes)
        except ldapErrors.LDAPEntryAlreadyExistsResult:
            raise interfaces.ProjectExists(f"project {name!r} exists")
        return Project(name, managerName, description, members)

    def modifyProject(self, name, managerName=None, description=None):
        return self._run(self.thd_modifyProject, name, managerName, description)

    def thd_modifyProject(self, connection, name, managerName, description):
        project = self._requireProject(connection, name)
        changes = {}
        if managerName is not None:
            self._requireUser(connection, managerName)
            managerDN = self._userDN(managerName)
            changes["projectManager"] = [(ldap3.MODIFY_REPLACE, [managerDN])]
            if managerName not in project.memberIds:
                changes["member"] = [(ldap3.MODIFY_ADD, [managerDN])]
        if description is not None:
            changes["description"] = [
                (ldap3.MODIFY_REPLACE, [description] if description else [])
            ]
        if changes:
            connection.modify(self._projectDN(name), changes)
        return self._requireProject(connection, name)

    def deleteProject(self, name):
        return self._run(self.thd_deleteProject, name)

    def thd_deleteProject(self, connection, name):
        self._requireProject(connection, name)
        for entry in self._projectRoleGroups(connection, name):
            connection.delete(entry.dn)
        if self._separateRoleTree and self._one(connection, self._roleParentDN(name)):
            connection.delete(self._roleParentDN(name))
        connection.delete(self._projectDN(name))

    def addToProject(self, userName, projectName):
        return self._run(self.thd_addToProject, userName, projectName)

    def thd_addToProject(self, connection, userName, projectName):
        self._requireUser(connection, userName)
        self._requireProject(connection, projectName)
        dn = self._projectDN(projectName)
        if self._isInGroup(connection, userName, dn):
            raise interfaces.AlreadyMember(
                f"{userName!r} is already a member of {projectName!r}"
            )
        connection.modify(dn, {"member": [(ldap3.MODIFY_ADD, [self._userDN(userName)])]})

    def removeFromProject(self, userName, projectName):
        return self._run(self.thd_removeFromProject, userName, projectName)

    def thd_removeFromProject(self, connection, userName, projectName):
        self._requireUser(connection, userName)
        project = self._requireProject(connection, projectName)
        dn = self._projectDN(projectName)
        if not self._isInGroup(connection, userName, dn):
            raise interfaces.MembershipNotFound(
                f"{userName!r} is not a member of {projectName!r}"
            )
        if project.managerId == userName:
            raise interfaces.ProjectManagerRequired(
                f"user {userName!r} manages project {projectName!r}: change its "
                "manager first"
            )
        for entry in self._projectRoleGroups(connection, projectName, userName):
            self._removeFromGroup(connection, userName, entry.dn)
        connection.modify(dn, {"member": [(ldap3.MODIFY_DELETE, [self._userDN(userName)])]})

    # Roles

    def getUserRoles(self, userName, projectName=None):
        return self._run(self.thd_getUserRoles, userName, projectName)

    def thd_getUserRoles(self, connection, userName, projectName):
        self._requireUser(connection, userName)
        if projectName is None:
            return sorted(
                role
                for role, groupDN in self._roleDNs.items()
                if self._isInGroup(connection, userName, groupDN)
            )
        self._requireProject(connection, projectName)
        groups = self._projectRoleGroups(connection, projectName, userName)
        return sorted(
            {entry.first("cn") for entry in groups} & set(interfaces.ALLOWED_ROLES)
        )

    def _checkRole(self, role):
        if role not in interfaces.ALLOWED_ROLES or role not in self._roleDNs:
            raise interfaces.InvalidRole(f"no role {role!r}")

    def addRole(self, userName, role, projectName=None):
        try:
            self._checkRole(role)
        except interfaces.InvalidRole as e:
            return fail(e)
        return self._run(self.thd_addRole, userName, role, projectName)

    def thd_addRole(self, connection, userName, role, projectName):
        self._requireUser(connection, userName)
        if projectName is None:
            self._addToGroup(
                connection, userName, self._roleDNs[role], _firstValue(self._roleDNs[role]),
                f"Nova global role {role}",
            )
            return
        self._requireProject(connection, projectName)
        if not self._isInGroup(connection, userName, self._projectDN(projectName)):
            raise interfaces.MembershipNotFound(
                f"{userName!r} is not a member of {projectName!r}"
            )
        if self._separateRoleTree:
            parent = self._roleParentDN(projectName)
            if self._one(connection, parent) is None:
                connection.add(
                    parent,
                    ["top", "organizationalRole"],
                    {"cn": projectName, "description": f"Nova roles of project {projectName}"},
                )
        self._addToGroup(
            connection, userName, self._roleDN(role, projectName), role,
            f"Nova role {role} in project {projectName}",
        )

    def removeRole(self, userName, role, projectName=None):
        try:
            self._checkRole(role)
        except interfaces.InvalidRole as e:
            return fail(e)
        return self._run(self.thd_removeRole, userName, role, projectName)

    def thd_removeRole(self, connection, userName, role, projectName):
        self._requireUser(connection, userName)
        if projectName is not None:
            self._requireProject(connection, projectName)
        self._removeFromGroup(connection, userName, self._roleDN(role, projectName))
