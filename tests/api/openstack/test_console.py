"""
Tests for the OpenStack API's VNC console: the server action
C{os-getVNCConsole}, C{POST /servers/{id}/remote-consoles} and the
C{os-consoles} extension, through openstacksdk and raw HTTP.  The URL
answered is followed: a websocket through nova-api's proxy reaches the VNC
server the compute host named (a TCP server of the test standing in for
QEMU's, since fake guests have none).
"""

from urllib.parse import urlparse

import openstack
from twisted.internet import reactor
from twisted.internet.defer import succeed
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase
from twisted.web.resource import Resource
from twisted.web.server import Site

from nova.console.proxy import vncProxyResource
from tests.api.ec2.cloud import ALICE, BOB
from tests.api.openstack.support import OpenStackCloudMixin
from tests.console.client import connect

GREETING = b"RFB 003.008\n"


class Greeter(Protocol):
    """
    Says what a VNC server says first, then echoes.
    """

    def connectionMade(self):
        self.transport.write(GREETING)

    def dataReceived(self, data):
        self.transport.write(data)


class ConsoleTests(OpenStackCloudMixin, TestCase):
    timeout = 120

    async def setUp(self):
        await self.startOpenStack()
        self.image = await self.addImage(name="cirros")
        self.token = await self.login()
        vnc = reactor.listenTCP(0, Factory.forProtocol(Greeter), interface="127.0.0.1")
        self.addCleanup(vnc.stopListening)
        self.vncAddress = {"host": "127.0.0.1", "port": vnc.getHost().port, "password": "pw"}
        # nova-api serves the proxy beside the OpenStack API; here it has
        # a listener of its own, as a separate proxy host would.
        root = Resource()
        root.putChild(
            b"websockify", vncProxyResource(self.backends.compute.consoleTokens, reactor)
        )
        proxy = reactor.listenTCP(0, Site(root), interface="127.0.0.1")
        self.addCleanup(proxy.stopListening)
        self.proxyPort = proxy.getHost().port

    def serveConsoles(self):
        """
        Give every fake guest the VNC server of the test.
        """
        for driver in self.drivers.values():
            driver.getVncConsole = lambda name, driver=driver: (
                driver._guest(name) and succeed(dict(self.vncAddress))
            )

    async def createActive(self):
        status, _, body = await self.call(
            "POST",
            "/v2.1/servers",
            {"server": {"name": "web", "imageRef": self.image.ec2_id, "flavorRef": "1"}},
            self.token,
        )
        self.assertEqual(status, 202, body)
        serverId = body["server"]["id"]

        async def active():
            _, _, shown = await self.call("GET", f"/v2.1/servers/{serverId}", token=self.token)
            return serverId if shown["server"]["status"] == "ACTIVE" else None

        return await self.waitFor(active)

    async def assertReachesVnc(self, url):
        """
        The websocket at C{url}'s path and token, opened on the proxy's
        port, relays the VNC server's greeting.
        """
        parsed = urlparse(url)
        self.assertEqual(parsed.scheme, "ws")
        self.assertEqual(parsed.path, "/websockify")
        client = await connect(reactor, self.proxyPort, f"{parsed.path}?{parsed.query}")
        try:
            self.assertEqual(await client.read(len(GREETING)), GREETING)
        finally:
            client.sendClose()
            await client.closed

    def connect(self, user=ALICE):
        return openstack.connect(
            auth_url=self.authURL,
            username=user.name,
            password=user.secret,
            project_name=user.name,
            user_domain_name="Default",
            project_domain_name="Default",
            load_yaml_config=False,
            load_envvars=False,
        )

    async def test_sdk(self):
        """
        openstacksdk's C{get_server_console_url} (the action) and
        C{create_server_remote_console} both answer a URL whose websocket
        reaches the guest's VNC server.
        """
        self.serveConsoles()
        serverId = await self.createActive()
        connection = await deferToThread(self.connect)
        self.addCleanup(deferToThread, connection.close)
        console = await deferToThread(
            lambda: connection.compute.get_server_console_url(serverId, "novnc")
        )
        self.assertEqual(console["type"], "novnc")
        await self.assertReachesVnc(console["url"])
        remote = await deferToThread(
            lambda: connection.compute.create_server_remote_console(serverId, type="novnc")
        )
        self.assertEqual((remote.protocol, remote.type), ("vnc", "novnc"))
        self.assertNotEqual(remote.url, console["url"])
        await self.assertReachesVnc(remote.url)

    async def test_rawForms(self):
        """
        The action and C{remote-consoles} over raw HTTP, on C{/v2.1}, on
        C{/v1.1} and with an older microversion asked for.
        """
        self.serveConsoles()
        serverId = await self.createActive()
        for mount in ("v2.1", "v1.1"):
            status, _, body = await self.call(
                "POST",
                f"/{mount}/servers/{serverId}/action",
                {"os-getVNCConsole": {"type": "novnc"}},
                self.token,
            )
            self.assertEqual(status, 200, body)
            self.assertEqual(set(body["console"]), {"type", "url"})
            await self.assertReachesVnc(body["console"]["url"])
        status, _, body = await self.call(
            "POST",
            f"/v2.1/servers/{serverId}/remote-consoles",
            {"remote_console": {"protocol": "vnc", "type": "novnc"}},
            self.token,
            headers={"OpenStack-API-Version": "compute 2.1"},
        )
        self.assertEqual(status, 200, body)
        self.assertEqual(body["remote_console"]["protocol"], "vnc")
        self.assertEqual(body["remote_console"]["type"], "novnc")
        await self.assertReachesVnc(body["remote_console"]["url"])

    async def test_extensionListed(self):
        status, _, body = await self.call("GET", "/v1.1/extensions", token=self.token)
        self.assertEqual(status, 200, body)
        self.assertIn("os-consoles", {e["alias"] for e in body["extensions"]})
        status, _, body = await self.call("GET", "/v1.1/extensions/os-consoles", token=self.token)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["extension"]["name"], "Consoles")

    async def test_errors(self):
        """
        Bad types and protocols are bad requests; a guest without VNC, a
        conflict; another project's server, not found: all in the API's
        own fault format.
        """
        serverId = await self.createActive()
        path = f"/v2.1/servers/{serverId}"
        cases = [
            ("action", {"os-getVNCConsole": {"type": "spice-html5"}}, 400, "badRequest"),
            ("action", {"os-getVNCConsole": {}}, 400, "badRequest"),
            ("action", {"os-getVNCConsole": "novnc"}, 400, "badRequest"),
            ("remote-consoles", {"remote_console": {"protocol": "spice", "type": "novnc"}},
             400, "badRequest"),
            ("remote-consoles", {"console": {}}, 400, "badRequest"),
            ("remote-consoles", [1], 400, "badRequest"),
            # The fake hypervisor serves no VNC console.
            ("action", {"os-getVNCConsole": {"type": "novnc"}}, 409, "conflict"),
            ("remote-consoles", {"remote_console": {"protocol": "vnc", "type": "novnc"}},
             409, "conflict"),
        ]
        for suffix, body, wanted, name in cases:
            status, _, answer = await self.call("POST", f"{path}/{suffix}", body, self.token)
            self.assertEqual((status, list(answer)), (wanted, [name]), (suffix, body, answer))
            self.assertEqual(answer[name]["code"], wanted)
        self.serveConsoles()
        bobToken = await self.login(BOB)
        status, _, answer = await self.call(
            "POST", f"{path}/action", {"os-getVNCConsole": {"type": "novnc"}}, bobToken
        )
        self.assertEqual(status, 404, answer)
        self.assertIn("itemNotFound", answer)
