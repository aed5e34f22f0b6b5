"""
The L{IAuthDriver} contract, run against every driver: the SQL driver on
SQLite (inline), PostgreSQL and MariaDB, the LDAP driver on ldap3's
in-memory C{MOCK_SYNC} server, and the LDAP driver on the real slapd at
127.0.0.1:3890 (loaded with C{etc/ldap/nova.schema} and
C{etc/ldap/base.ldif} by C{tools/services.sh}).

The mock server is laxer than slapd (no schema: it accepts any attribute,
deletes entries that have children and knows no object class inheritance),
which is why the same suite also runs on slapd.  Tests on shared servers use
names unique to the test and delete what they made.
"""

import os
import uuid

import ldap3
from ldap3.utils.dn import parse_dn
from twisted.internet import defer, reactor, task
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from nova.auth import interfaces
from nova.auth.interfaces import IAuthDriver, Project, User
from nova.auth.ldapdriver import (
    LDAPAuthDriver,
    LDAPSettings,
    _firstValue,
    _normalDN,
    connectTo,
)
from nova.auth.sql import SQLAuthDriver
from nova.db.api import inlineDatabase
from tests.db.backends import freshDatabase
from tests.util import LDAP_URL, requireServer

HERE = os.path.dirname(os.path.abspath(__file__))
ETC_LDAP = os.path.join(os.path.dirname(os.path.dirname(HERE)), "etc", "ldap")
ADMIN_DN = "cn=admin,dc=example,dc=com"
ADMIN_PASSWORD = "changeme"


def readLDIF(path):
    """
    Parse the simple LDIF of C{etc/ldap/base.ldif} (no continuation lines or
    base64 values).

    @return: a L{list} of C{(dn, {attribute: [values]})}.
    """
    entries, current = [], None
    with open(path, encoding="utf-8") as f:
        for line in f.read().splitlines() + [""]:
            if line.startswith("#"):
                continue
            if not line.strip():
                if current is not None:
                    entries.append(current)
                    current = None
                continue
            name, _, value = line.partition(":")
            value = value.strip()
            if name.lower() == "dn":
                current = (value, {})
            else:
                current[1].setdefault(name, []).append(value)
    return entries


def mockLDAPConnector(suffix="dc=example,dc=com", extra=()):
    """
    @return: a function returning bound C{MOCK_SYNC} connections that share
        one in-memory directory holding C{base.ldif} and C{extra} entries.
    """
    server = ldap3.Server("mock_nova", get_info=ldap3.NONE)
    seed = ldap3.Connection(server, client_strategy=ldap3.MOCK_SYNC)
    seed.strategy.add_entry(ADMIN_DN, {"userPassword": ADMIN_PASSWORD, "sn": "admin"})
    for dn, attributes in readLDIF(os.path.join(ETC_LDAP, "base.ldif")) + list(extra):
        seed.strategy.add_entry(dn, attributes)

    def connect():
        connection = ldap3.Connection(
            server,
            user=ADMIN_DN,
            password=ADMIN_PASSWORD,
            client_strategy=ldap3.MOCK_SYNC,
            raise_exceptions=True,
        )
        connection.bind()
        return connection

    return connect


