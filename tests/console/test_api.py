"""
Tests for C{getVncConsole}: L{nova.compute.api.ComputeAPI.getVncConsole}
over the in-process cloud (the compute manager answers over RPC from its
driver), and the EC2 API's C{GetVncConsole} (Nova's extension, not in
botocore's model: raw signed requests).
"""

from urllib.parse import parse_qs, urlparse

from twisted.internet.defer import succeed
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nova.compute import states
from nova.compute.errors import InstanceNotFound
from nova.virt.errors import ConsoleUnavailable
from nova.virt.fake import FakeVirtDriver
from tests.api.ec2.cloud import BOB as EC2_BOB
from tests.api.ec2.cloud import CloudServerMixin
from tests.compute.util import ALICE, BOB, Cloud

NAMESPACE = "{http://ec2.amazonaws.com/doc/2016-11-15/}"
VNC = {"host": "192.0.2.10", "port": 5907, "password": "s3cret!!"}


class VncDriver(FakeVirtDriver):
    """
    The fake driver, with a VNC server for each running guest at L{VNC}.
    """

    def getVncConsole(self, instanceName):
        self._guest(instanceName)
        return succeed(dict(VNC))


class ComputeAPITests(SynchronousTestCase):
    def setUp(self):
        self.cloud = Cloud(self, hosts=())
        self.api = self.cloud.api

    def console(self, context, instanceId):
        """
        Ask for the console and deliver the RPC call it makes.

        @return: its L{Deferred}.
        """
        d = self.api.getVncConsole(context, instanceId)
        self.cloud.flush()
        return d

    def test_fakeDriverHasNoConsole(self):
        """
        The fake driver serves no VNC console: the answer says so.
        """
        self.cloud.addCompute("h1", FakeVirtDriver())
        _, [instance] = self.cloud.run()
        failure = self.failureResultOf(
            self.console(ALICE, instance.ec2Id), ConsoleUnavailable
        )
        self.assertIn("no VNC console", str(failure.value))

    def test_console(self):
        """
        The compute host tells where the guest's VNC server is; the answer
        is the proxy's websocket URL with a token bound to the instance
        and that server, and the password.
        """
        self.cloud.addCompute("h1", VncDriver())
        _, [instance] = self.cloud.run()
        console = self.successResultOf(self.console(ALICE, instance.ec2Id))
        self.assertEqual(console["instanceId"], instance.ec2Id)
        self.assertEqual(console["type"], "novnc")
        self.assertEqual(console["password"], VNC["password"])
        url = urlparse(console["url"])
        self.assertEqual(
            (url.scheme, url.hostname, url.port, url.path),
            ("ws", self.cloud.config.osapi_host, self.cloud.config.osapi_port, "/websockify"),
        )
        self.assertEqual(parse_qs(url.query), {"token": [console["token"]]})
        found = self.successResultOf(self.api.consoleTokens.get(console["token"]))
        self.assertEqual(
            (found.instance_id, found.project_id, found.host, found.port),
            (instance.id, instance.project_id, VNC["host"], VNC["port"]),
        )
        self.cloud.clock.advance(self.cloud.config.vnc_token_ttl)
        self.assertIsNone(self.successResultOf(self.api.consoleTokens.get(console["token"])))

    def test_baseURL(self):
        """
        C{--vncproxy_base_url} is where browsers are sent.
        """
        self.cloud.addCompute("h1", VncDriver())
        self.api.config = self.api.config.replace(
            vncproxy_base_url="wss://console.example.com/vnc"
        )
        _, [instance] = self.cloud.run()
        console = self.successResultOf(self.console(ALICE, instance.ec2Id))
        self.assertEqual(
            console["url"], f"wss://console.example.com/vnc?token={console['token']}"
        )

    def test_refused(self):
        """
        Another project's instance is not found; one that is not running
        has no console.
        """
        self.cloud.addCompute("h1", VncDriver())
        _, [instance] = self.cloud.run()
        self.failureResultOf(self.console(BOB, instance.ec2Id), InstanceNotFound)
        self.successResultOf(self.cloud.db.instances.update(instance.id, state=states.STOPPED))
        self.failureResultOf(
            self.console(ALICE, instance.ec2Id), states.IncorrectInstanceState
        )


class GetVncConsoleTests(CloudServerMixin, TestCase):
    async def setUp(self):
        await self.startCloud()
        self.client = await self.makeClient()

    def post(self, **params):
        return self.signedPost({"Action": "GetVncConsole", "Version": "2016-11-15", **params})

    async def running(self):
        reservation = await self.runAndWait(self.client)
        return reservation["Instances"][0]["InstanceId"]

    async def test_url(self):
        """
        GetVncConsole answers the websocket URL, its token and the
        password.
        """
        for driver in self.drivers.values():
            driver.getVncConsole = lambda name, driver=driver: (
                driver._guest(name) and succeed(dict(VNC))
            )
        instanceId = await self.running()
        raw = await self.post(InstanceId=instanceId)
        self.assertEqual(raw.status, 200, raw.body)
        xml = raw.xml()
        token = xml.find(f"{NAMESPACE}token").text
        self.assertEqual(xml.find(f"{NAMESPACE}instanceId").text, instanceId)
        self.assertEqual(
            xml.find(f"{NAMESPACE}url").text,
            f"ws://{self.config.osapi_host}:{self.config.osapi_port}/websockify?token={token}",
        )
        self.assertEqual(xml.find(f"{NAMESPACE}password").text, VNC["password"])

    async def test_errors(self):
        """
        The fake hypervisor serves no console (UnsupportedOperation);
        another project's instance, a missing id: clear EC2 errors.
        """
        instanceId = await self.running()
        raw = await self.post(InstanceId=instanceId)
        self.assertEqual(raw.errorCode(), "UnsupportedOperation")
        self.assertIn("no VNC console", raw.body.decode())
        raw = await self.signedPost(
            {"Action": "GetVncConsole", "Version": "2016-11-15", "InstanceId": instanceId},
            user=EC2_BOB,
        )
        self.assertEqual(raw.errorCode(), "InvalidInstanceID.NotFound")
        raw = await self.post()
        self.assertEqual(raw.errorCode(), "MissingParameter")
