"""
Tests for the wiring: L{nova.api.tap.apiServices} serves both APIs on
C{ec2_port}, and L{nova.api.ec2.apis.mount}.
"""

from twisted.application.service import MultiService
from twisted.internet import reactor
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.resource import Resource

from nova.api.ec2.apis import mount
from nova.api.tap import apiServices
from nova.auth.manager import authManagerFromConfig
from nova.config import configFromFlags
from nova.db.api import inlineDatabase
from tests.api.ec2.support import ALICE, _rawRequest, createUsers, encodeForm, signV2


class APIServicesTests(TestCase):
    async def test_servesBothAPIs(self):
        config = configFromFlags(ec2_port=0, ec2_listen="127.0.0.1")
        db = inlineDatabase("sqlite:", reactor)
        await db.sync()
        services = apiServices(config, reactor, db, None)
        self.assertEqual(len(services), 2)
        self.assertIsInstance(services[0], MultiService)
        ec2 = services[-1]
        self.assertEqual(ec2.name, "ec2-api")
        for service in services:
            service.startService()
            self.addCleanup(service.stopService)
        port = ec2._port.getHost().port
        authManager = ec2.args[1].resource.children[b"services"].children[b"Cloud"].authenticator
        await createUsers(authManager)

        cloud = await deferToThread(_rawRequest, port, "GET", "/services/Cloud?Action=DescribeRegions")
        self.assertEqual((cloud.status, cloud.errorCode()), (401, "AuthFailure"))
        admin = await deferToThread(_rawRequest, port, "GET", "/services/Admin?Action=DescribeUsers")
        self.assertEqual((admin.status, admin.errorCode()), (401, "AuthFailure"))
        host = f"127.0.0.1:{port}"
        body = encodeForm(signV2("POST", host, "/services/Cloud", {"Action": "DescribeRegions"}, ALICE))
        signed = await deferToThread(
            _rawRequest, port, "POST", "/services/Cloud", body,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        self.assertEqual(signed.status, 200, signed.body)
        self.assertIn(b"<regionName>nova</regionName>", signed.body)

    async def test_givenAuthManager(self):
        config = configFromFlags(ec2_port=0, ec2_listen="127.0.0.1")
        db = inlineDatabase("sqlite:", reactor)
        manager = authManagerFromConfig(config, db, reactor)
        services = apiServices(config, reactor, db, None, manager)
        self.assertEqual([s.name for s in services], ["ec2-api"])


class MountTests(SynchronousTestCase):
    def test_mount(self):
        root, leaf, other = Resource(), Resource(), Resource()
        mount(root, "/a/b/c", leaf)
        mount(root, "/a/x", other)
        self.assertIs(root.children[b"a"].children[b"b"].children[b"c"], leaf)
        self.assertIs(root.children[b"a"].children[b"x"], other)
        self.assertRaises(ValueError, mount, root, "/", leaf)