class AuthDriverContract:
    """
    Mixed into a L{TestCase} that defines C{makeDriver()} (returning a
    driver or a L{Deferred} of one).  Names come from L{n} so that tests on
    shared servers do not collide.
    """

    @defer.inlineCallbacks
    def setUp(self):
        self.prefix = "t" + uuid.uuid4().hex[:10]
        self.driver = yield self.makeDriver()

    def n(self, base):
        return f"{self.prefix}-{base}"

    @defer.inlineCallbacks
    def users(self, *bases, admin=False):
        made = []
        for base in bases:
            made.append(
                (yield self.driver.createUser(self.n(base), self.n(base) + "-ak", "sk-" + base, admin))
            )
        return made

    def test_provides(self):
        verifyObject(IAuthDriver, self.driver)

    # Users

    @defer.inlineCallbacks
    def test_createAndGetUser(self):
        name = self.n("alice")
        created = yield self.driver.createUser(name, name + "-ak", "s3cret/+=", True)
        self.assertEqual(created, User(name, name + "-ak", "s3cret/+=", True))
        self.assertEqual((yield self.driver.getUser(name)), created)
        self.assertEqual((yield self.driver.getUserFromAccessKey(name + "-ak")), created)
        plain = yield self.driver.createUser(self.n("bob"), self.n("bob-ak"), "x", False)
        self.assertFalse(plain.isAdmin)
        self.assertFalse((yield self.driver.getUser(self.n("bob"))).isAdmin)

    @defer.inlineCallbacks
    def test_listUsers(self):
        yield self.users("carol", "alice", "bob")
        users = yield self.driver.listUsers()
        mine = [u.name for u in users if u.name.startswith(self.prefix)]
        self.assertEqual(mine, [self.n("alice"), self.n("bob"), self.n("carol")])

    @defer.inlineCallbacks
    def test_missingUser(self):
        yield self.assertFailure(self.driver.getUser(self.n("ghost")), interfaces.UserNotFound)
        yield self.assertFailure(
            self.driver.getUserFromAccessKey(self.n("no-such-key")), interfaces.UserNotFound
        )
        yield self.assertFailure(
            self.driver.modifyUser(self.n("ghost"), secretKey="x"), interfaces.UserNotFound
        )
        yield self.assertFailure(self.driver.deleteUser(self.n("ghost")), interfaces.UserNotFound)

    @defer.inlineCallbacks
    def test_duplicates(self):
        (alice,) = yield self.users("alice")
        yield self.assertFailure(
            self.driver.createUser(alice.name, self.n("other-ak"), "x", False),
            interfaces.UserExists,
        )
        yield self.assertFailure(
            self.driver.createUser(self.n("bob"), alice.accessKey, "x", False),
            interfaces.AccessKeyExists,
        )
        yield self.assertFailure(self.driver.getUser(self.n("bob")), interfaces.UserNotFound)

    @defer.inlineCallbacks
    def test_accessKeysAreExact(self):
        name = self.n("alice")
        yield self.driver.createUser(name, name + "-AK", "x", False)
        yield self.assertFailure(
            self.driver.getUserFromAccessKey(name + "-ak"), interfaces.UserNotFound
        )
        yield self.assertFailure(
            self.driver.getUserFromAccessKey(self.prefix + "*"), interfaces.UserNotFound
        )

    @defer.inlineCallbacks
    def test_modifyUser(self):
        alice, bob = yield self.users("alice", "bob")
        changed = yield self.driver.modifyUser(alice.name, accessKey=self.n("new-ak"))
        self.assertEqual(changed, User(alice.name, self.n("new-ak"), alice.secretKey, False))
        changed = yield self.driver.modifyUser(alice.name, secretKey="new", isAdmin=True)
        self.assertEqual(changed, User(alice.name, self.n("new-ak"), "new", True))
        self.assertEqual((yield self.driver.getUserFromAccessKey(self.n("new-ak"))), changed)
        yield self.assertFailure(
            self.driver.getUserFromAccessKey(alice.accessKey), interfaces.UserNotFound
        )
        yield self.assertFailure(
            self.driver.modifyUser(alice.name, accessKey=bob.accessKey),
            interfaces.AccessKeyExists,
        )
        unchanged = yield self.driver.modifyUser(alice.name)
        self.assertEqual(unchanged, changed)
        self.assertFalse((yield self.driver.modifyUser(alice.name, isAdmin=False)).isAdmin)

    @defer.inlineCallbacks
    def test_specialCharacters(self):
        """
        Names with characters special in DNs and filters are stored and
        found as given.
        """
        name = self.n("o'brien,x=y+z\\*(")
        yield self.driver.createUser(name, self.n("ak*)(x"), "s", False)
        self.assertEqual((yield self.driver.getUser(name)).name, name)
        self.assertEqual((yield self.driver.getUserFromAccessKey(self.n("ak*)(x"))).name, name)
        project = yield self.driver.createProject(self.n("p,q"), name, "d")
        self.assertEqual(project.managerId, name)
        yield self.driver.addRole(name, "netadmin", project.name)
        self.assertEqual((yield self.driver.getUserRoles(name, project.name)), ["netadmin"])
        self.assertEqual(
            [p.name for p in (yield self.driver.listProjects(name))], [project.name]
        )
        fetched = yield self.driver.getProject(project.name)
        self.assertEqual(fetched.memberIds, (name,))
        yield self.driver.deleteProject(project.name)
        yield self.driver.deleteUser(name)

    # Projects

    @defer.inlineCallbacks
    def test_createProject(self):
        alice, bob, carol = yield self.users("alice", "bob", "carol")
        project = yield self.driver.createProject(
            self.n("proj"), alice.name, "a project", [bob.name]
        )
        expected = Project(self.n("proj"), alice.name, "a project", [alice.name, bob.name])
        self.assertEqual(project, expected)
        self.assertEqual((yield self.driver.getProject(self.n("proj"))), expected)
        yield self.assertFailure(
            self.driver.createProject(self.n("proj"), carol.name, "again"),
            interfaces.ProjectExists,
        )

    @defer.inlineCallbacks
    def test_createProjectEmptyDescription(self):
        (alice,) = yield self.users("alice")
        yield self.driver.createProject(self.n("proj"), alice.name, "")
        self.assertEqual((yield self.driver.getProject(self.n("proj"))).description, "")

    @defer.inlineCallbacks
    def test_createProjectUnknownUsers(self):
        (alice,) = yield self.users("alice")
        yield self.assertFailure(
            self.driver.createProject(self.n("p1"), self.n("ghost"), "d"),
            interfaces.UserNotFound,
        )
        yield self.assertFailure(
            self.driver.createProject(self.n("p2"), alice.name, "d", [self.n("ghost")]),
            interfaces.UserNotFound,
        )
        for name in ("p1", "p2"):
            yield self.assertFailure(
                self.driver.getProject(self.n(name)), interfaces.ProjectNotFound
            )

    @defer.inlineCallbacks
    def test_listProjects(self):
        alice, bob = yield self.users("alice", "bob")
        yield self.driver.createProject(self.n("zeta"), alice.name, "z")
        yield self.driver.createProject(self.n("alpha"), bob.name, "a", [alice.name])
        everything = yield self.driver.listProjects()
        mine = [p.name for p in everything if p.name.startswith(self.prefix)]
        self.assertEqual(mine, [self.n("alpha"), self.n("zeta")])
        self.assertEqual(
            [p.name for p in (yield self.driver.listProjects(alice.name))],
            [self.n("alpha"), self.n("zeta")],
        )
        self.assertEqual(
            [p.name for p in (yield self.driver.listProjects(bob.name))], [self.n("alpha")]
        )
        self.assertEqual((yield self.driver.listProjects(self.n("ghost"))), [])

    @defer.inlineCallbacks
    def test_modifyProject(self):
        alice, bob = yield self.users("alice", "bob")
        yield self.driver.createProject(self.n("proj"), alice.name, "old")
        project = yield self.driver.modifyProject(self.n("proj"), managerName=bob.name)
        self.assertEqual(project.managerId, bob.name)
        self.assertEqual(project.memberIds, (alice.name, bob.name))
        project = yield self.driver.modifyProject(self.n("proj"), description="new")
        self.assertEqual((project.managerId, project.description), (bob.name, "new"))
        project = yield self.driver.modifyProject(self.n("proj"), description="")
        self.assertEqual(project.description, "")
        self.assertEqual((yield self.driver.getProject(self.n("proj"))), project)
        yield self.assertFailure(
            self.driver.modifyProject(self.n("proj"), managerName=self.n("ghost")),
            interfaces.UserNotFound,
        )
        yield self.assertFailure(
            self.driver.modifyProject(self.n("ghost"), description="x"),
            interfaces.ProjectNotFound,
        )

    @defer.inlineCallbacks
    def test_membership(self):
        alice, bob = yield self.users("alice", "bob")
        yield self.driver.createProject(self.n("proj"), alice.name, "d")
        yield self.driver.addToProject(bob.name, self.n("proj"))
        self.assertEqual(
            (yield self.driver.getProject(self.n("proj"))).memberIds, (alice.name, bob.name)
        )
        yield self.assertFailure(
            self.driver.addToProject(bob.name, self.n("proj")), interfaces.AlreadyMember
        )
        yield self.driver.removeFromProject(bob.name, self.n("proj"))
        self.assertEqual((yield self.driver.getProject(self.n("proj"))).memberIds, (alice.name,))
        yield self.assertFailure(
            self.driver.removeFromProject(bob.name, self.n("proj")),
            interfaces.MembershipNotFound,
        )
        yield self.assertFailure(
            self.driver.addToProject(self.n("ghost"), self.n("proj")), interfaces.UserNotFound
        )
        yield self.assertFailure(
            self.driver.addToProject(bob.name, self.n("ghost")), interfaces.ProjectNotFound
        )

    @defer.inlineCallbacks
    def test_managerCannotLeave(self):
        (alice,) = yield self.users("alice")
        yield self.driver.createProject(self.n("proj"), alice.name, "d")
        yield self.assertFailure(
            self.driver.removeFromProject(alice.name, self.n("proj")),
            interfaces.ProjectManagerRequired,
        )
        yield self.assertFailure(
            self.driver.deleteUser(alice.name), interfaces.ProjectManagerRequired
        )
        self.assertEqual((yield self.driver.getProject(self.n("proj"))).memberIds, (alice.name,))
        self.assertEqual((yield self.driver.getUser(alice.name)).name, alice.name)

    @defer.inlineCallbacks
    def test_deleteProject(self):
        alice, bob = yield self.users("alice", "bob")
        yield self.driver.createProject(self.n("proj"), alice.name, "d", [bob.name])
        yield self.driver.addRole(bob.name, "sysadmin", self.n("proj"))
        yield self.driver.addRole(bob.name, "netadmin", self.n("proj"))
        yield self.driver.addRole(bob.name, "sysadmin")
        yield self.driver.deleteProject(self.n("proj"))
        yield self.assertFailure(
            self.driver.getProject(self.n("proj")), interfaces.ProjectNotFound
        )
        yield self.assertFailure(
            self.driver.deleteProject(self.n("proj")), interfaces.ProjectNotFound
        )
        self.assertEqual((yield self.driver.listProjects(bob.name)), [])
        self.assertEqual((yield self.driver.getUserRoles(bob.name)), ["sysadmin"])
        # A new project of the same name starts without the old roles.
        yield self.driver.createProject(self.n("proj"), alice.name, "d", [bob.name])
        self.assertEqual((yield self.driver.getUserRoles(bob.name, self.n("proj"))), [])
        yield self.driver.removeRole(bob.name, "sysadmin")

    # Roles

    @defer.inlineCallbacks
    def test_globalRoles(self):
        alice, bob = yield self.users("alice", "bob")
        self.assertEqual((yield self.driver.getUserRoles(alice.name)), [])
        yield self.driver.addRole(alice.name, "sysadmin")
        yield self.driver.addRole(alice.name, "cloudadmin")
        yield self.driver.addRole(alice.name, "sysadmin")
        yield self.driver.addRole(bob.name, "sysadmin")
        self.assertEqual((yield self.driver.getUserRoles(alice.name)), ["cloudadmin", "sysadmin"])
        self.assertEqual((yield self.driver.getUserRoles(bob.name)), ["sysadmin"])
        yield self.driver.removeRole(alice.name, "sysadmin")
        yield self.driver.removeRole(alice.name, "sysadmin")
        yield self.driver.removeRole(alice.name, "developer")
        self.assertEqual((yield self.driver.getUserRoles(alice.name)), ["cloudadmin"])
        self.assertEqual((yield self.driver.getUserRoles(bob.name)), ["sysadmin"])
        yield self.driver.removeRole(alice.name, "cloudadmin")
        yield self.driver.removeRole(bob.name, "sysadmin")
        self.assertEqual((yield self.driver.getUserRoles(bob.name)), [])

    @defer.inlineCallbacks
    def test_projectRolesAreSeparate(self):
        alice, bob = yield self.users("alice", "bob")
        yield self.driver.createProject(self.n("p1"), alice.name, "d", [bob.name])
        yield self.driver.createProject(self.n("p2"), alice.name, "d", [bob.name])
        yield self.driver.addRole(bob.name, "netadmin", self.n("p1"))
        yield self.driver.addRole(bob.name, "developer", self.n("p1"))
        yield self.driver.addRole(alice.name, "netadmin", self.n("p1"))
        self.assertEqual(
            (yield self.driver.getUserRoles(bob.name, self.n("p1"))), ["developer", "netadmin"]
        )
        self.assertEqual((yield self.driver.getUserRoles(bob.name, self.n("p2"))), [])
        self.assertEqual((yield self.driver.getUserRoles(bob.name)), [])
        yield self.driver.removeRole(bob.name, "netadmin", self.n("p1"))
        self.assertEqual((yield self.driver.getUserRoles(bob.name, self.n("p1"))), ["developer"])
        self.assertEqual((yield self.driver.getUserRoles(alice.name, self.n("p1"))), ["netadmin"])

    @defer.inlineCallbacks
    def test_projectRoleNeedsMembership(self):
        alice, bob = yield self.users("alice", "bob")
        yield self.driver.createProject(self.n("proj"), alice.name, "d")
        yield self.assertFailure(
            self.driver.addRole(bob.name, "sysadmin", self.n("proj")),
            interfaces.MembershipNotFound,
        )
        yield self.assertFailure(
            self.driver.addRole(bob.name, "sysadmin", self.n("ghost")),
            interfaces.ProjectNotFound,
        )
        yield self.assertFailure(
            self.driver.addRole(self.n("ghost"), "sysadmin"), interfaces.UserNotFound
        )
        yield self.assertFailure(
            self.driver.getUserRoles(self.n("ghost")), interfaces.UserNotFound
        )
        yield self.assertFailure(
            self.driver.getUserRoles(bob.name, self.n("ghost")), interfaces.ProjectNotFound
        )

    @defer.inlineCallbacks
    def test_invalidRole(self):
        (alice,) = yield self.users("alice")
        yield self.assertFailure(self.driver.addRole(alice.name, "root"), interfaces.InvalidRole)
        yield self.assertFailure(
            self.driver.removeRole(alice.name, "root"), interfaces.InvalidRole
        )

    @defer.inlineCallbacks
    def test_leavingProjectDropsItsRoles(self):
        alice, bob = yield self.users("alice", "bob")
        yield self.driver.createProject(self.n("proj"), alice.name, "d", [bob.name])
        yield self.driver.addRole(bob.name, "sysadmin", self.n("proj"))
        yield self.driver.addRole(bob.name, "sysadmin")
        yield self.driver.removeFromProject(bob.name, self.n("proj"))
        yield self.driver.addToProject(bob.name, self.n("proj"))
        self.assertEqual((yield self.driver.getUserRoles(bob.name, self.n("proj"))), [])
        self.assertEqual((yield self.driver.getUserRoles(bob.name)), ["sysadmin"])
        yield self.driver.removeRole(bob.name, "sysadmin")

    @defer.inlineCallbacks
    def test_deleteUser(self):
        alice, bob = yield self.users("alice", "bob")
        yield self.driver.createProject(self.n("proj"), alice.name, "d", [bob.name])
        yield self.driver.addRole(bob.name, "sysadmin", self.n("proj"))
        yield self.driver.addRole(alice.name, "sysadmin", self.n("proj"))
        yield self.driver.addRole(bob.name, "netadmin")
        yield self.driver.deleteUser(bob.name)
        yield self.assertFailure(self.driver.getUser(bob.name), interfaces.UserNotFound)
        yield self.assertFailure(
            self.driver.getUserFromAccessKey(bob.accessKey), interfaces.UserNotFound
        )
        self.assertEqual((yield self.driver.getProject(self.n("proj"))).memberIds, (alice.name,))
        self.assertEqual((yield self.driver.getUserRoles(alice.name, self.n("proj"))), ["sysadmin"])
        # A new user of the same name inherits nothing.
        yield self.driver.createUser(bob.name, bob.accessKey, "x", False)
        self.assertEqual((yield self.driver.getUserRoles(bob.name)), [])
        self.assertEqual((yield self.driver.listProjects(bob.name)), [])


