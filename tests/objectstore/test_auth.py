# -*- test-case-name: tests.objectstore.test_auth -*-
"""
Tests for L{nova.objectstore.auth}: who grants may name.
"""

from twisted.internet.defer import fail, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from nova.auth.interfaces import ProjectNotFound
from nova.objectstore.auth import (
    AnonymousAuthenticator,
    ProjectCanonicalUsers,
    StaticKey,
    StaticKeyAuthenticator,
    canonicalUsersOf,
)
from nova.objectstore.interfaces import ICanonicalUsers


class FakeAuthManager:
    def __init__(self, projects):
        self.projects = projects

    def getProject(self, name):
        if name in self.projects:
            return succeed(name)
        return fail(ProjectNotFound(name))


class CanonicalUsersTests(SynchronousTestCase):
    def test_staticKeys(self):
        authenticator = StaticKeyAuthenticator({"AK": StaticKey("s", "alice", "proj1")}, Clock())
        self.assertTrue(verifyObject(ICanonicalUsers, authenticator))
        self.assertIs(canonicalUsersOf(authenticator), authenticator)
        self.assertTrue(self.successResultOf(authenticator.isCanonicalUser("proj1")))
        self.assertFalse(self.successResultOf(authenticator.isCanonicalUser("alice")))

    def test_projects(self):
        users = ProjectCanonicalUsers(FakeAuthManager({"proj1"}))
        self.assertTrue(verifyObject(ICanonicalUsers, users))
        self.assertTrue(self.successResultOf(users.isCanonicalUser("proj1")))
        self.assertFalse(self.successResultOf(users.isCanonicalUser("proj2")))

    def test_nobody(self):
        self.assertIsNone(canonicalUsersOf(AnonymousAuthenticator()))
