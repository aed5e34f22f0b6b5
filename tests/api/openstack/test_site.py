"""
Tests for the wiring of the OpenStack site: L{nova.api.tap.apiServices}
serves it on C{osapi_port} beside the EC2 API, and nova-all says where.
"""

import json
import os
import subprocess

from twisted.internet import defer, reactor
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, TestCase

from nova.api.tap import apiServices
from nova.config import configFromFlags
from nova.db.api import inlineDatabase
from tests.api.ec2.support import _rawRequest, createUsers, ALICE
from tests.api.openstack.support import passwordAuth
from tests.api.openstack.test_cli import openstackCommand
from tests.integration.processes import Daemon, runManage


class APIServicesTests(TestCase):
    async def test_servesOpenStack(self):
        config = configFromFlags(
            ec2_port=0, ec2_listen="127.0.0.1", osapi_port=0, osapi_listen="127.0.0.1"
        )
        db = inlineDatabase("sqlite:", reactor)
        await db.sync()
        services = apiServices(config, reactor, db, None, openstack=True)
        self.assertEqual([s.name for s in services[1:]], ["ec2-api", "openstack-api"])
        for service in services:
            service.startService()
            self.addCleanup(service.stopService)
        authManager = services[1].args[1].resource.children[b"services"].children[b"Cloud"].authenticator
        await createUsers(authManager)
        port = services[-1]._port.getHost().port
        body = json.dumps(passwordAuth(ALICE.name, ALICE.secret, ALICE.name)).encode()
        answer = await deferToThread(
            _rawRequest, port, "POST", "/v3/auth/tokens", body,
            {"Content-Type": "application/json", "Connection": "close"},
        )
        self.assertEqual(answer.status, 201, answer.body)
        token = answer.headers["X-Subject-Token"]
        flavors = await deferToThread(
            _rawRequest, port, "GET", "/v2.1/flavors", None,
            {"X-Auth-Token": token, "Connection": "close"},
        )
        self.assertEqual(flavors.status, 200, flavors.body)

    def test_notByDefault(self):
        config = configFromFlags(ec2_port=0, ec2_listen="127.0.0.1")
        db = inlineDatabase("sqlite:", reactor)
        services = apiServices(config, reactor, db, None)
        self.assertNotIn("openstack-api", [s.name for s in services])


class NovaAllTests(TestCase):
    """
    nova-all as a real process serves the OpenStack API and says where;
    the openstack command works against it with the openrc nova-manage
    writes.
    """

    timeout = 180

    @defer.inlineCallbacks
    def test_openstackAgainstNovaAll(self):
        command = openstackCommand()
        if command is None:
            raise SkipTest("python-openstackclient is not installed (the test extra)")
        state = os.path.abspath(self.mktemp())
        flags = [f"--state_path={state}", "--host=allhost", "--osapi_host=127.0.0.1"]
        for argv in (
            ("db", "sync"),
            ("user", "admin", "alice", "alice-access", "alice-secret"),
            ("project", "create", "alice", "alice"),
        ):
            code, out, err = runManage(*flags, *argv)
            self.assertEqual(code, 0, err)
        daemon = Daemon(
            self, "nova-all", *flags, "--ec2_port=0", "--s3_port=0", "--osapi_port=0",
            "--ec2_listen=127.0.0.1", "--s3_listen=127.0.0.1", "--osapi_listen=127.0.0.1",
        ).start()
        match = yield daemon.waitForLog(r"OpenStack API listening on http://127\.0\.0\.1:(\d+)/v3")
        port = match.group(1)
        code, out, err = runManage(
            *flags, f"--osapi_port={port}", "project", "environment", "alice", "alice",
            os.path.join(state, "novarc"),
        )
        self.assertEqual(code, 0, err)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["HOME"] = state
        sourced = subprocess.run(
            ["bash", "-c", f". {state}/openrc && {command} flavor list -f json"],
            env=env, capture_output=True, text=True, timeout=120,
        )
        self.assertEqual(sourced.returncode, 0, sourced.stderr)
        self.assertIn("m1.tiny", [f["Name"] for f in json.loads(sourced.stdout)])
        exitCode = yield daemon.stop()
        self.assertIn(exitCode, (0, -15))
        self.assertNotIn("Traceback", daemon.log())