class SQLiteDriverTests(AuthDriverContract, TestCase):
    @defer.inlineCallbacks
    def makeDriver(self):
        db = inlineDatabase("sqlite:", task.Clock())
        yield db.sync()
        self.addCleanup(db.transactor.close)
        return SQLAuthDriver(db)


class PostgresDriverTests(AuthDriverContract, TestCase):
    @defer.inlineCallbacks
    def makeDriver(self):
        db = freshDatabase(self, "postgres")
        yield db.sync()
        return SQLAuthDriver(db)


class MySQLDriverTests(AuthDriverContract, TestCase):
    @defer.inlineCallbacks
    def makeDriver(self):
        db = freshDatabase(self, "mysql")
        yield db.sync()
        return SQLAuthDriver(db)


class MockLDAPDriverTests(AuthDriverContract, TestCase):
    def test_specialCharacters(self):
        pass

    test_specialCharacters.skip = (
        "ldap3 MOCK_SYNC leaves entries whose RDN holds escaped characters "
        "out of one-level searches; slapd does not "
        "(SlapdDriverTests.test_specialCharacters)"
    )

    def makeDriver(self):
        driver = LDAPAuthDriver(LDAPSettings(), reactor, connect=mockLDAPConnector(), maxThreads=1)
        driver.startService()
        self.addCleanup(driver.stopService)
        return driver


