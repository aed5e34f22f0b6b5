"""
Tests for the openrc C{nova-manage project environment} writes beside
novarc (L{nova.api.openstack.identity.openrc}).
"""

import os
import stat

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from tests.auth.test_manage import ManageTestMixin, sourced


class OpenrcTests(ManageTestMixin, TestCase):
    @defer.inlineCallbacks
    def test_environmentWritesOpenrc(self):
        self.flags += ["--osapi_host=cloud.example.com", "--osapi_port=8774"]
        yield self.ok("user", "create", "alice", "alice-ak", "it's$secret")
        yield self.ok("project", "create", "proj", "alice")
        path = os.path.join(self.state, "novarc")
        out = yield self.ok("project", "environment", "proj", "alice", path)
        rc = os.path.join(self.state, "openrc")
        self.assertEqual(out, f"wrote {path}\nwrote {rc}\n")
        self.assertEqual(stat.S_IMODE(os.stat(rc).st_mode), 0o600)
        env = sourced(rc)
        self.assertEqual(env["OS_AUTH_URL"], "http://cloud.example.com:8774/v3")
        self.assertEqual(env["OS_USERNAME"], "alice")
        self.assertEqual(env["OS_PASSWORD"], "it's$secret")
        self.assertEqual(env["OS_PROJECT_NAME"], "proj")
        self.assertEqual(env["OS_USER_DOMAIN_NAME"], "Default")
        self.assertEqual(env["OS_PROJECT_DOMAIN_NAME"], "Default")
        self.assertEqual(env["OS_IDENTITY_API_VERSION"], "3")
