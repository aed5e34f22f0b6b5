"""
The C{openstack} command (python-openstackclient) as a user runs it, with
the variables of the openrc that C{nova-manage project environment}
writes, against the OpenStack API of an in-process cloud on fake drivers.
"""

import json
import os
import shutil
import subprocess
import sys

from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, TestCase

from tests.api.ec2.cloud import ALICE
from tests.api.openstack.support import OpenStackCloudMixin


def openstackCommand():
    """
    @return: the path of the C{openstack} command beside this Python, or
        on the PATH; L{None} if there is none.
    """
    beside = os.path.join(os.path.dirname(sys.executable), "openstack")
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which("openstack")


class CLITests(OpenStackCloudMixin, TestCase):
    timeout = 240

    async def setUp(self):
        self.command = openstackCommand()
        if self.command is None:
            raise SkipTest("python-openstackclient is not installed (the test extra)")
        await self.startOpenStack()
        self.image = await self.addImage(name="cirros")
        self.home = os.path.abspath(self.mktemp())
        os.makedirs(self.home)

    def environment(self, user=ALICE):
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("OS_") and key not in ("HOME",)
        }
        env.update(
            HOME=self.home,
            OS_AUTH_URL=self.authURL,
            OS_USERNAME=user.name,
            OS_PASSWORD=user.secret,
            OS_PROJECT_NAME=user.name,
            OS_USER_DOMAIN_NAME="Default",
            OS_PROJECT_DOMAIN_NAME="Default",
            OS_IDENTITY_API_VERSION="3",
        )
        return env

    async def openstack(self, *args, json_=True):
        """
        Run C{openstack ARGS} (with C{-f json} when C{json_}).

        @return: its decoded JSON output, or its text.
        """
        argv = [self.command, *args]
        if json_:
            argv += ["-f", "json"]
        result = await deferToThread(
            subprocess.run,
            argv,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(
            result.returncode, 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
        return json.loads(result.stdout) if json_ else result.stdout

    async def test_session(self):
        """
        flavor list, image list, keypair create, server create --wait,
        server list, server show, server delete.
        """
        flavors = await self.openstack("flavor", "list")
        self.assertIn("m1.tiny", [f["Name"] for f in flavors])
        images = await self.openstack("image", "list")
        self.assertEqual([(i["Name"], i["Status"]) for i in images], [("cirros", "active")])
        self.assertEqual(await self.openstack("server", "list"), [])
        keypair = await self.openstack("keypair", "create", "K", json_=False)
        self.assertIn("PRIVATE KEY", keypair)
        server = await self.openstack(
            "server", "create", "--image", "cirros", "--flavor", "m1.tiny",
            "--key-name", "K", "--wait", "web",
        )
        self.assertEqual(server["status"], "ACTIVE")
        self.assertEqual(server["name"], "web")
        self.assertIn("cirros", server["image"])
        self.assertIn("m1.tiny", server["flavor"])
        servers = await self.openstack("server", "list")
        self.assertEqual([(s["Name"], s["Status"]) for s in servers], [("web", "ACTIVE")])
        self.assertEqual(servers[0]["Image"], "cirros")
        self.assertEqual(servers[0]["Flavor"], "m1.tiny")
        self.assertIn("private", json.dumps(servers[0]["Networks"]))
        await self.openstack("server", "delete", "--wait", "web", json_=False)
        self.assertEqual(await self.openstack("server", "list"), [])