class MockLDAPSeparateRoleTreeTests(AuthDriverContract, TestCase):
    """
    Role groups kept apart from the projects (C{role_project_subtree} is
    not C{ldap_project_subtree}).
    """

    test_specialCharacters = MockLDAPDriverTests.test_specialCharacters

    def makeDriver(self):
        roles = "ou=Roles,dc=example,dc=com"
        connect = mockLDAPConnector(
            extra=[(roles, {"objectClass": ["organizationalUnit"], "ou": ["Roles"]})]
        )
        self.connect = connect
        driver = LDAPAuthDriver(
            LDAPSettings(roleProjectSubtree=roles), reactor, connect=connect, maxThreads=1
        )
        driver.startService()
        self.addCleanup(driver.stopService)
        return driver

    @defer.inlineCallbacks
    def test_roleGroupsLiveInRoleTree(self):
        alice, bob = yield self.users("alice", "bob")
        yield self.driver.createProject(self.n("proj"), alice.name, "d", [bob.name])
        yield self.driver.addRole(bob.name, "developer", self.n("proj"))
        connection = self.connect()
        connection.search("ou=Roles,dc=example,dc=com", "(objectClass=groupOfNames)", ldap3.SUBTREE)
        self.assertEqual(
            [e["dn"] for e in connection.response],
            [f"cn=developer,cn={self.n('proj')},ou=Roles,dc=example,dc=com"],
        )
        yield self.driver.deleteProject(self.n("proj"))
        connection.search("ou=Roles,dc=example,dc=com", "(objectClass=*)", ldap3.SUBTREE)
        self.assertEqual([e["dn"] for e in connection.response], ["ou=Roles,dc=example,dc=com"])


