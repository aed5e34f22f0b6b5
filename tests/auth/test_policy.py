"""
Tests for L{nova.auth.policy}: the action table and L{policy.allowed}.
(The role matrix through real users and projects is in
L{tests.auth.test_manager.RoleMatrixTests}.)
"""

from types import MappingProxyType

from twisted.trial.unittest import SynchronousTestCase

from nova.auth import policy
from nova.auth.interfaces import ALLOWED_ROLES, PROJECT_MANAGER
from nova.context import RequestContext
from nova.exception import NotAuthorized


def context(*roles, isAdmin=False, userId="u", projectId="p"):
    return RequestContext(userId=userId, projectId=projectId, roles=roles, isAdmin=isAdmin)


class TableTests(SynchronousTestCase):
    def test_rolesAreKnown(self):
        known = set(ALLOWED_ROLES) | {PROJECT_MANAGER, policy.ALL, policy.NONE}
        for action, roles in policy.ACTION_ROLES.items():
            self.assertTrue(roles, action)
            self.assertLessEqual(set(roles), known, action)

    def test_describeIsOpen(self):
        describes = [a for a in policy.ACTION_ROLES if a.startswith("Describe")]
        self.assertGreater(len(describes), 10)
        for action in describes:
            self.assertEqual(policy.requiredRoles(action), (policy.ALL,), action)

    def test_cactusMap(self):
        expected = {
            "CreateKeyPair": (policy.ALL,),
            "DeleteKeyPair": (policy.ALL,),
            "ImportKeyPair": (policy.ALL,),
            "AllocateAddress": ("netadmin",),
            "AuthorizeSecurityGroupIngress": ("netadmin",),
            "CreateSecurityGroup": ("netadmin",),
            "RunInstances": ("projectmanager", "sysadmin"),
            "TerminateInstances": ("projectmanager", "sysadmin"),
            "GetConsoleOutput": ("projectmanager", "sysadmin"),
            "CreateVolume": ("projectmanager", "sysadmin"),
            "AttachVolume": ("projectmanager", "sysadmin"),
            "RegisterImage": ("projectmanager", "sysadmin"),
            "ModifyImageAttribute": ("projectmanager", "sysadmin"),
        }
        for action, roles in expected.items():
            self.assertEqual(policy.requiredRoles(action), roles, action)

    def test_unknownActionsNeedSuperuser(self):
        for action in ("DescribeUsers", "RegisterUser", "NoSuchAction", ""):
            self.assertEqual(policy.requiredRoles(action), (policy.NONE,))
            self.assertFalse(policy.allowed(context(*ALLOWED_ROLES, PROJECT_MANAGER), action))
            self.assertTrue(policy.allowed(context(isAdmin=True), action))

    def test_tableIsReadOnly(self):
        self.assertIsInstance(policy.ACTION_ROLES, MappingProxyType)
        with self.assertRaises(TypeError):
            policy.ACTION_ROLES["RunInstances"] = (policy.ALL,)

    def test_duplicatesRefused(self):
        with self.assertRaises(ValueError):
            policy._table(a=((policy.ALL,), ("X",)), b=(("netadmin",), ("X",)))


class AllowedTests(SynchronousTestCase):
    def test_members(self):
        self.assertTrue(policy.allowed(context(), "DescribeInstances"))
        self.assertFalse(policy.allowed(context(projectId=None), "DescribeInstances"))
        self.assertFalse(policy.allowed(context(userId=None), "DescribeInstances"))
        self.assertFalse(policy.allowed(None, "DescribeInstances"))

    def test_roles(self):
        cases = [
            ((), "RunInstances", False),
            (("sysadmin",), "RunInstances", True),
            ((PROJECT_MANAGER,), "RunInstances", True),
            (("netadmin",), "RunInstances", False),
            (("developer",), "RunInstances", False),
            (("itsec",), "RunInstances", False),
            (("netadmin",), "AllocateAddress", True),
            (("sysadmin",), "AllocateAddress", False),
            ((PROJECT_MANAGER,), "AllocateAddress", False),
        ]
        for roles, action, expected in cases:
            self.assertEqual(policy.allowed(context(*roles), action), expected, (roles, action))

    def test_superuserMayDoAnything(self):
        for action in list(policy.ACTION_ROLES) + ["AdminAnything"]:
            self.assertTrue(policy.allowed(context(isAdmin=True), action))

    def test_customTable(self):
        table = {"Custom": ("developer",)}
        self.assertTrue(policy.allowed(context("developer"), "Custom", table))
        self.assertFalse(policy.allowed(context("developer"), "RunInstances", table))

    def test_checkAllowed(self):
        policy.checkAllowed(context("sysadmin"), "RunInstances")
        error = self.assertRaises(
            policy.ActionNotAllowed, policy.checkAllowed, context(), "RunInstances"
        )
        self.assertIsInstance(error, NotAuthorized)
        self.assertEqual(
            (error.ec2Code, error.httpStatus, error.s3Code, error.s3Status),
            ("UnauthorizedOperation", 403, "AccessDenied", 403),
        )
        self.assertIn("RunInstances", str(error))
