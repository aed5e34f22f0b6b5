"""
What a real QEMU guest is given at boot and how it is reached: the libvirt
driver on C{qemu:///system} boots the test guest (C{etc/guest/init}) with
a config drive, which the guest mounts and reports on its serial console,
and with a VNC server, which a websocket client reaches through nova-api's
proxy (L{nova.console.proxy}) with a console token, completing the RFB
handshake: version 3.8, VNC authentication with the guest's password,
ServerInit with the framebuffer's size and the guest's name.

The tests skip when libvirtd does not answer (and fail instead under
C{NOVA_TEST_REQUIRE_SERVICES=1}).  No network is made: the guests have no
network card, the proxy listens on loopback.
"""

from twisted.internet import reactor, task
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase
from twisted.web.resource import Resource
from twisted.web.server import Site

from nova.console.proxy import vncProxyResource
from nova.console.tokens import ConsoleTokenStore
from nova.db.api import inlineDatabase
from tests.console.client import connect, rfbHandshake
from tests.integration.test_libvirt_guest import GuestMixin

STATIC = {
    "address": "10.213.7.9",
    "netmask": "255.255.255.0",
    "gateway": "10.213.7.1",
    "dns": ["10.213.7.1"],
    "injected": True,
}


class ConfigDriveGuestTests(GuestMixin, TestCase):
    def setUp(self):
        self.setUpGuest()

    @inlineCallbacks
    def test_guestReadsItsConfigDrive(self):
        """
        The guest finds the disk labelled config-2, mounts it (ISO 9660)
        and prints its UUID, host name and the static address of an
        injected network; everything it printed before is still there.
        """
        driver = self.makeDriver()
        uuid = "5d0c9a3e-7f41-4c8e-9b1a-2f6d8e4c0a17"
        name = yield self.boot(driver, STATIC, uuid=uuid, hostname="drive-test")
        text = yield self.waitFor(driver, name, "NOVA READY")
        self.assertIn(f"NOVA CONFIG-DRIVE uuid={uuid} hostname=drive-test files=0", text)
        self.assertIn("NOVA CONFIG-DRIVE-NET 10.213.7.9/255.255.255.0 gateway=10.213.7.1", text)
        # The guest's kernel names its disks in order: the drive is vdb.
        self.assertIn("NOVA DISKS vda vdb ", text)
        for marker in ("NOVA TEST GUEST", "NOVA BOOT 1 ", "NOVA NET none"):
            self.assertIn(marker, text)

    @inlineCallbacks
    def test_forcedDriveWithoutNetwork(self):
        """
        C{--force_config_drive} gives a drive to a guest whose network is
        not injected: its network data says DHCP.
        """
        driver = self.makeDriver(forceConfigDrive=True)
        uuid = "5d0c9a3e-7f41-4c8e-9b1a-2f6d8e4c0a18"
        name = yield self.boot(driver, dict(STATIC, injected=False), uuid=uuid)
        text = yield self.waitFor(driver, name, "NOVA READY")
        self.assertIn(f"NOVA CONFIG-DRIVE uuid={uuid} hostname={name} files=0", text)
        self.assertIn("NOVA CONFIG-DRIVE-NET dhcp", text)

    @inlineCallbacks
    def test_personalityFiles(self):
        """
        An instance that asked for a config drive gets one without
        C{--force_config_drive}; its personality files are in
        C{openstack/content/}, listed in C{meta_data.json}, and the guest
        reads each back.
        """
        driver = self.makeDriver()
        uuid = "5d0c9a3e-7f41-4c8e-9b1a-2f6d8e4c0a19"
        name = yield self.boot(
            driver,
            uuid=uuid,
            configDrive=True,
            personality=(
                ("/etc/motd", b"welcome to the personality test\nsecond line\n"),
                ("/root/.ssh/extra", b"ssh-ed25519 AAAAC3Nz extra@test"),
            ),
        )
        text = yield self.waitFor(driver, name, "NOVA READY")
        self.assertIn(f"NOVA CONFIG-DRIVE uuid={uuid} hostname={name} files=2", text)
        self.assertIn(
            "NOVA CONFIG-DRIVE-FILE /etc/motd welcome to the personality test\r\n", text
        )
        self.assertIn(
            "NOVA CONFIG-DRIVE-FILE /root/.ssh/extra ssh-ed25519 AAAAC3Nz extra@test", text
        )
        self.assertNotIn("second line", text)

    @inlineCallbacks
    def test_noDrive(self):
        driver = self.makeDriver()
        name = yield self.boot(driver)
        text = yield self.waitFor(driver, name, "NOVA READY")
        self.assertNotIn("CONFIG-DRIVE", text)
        self.assertIn("NOVA DISKS vda ", text)


class VncConsoleTests(GuestMixin, TestCase):
    def setUp(self):
        self.setUpGuest()
        self.clock = task.Clock()
        self.clock.advance(reactor.seconds())
        db = inlineDatabase("sqlite:", self.clock)
        self.successResultOf(db.sync())
        self.addCleanup(db.transactor.close)
        self.tokens = ConsoleTokenStore(db.transactor, self.clock)
        root = Resource()
        root.putChild(b"websockify", vncProxyResource(self.tokens, reactor))
        self.web = reactor.listenTCP(0, Site(root), interface="127.0.0.1")
        self.addCleanup(self.web.stopListening)
        self.port = self.web.getHost().port

    @inlineCallbacks
    def session(self, token, password):
        client = yield connect(reactor, self.port, f"/websockify?token={token}")
        try:
            info = yield rfbHandshake(client, password)
        finally:
            client.sendClose()
            yield client.closed
        return info

    @inlineCallbacks
    def test_rfbHandshakeThroughTheProxy(self):
        """
        The guest's VNC server, found in its live definition, answers
        through the proxy: RFB 3.8, VNC authentication with its password,
        and ServerInit with a framebuffer and the guest's name.  A wrong
        password fails authentication; an unknown or expired token is
        refused before any VNC traffic.
        """
        driver = self.makeDriver(vncListen="127.0.0.1")
        name = yield self.boot(driver)
        yield self.waitFor(driver, name, "NOVA TEST GUEST")
        console = yield driver.getVncConsole(name)
        self.assertEqual(console["host"], "127.0.0.1")
        self.assertGreaterEqual(console["port"], 5900)
        self.assertEqual(len(console["password"]), 8)
        issued = yield self.tokens.create(1, "wonderland", console["host"], console["port"], 60)

        info = yield self.session(issued.token, console["password"])
        self.assertEqual(info["version"], b"RFB 003.008\n")
        self.assertIn(2, info["securityTypes"])
        self.assertEqual(info["result"], 0)
        self.assertGreater(info["width"], 0)
        self.assertGreater(info["height"], 0)
        self.assertIn(name, info["name"])

        wrong = "x" * 8 if console["password"] != "x" * 8 else "y" * 8
        info = yield self.session(issued.token, wrong)
        self.assertNotEqual(info["result"], 0)
        self.assertNotIn("width", info)

        yield self.assertFailure(
            connect(reactor, self.port, "/websockify?token=not-a-token"), Exception
        )
        self.clock.advance(61)
        yield self.assertFailure(
            connect(reactor, self.port, f"/websockify?token={issued.token}"), Exception
        )