def _slapdConnection():
    return connectTo(LDAPSettings(url=LDAP_URL, timeout=2.5))()


class SlapdDriverTests(AuthDriverContract, TestCase):
    """
    The contract on the real slapd, with the schema it enforces.
    """

    def makeDriver(self):
        host, _, port = LDAP_URL.rpartition("/")[2].partition(":")
        requireServer("slapd", host, int(port or 389))
        # Global role groups of this test's own: tests running at once on
        # the shared server do not change each other's.
        roleDNs = {
            role: f"cn={self.prefix}-{role},ou=Groups,dc=example,dc=com"
            for role in LDAPSettings().roleDNs
        }
        driver = LDAPAuthDriver(
            LDAPSettings(url=LDAP_URL, timeout=2.5, roleDNs=roleDNs), reactor, maxThreads=2
        )
        driver.startService()
        self.addCleanup(self._sweep, driver)
        return driver

    def _sweep(self, driver):
        """
        Remove every entry this test made, and this test's users from the
        shared global role groups.
        """
        d = driver.stopService()
        connection = _slapdConnection()
        try:
            prefixFilter = f"(|(uid={self.prefix}*)(cn={self.prefix}*))"
            connection.search("dc=example,dc=com", prefixFilter, ldap3.SUBTREE)
            found = [e["dn"] for e in connection.response if e["type"] == "searchResEntry"]
            dns = set()
            for dn in found:
                connection.search(dn, "(objectClass=*)", ldap3.SUBTREE)
                dns.update(e["dn"] for e in connection.response if e["type"] == "searchResEntry")
            for dn in sorted(dns, key=lambda dn: -len(parse_dn(dn))):
                connection.delete(dn)
            for groupDN in LDAPSettings().roleDNs.values():
                try:
                    connection.search(groupDN, "(objectClass=groupOfNames)", ldap3.BASE,
                                      attributes=["member"])
                except ldap3.core.exceptions.LDAPNoSuchObjectResult:
                    continue
                members = connection.response[0]["attributes"]["member"]
                mine = [m for m in members if m.startswith(f"uid={self.prefix}")]
                if mine and len(mine) == len(members):
                    connection.delete(groupDN)
                elif mine:
                    connection.modify(groupDN, {"member": [(ldap3.MODIFY_DELETE, mine)]})
        finally:
            connection.unbind()
        return d

    @defer.inlineCallbacks
    def test_schemaIsEnforced(self):
        """
        slapd (unlike the mock) refuses a project without a manager: the
        schema is loaded.
        """
        connection = _slapdConnection()
        self.addCleanup(connection.unbind)
        dn = f"cn={self.n('bad')},ou=Projects,dc=example,dc=com"
        with self.assertRaises(ldap3.core.exceptions.LDAPObjectClassViolationResult):
            connection.add(dn, ["top", "groupOfNames", "novaProject"],
                           {"cn": self.n("bad"), "member": [ADMIN_DN]})
        yield None

    @defer.inlineCallbacks
    def test_isNovaAdminIsBoolean(self):
        (alice,) = yield self.users("alice", admin=True)
        connection = _slapdConnection()
        self.addCleanup(connection.unbind)
        connection.search("ou=Users,dc=example,dc=com", "(&(uid=%s)(isNovaAdmin=TRUE))" % alice.name,
                          ldap3.LEVEL)
        self.assertEqual(len(connection.response), 1)

    @defer.inlineCallbacks
    def test_droppedConnectionIsReplaced(self):
        """
        A connection the server dropped (restart, idle timeout) is replaced
        on the next call, which succeeds.
        """
        (alice,) = yield self.users("alice")
        driver = LDAPAuthDriver(LDAPSettings(url=LDAP_URL, timeout=2.5), reactor, maxThreads=1)
        self.addCleanup(driver.stopService)
        self.assertEqual((yield driver.getUser(alice.name)).name, alice.name)
        (connection,) = driver._connections
        connection.socket.close()
        self.assertEqual((yield driver.getUser(alice.name)).name, alice.name)
        self.assertEqual(len(driver._connections), 1)
        self.assertIsNot(driver._connections[0], connection)

    @defer.inlineCallbacks
    def test_unreachableServer(self):
        driver = LDAPAuthDriver(
            LDAPSettings(url="ldap://127.0.0.1:1", timeout=1), reactor, maxThreads=1
        )
        self.addCleanup(driver.stopService)
        yield self.assertFailure(driver.getUser("x"), interfaces.AuthBackendError)


class DNTests(TestCase):
    def test_normalDN(self):
        self.assertEqual(
            _normalDN("UID=Bob,OU=Users,dc=Example,dc=com"), "uid=bob,ou=users,dc=example,dc=com"
        )
        self.assertEqual(
            _normalDN("UID=Bob, OU=Users, dc=Example,dc=com"), "uid=bob,ou=users,dc=example,dc=com"
        )
        self.assertEqual(_firstValue("uid=a\\2cb, ou=Users"), "a,b")

    def test_baseLDIF(self):
        dns = [dn for dn, _ in readLDIF(os.path.join(ETC_LDAP, "base.ldif"))]
        settings = LDAPSettings()
        for needed in (settings.userSubtree, settings.projectSubtree, "ou=Groups,dc=example,dc=com"):
            self.assertIn(needed, dns)


class ModifyOnlyMixin:
    """
    C{ldap_user_modify_only}: people exist in the directory; Nova adds and
    removes only its class and attributes.
    """

    def person(self, name):
        return (
            f"uid={name},ou=Users,dc=example,dc=com",
            {
                "objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson"],
                "uid": [name],
                "cn": [name],
                "sn": ["Person"],
                "mail": [f"{name}@example.com"],
            },
        )

    def entry(self, name):
        connection = self.connect()
        try:
            connection.search(f"uid={name},ou=Users,dc=example,dc=com", "(objectClass=*)",
                              ldap3.BASE, attributes=["*"])
            attributes = connection.response[0]["raw_attributes"]
        except ldap3.core.exceptions.LDAPNoSuchObjectResult:
            return None
        finally:
            connection.unbind()
        return {k.lower(): sorted(v.decode() for v in vs) for k, vs in attributes.items() if vs}

    @defer.inlineCallbacks
    def test_existingPersonBecomesUser(self):
        name = self.prefix + "-carol"
        user = yield self.driver.createUser(name, name + "-ak", "sk", True)
        self.assertEqual(user, User(name, name + "-ak", "sk", True))
        self.assertEqual((yield self.driver.getUserFromAccessKey(name + "-ak")), user)
        entry = self.entry(name)
        self.assertIn("novaUser", entry["objectclass"])
        self.assertEqual(entry["mail"], [f"{name}@example.com"])
        yield self.assertFailure(
            self.driver.createUser(name, name + "-ak2", "sk", False), interfaces.UserExists
        )
        yield self.driver.deleteUser(name)
        yield self.assertFailure(self.driver.getUser(name), interfaces.UserNotFound)
        entry = self.entry(name)
        self.assertIsNotNone(entry)
        self.assertNotIn("novaUser", entry["objectclass"])
        for attribute in ("accesskey", "secretkey", "isnovaadmin"):
            self.assertNotIn(attribute, entry)
        self.assertEqual(entry["mail"], [f"{name}@example.com"])
        # And back again.
        yield self.driver.createUser(name, name + "-ak", "sk2", False)
        self.assertEqual((yield self.driver.getUser(name)).secretKey, "sk2")

    @defer.inlineCallbacks
    def test_missingPerson(self):
        yield self.assertFailure(
            self.driver.createUser(self.prefix + "-nobody", self.prefix + "-ak", "sk", False),
            interfaces.UserNotFound,
        )
        self.assertIsNone(self.entry(self.prefix + "-nobody"))


class MockModifyOnlyTests(ModifyOnlyMixin, TestCase):
    def setUp(self):
        self.prefix = "t" + uuid.uuid4().hex[:10]
        self.connect = mockLDAPConnector(extra=[self.person(self.prefix + "-carol")])
        self.driver = LDAPAuthDriver(
            LDAPSettings(userModifyOnly=True), reactor, connect=self.connect, maxThreads=1
        )
        self.addCleanup(self.driver.stopService)


class SlapdModifyOnlyTests(ModifyOnlyMixin, TestCase):
    def setUp(self):
        host, _, port = LDAP_URL.rpartition("/")[2].partition(":")
        requireServer("slapd", host, int(port or 389))
        self.prefix = "t" + uuid.uuid4().hex[:10]
        self.connect = _slapdConnection
        connection = _slapdConnection()
        dn, attributes = self.person(self.prefix + "-carol")
        connection.add(dn, attributes=attributes)
        connection.unbind()
        self.driver = LDAPAuthDriver(
            LDAPSettings(url=LDAP_URL, timeout=2.5, userModifyOnly=True), reactor, maxThreads=1
        )
        self.addCleanup(SlapdDriverTests._sweep, self, self.driver)


class NovaLayoutTests(TestCase):
    """
    Nova's original layout: projects in ou=Groups beside the global role
    groups.
    """

    @defer.inlineCallbacks
    def test_projectCannotTakeRoleGroupName(self):
        groups = "ou=Groups,dc=example,dc=com"
        driver = LDAPAuthDriver(
            LDAPSettings(projectSubtree=groups, roleProjectSubtree=groups),
            reactor,
            connect=mockLDAPConnector(),
            maxThreads=1,
        )
        self.addCleanup(driver.stopService)
        yield driver.createUser("alice", "ak", "sk", False)
        yield driver.addRole("alice", "sysadmin")
        yield self.assertFailure(
            driver.createProject("sysadmins", "alice", "d"), interfaces.ProjectExists
        )
        project = yield driver.createProject("proj", "alice", "d")
        yield driver.addRole("alice", "sysadmin", "proj")
        self.assertEqual((yield driver.getUserRoles("alice")), ["sysadmin"])
        self.assertEqual((yield driver.getUserRoles("alice", "proj")), ["sysadmin"])
        self.assertEqual([p.name for p in (yield driver.listProjects())], [project.name])
        yield driver.deleteProject("proj")
        self.assertEqual((yield driver.getUserRoles("alice")), ["sysadmin"])
