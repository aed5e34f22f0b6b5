"""
Tests for L{nova.network.vpn}: the client configuration C{nova.zip}
carries for a project's cloudpipe, and the hiding of cloudpipe instances
and key pairs from users who are not admins (through boto3 against a
running API).
"""

import base64
import io
import os
import struct
import zipfile

import attr
from boto.exception import EC2ResponseError
from twisted.internet import defer, reactor
from twisted.internet.protocol import DatagramProtocol
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nova.config import configFromFlags
from nova.context import RequestContext
from nova.db import images
from nova.network.vpn import (
    CLIENT_CONFIG_NAME,
    clientConfig,
    parseServerReset,
    resetPacket,
    visibleInstances,
    visibleKeyPairs,
    vpnEndpoint,
    vpnPing,
)
from tests.api.ec2.cloud import ALICE, ROOT, CloudServerMixin
from tests.network.test_cloudpipe import VlanManageMixin
from tests.network.util import networkRecord

VLAN_NETWORK = dict(
    cidr="10.0.0.0/26",
    netmask="255.255.255.192",
    gateway="10.0.0.1",
    broadcast="10.0.0.63",
    dhcp_start="10.0.0.3",
    vlan=100,
    bridge="br100",
    vpn_private_address="10.0.0.2",
    vpn_public_port=1000,
    project_id="proj1",
)


@attr.s
class Thing:
    image_id = attr.ib()
    key_name = attr.ib()
    project_id = attr.ib(default="proj1")
    name = attr.ib(default=None)


class ClientConfigTests(SynchronousTestCase):
    def test_clientConfig(self):
        """
        The client is a bridged UDP client of the public address and port,
        with the credentials' files beside it.
        """
        lines = clientConfig("198.51.100.7", 1000).splitlines()
        for line in (
            "client",
            "dev tap",
            "proto udp",
            "remote 198.51.100.7 1000",
            "ca cacert.pem",
            "cert cert.pem",
            "key pk.pem",
            "remote-cert-tls server",
        ):
            self.assertIn(line, lines)

    def test_inlineCA(self):
        """
        Given the CA chain, the configuration carries it in a <ca> block
        instead of naming cacert.pem.
        """
        lines = clientConfig("198.51.100.7", 1000, "PEM1\nPEM2\n").splitlines()
        self.assertNotIn("ca cacert.pem", lines)
        start = lines.index("<ca>")
        self.assertEqual(lines[start : start + 4], ["<ca>", "PEM1", "PEM2", "</ca>"])

    def test_vpnEndpoint(self):
        """
        Only a vlan network with a public VPN address and port has one.
        """
        self.assertIsNone(vpnEndpoint(None))
        self.assertIsNone(vpnEndpoint(networkRecord(**VLAN_NETWORK)))
        flat = dict(VLAN_NETWORK, vlan=None, vpn_public_address="198.51.100.7")
        self.assertIsNone(vpnEndpoint(networkRecord(**flat)))
        ready = dict(VLAN_NETWORK, vpn_public_address="198.51.100.7")
        self.assertEqual(vpnEndpoint(networkRecord(**ready)), ("198.51.100.7", 1000))

    def test_pingPackets(self):
        """
        The client reset is OpenVPN's 14-byte P_CONTROL_HARD_RESET_CLIENT_V2;
        a server reset acknowledging our session is recognised, others not.
        """
        packet = resetPacket(0x0102030405060708)
        self.assertEqual(packet.hex(), "38" + "0102030405060708" + "00" + "00000000")
        import struct

        answer = struct.pack("!BQBIQI", 0x40, 99, 1, 0, 0x0102030405060708, 0)
        self.assertEqual(parseServerReset(answer, 0x0102030405060708), 99)
        self.assertIsNone(parseServerReset(answer, 5))
        self.assertIsNone(parseServerReset(b"\x38" + answer[1:], 0x0102030405060708))
        self.assertIsNone(parseServerReset(answer[:20], 0x0102030405060708))


class VisibilityTests(SynchronousTestCase):
    def setUp(self):
        self.config = configFromFlags(vpn_image_id="ami-0000000a")
        self.user = RequestContext(userId="alice", projectId="proj1")
        self.admin = self.user.elevated()

    def test_instances(self):
        pipe = Thing("ami-0000000a", "proj1-vpn")
        plain = Thing("ami-0000000a", "mine")
        other = Thing("ami-00000001", "proj1-vpn")
        everything = [pipe, plain, other]
        self.assertEqual(visibleInstances(self.config, self.user, everything), [plain, other])
        self.assertEqual(visibleInstances(self.config, self.admin, everything), everything)

    def test_keyPairs(self):
        keys = [Thing(None, None, name="proj1-vpn"), Thing(None, None, name="mine")]
        self.assertEqual(
            [k.name for k in visibleKeyPairs(self.config, self.user, keys)], ["mine"]
        )
        self.assertEqual(visibleKeyPairs(self.config, self.admin, keys), keys)


class ZipfileTests(VlanManageMixin, TestCase):
    """
    C{nova-manage project zipfile} adds C{nova-vpn.conf} once the
    project's network has a public VPN address.
    """

    @defer.inlineCallbacks
    def ok(self, *argv):
        code, out, err = yield self.manage(*argv)
        self.assertEqual((code, err), (0, ""), argv)
        return out

    def names(self, path):
        with zipfile.ZipFile(path) as archive:
            return sorted(archive.namelist())

    @defer.inlineCallbacks
    def test_vpnConfig(self):
        yield self.ok("network", "create", "10.0.0.0/24", "2", "64", "100", "1000")
        yield self.ok("user", "create", "alice")
        yield self.ok("project", "create", "proj1", "alice")
        path = os.path.join(self.state, "nova.zip")
        yield self.ok("project", "zipfile", "proj1", "alice", path)
        self.assertNotIn(CLIENT_CONFIG_NAME, self.names(path))

        yield self.ok("vpn", "run", "proj1")
        yield self.ok("vpn", "change", "proj1", "198.51.100.7", "1000")
        yield self.ok("project", "zipfile", "proj1", "alice", path)
        with zipfile.ZipFile(path) as archive:
            names = sorted(archive.namelist())
            text = archive.read(CLIENT_CONFIG_NAME).decode()
        self.assertEqual(
            names,
            ["cacert.pem", "cert.pem", "cloud-cert.pem", "nova-vpn.conf", "novarc", "pk.pem"],
        )
        lines = text.splitlines()
        self.assertIn("remote 198.51.100.7 1000", lines)
        # Every file the configuration names is in the zip; the CA chain
        # (project CA, then the root that signed it) is written in.
        files = [line.split()[1] for line in lines if line.split()[:1] in (["cert"], ["key"])]
        self.assertEqual(sorted(files), ["cert.pem", "pk.pem"])
        self.assertTrue(set(files) <= set(names))
        from cryptography import x509

        chain = x509.load_pem_x509_certificates(
            text[text.index("<ca>") + 4 : text.index("</ca>")].encode()
        )
        self.assertEqual(len(chain), 2)
        self.assertEqual(chain[0].issuer, chain[1].subject)
        self.assertEqual(chain[1].issuer, chain[1].subject)


class HidingTests(CloudServerMixin, TestCase):
    """
    DescribeInstances and DescribeKeyPairs, through boto3, hide the
    project's cloudpipe and its key pair from members; admins see them.
    """

    async def setUp(self):
        await self.startCloud(vpn_image_id="ami-0000c10d")
        # The VPN image's id is fixed by the flag: give it to the image.
        self.patch(images, "newImageId", lambda imageType: "ami-0000c10d")
        self.image = await self.addImage()
        self.assertEqual(self.image.ec2_id, "ami-0000c10d")
        self.alice = await self.clientFor(ALICE)
        self.root = await self.clientFor(ROOT, project=ALICE.name)

    async def test_hidden(self):
        vpnKey = f"{ALICE.name}-vpn"
        await self.inThread(self.alice.create_key_pair, KeyName=vpnKey)
        await self.inThread(self.alice.create_key_pair, KeyName="mine")
        pipe = await self.runAndWait(self.alice, ImageId=self.image.ec2_id, KeyName=vpnKey)
        plain = await self.runAndWait(self.alice, ImageId=self.image.ec2_id, KeyName="mine")
        pipeId = pipe["Instances"][0]["InstanceId"]
        plainId = plain["Instances"][0]["InstanceId"]

        def ids(answer):
            return sorted(
                i["InstanceId"] for r in answer["Reservations"] for i in r["Instances"]
            )

        seen = await self.inThread(self.alice.describe_instances)
        self.assertEqual(ids(seen), [plainId])
        everything = await self.inThread(self.root.describe_instances)
        self.assertEqual(ids(everything), sorted([pipeId, plainId]))

        keys = await self.inThread(self.alice.describe_key_pairs)
        self.assertEqual([k["KeyName"] for k in keys["KeyPairs"]], ["mine"])
        named = await self.inThread(self.alice.describe_key_pairs, KeyNames=[vpnKey])
        self.assertEqual(named["KeyPairs"], [])


class VpnInfo:
    """
    An item of C{DescribeVpns}, parsed by boto 2 as an admin client
    would.
    """

    def __init__(self, connection=None):
        self.connection = connection
        self.fields = {}

    def startElement(self, name, attrs, connection):
        return None

    def endElement(self, name, value, connection):
        if name != "item":
            self.fields[name] = value


class StartedVpn:
    def __init__(self, connection=None):
        self.instance_id = None

    def startElement(self, name, attrs, connection):
        return None

    def endElement(self, name, value, connection):
        if name == "instance_id":
            self.instance_id = value


class ResetAnswerer(DatagramProtocol):
    """
    Answers OpenVPN client hard resets as a server does.
    """

    def datagramReceived(self, data, address):
        if len(data) >= 9 and data[0] >> 3 == 7:
            (session,) = struct.unpack_from("!Q", data, 1)
            self.transport.write(struct.pack("!BQBIQI", 8 << 3, 42, 1, 0, session, 0), address)


class PingTests(TestCase):
    """
    L{vpnPing} over real UDP sockets on 127.0.0.1.
    """

    async def test_answered(self):
        server = reactor.listenUDP(0, ResetAnswerer(), interface="127.0.0.1")
        self.addCleanup(server.stopListening)
        port = server.getHost().port
        self.assertEqual(await vpnPing(reactor, "127.0.0.1", port, timeout=5.0), 42)

    async def test_silent(self):
        silent = reactor.listenUDP(0, DatagramProtocol(), interface="127.0.0.1")
        self.addCleanup(silent.stopListening)
        port = silent.getHost().port
        self.assertIsNone(await vpnPing(reactor, "127.0.0.1", port, timeout=0.5))


class Credentials:
    def __init__(self, connection=None):
        self.file = None

    def startElement(self, name, attrs, connection):
        return None

    def endElement(self, name, value, connection):
        if name == "file":
            self.file = value


class AdminVpnTests(CloudServerMixin, TestCase):
    """
    StartVpn and DescribeVpns of the admin API, through boto 2 as Nova's
    admin client called them, over a cloud with one vlan network.
    """

    async def setUp(self):
        from nova.network.manager import managerClass

        await self.startCloud(
            vpn_image_id="ami-0000c10d", ca_path=os.path.abspath(self.mktemp())
        )
        self.patch(images, "newImageId", lambda imageType: "ami-0000c10d")
        await self.addImage()
        plans = managerClass("vlan").planNetworks(self.config, "10.1.0.0/24", 1, 64, 200, 18900)
        await self.db.networks.createNetworks(plans)
        self.admin = self.botoConnection(ROOT, path="/services/Admin", apiVersion="nova")

    def vpns(self):
        return self.inThread(self.admin.get_list, "DescribeVpns", {}, [("item", VpnInfo)])

    async def test_startAndDescribe(self):
        self.assertEqual(await self.vpns(), [])
        started = await self.inThread(
            self.admin.get_object, "StartVpn", {"Project": ALICE.name}, StartedVpn
        )
        self.assertRegex(started.instance_id, r"^i-[0-9a-f]{8}$")
        record = await self.instanceRecord(started.instance_id)
        self.assertEqual(
            (record.image_id, record.key_name, record.project_id),
            ("ami-0000c10d", f"{ALICE.name}-vpn", ALICE.name),
        )
        [vpn] = await self.vpns()
        self.assertEqual(
            {k: vpn.fields.get(k) for k in ("project_id", "public_port", "internal_ip", "instance_id")},
            {
                "project_id": ALICE.name,
                "public_port": "18900",
                "internal_ip": "10.1.0.2",
                "instance_id": started.instance_id,
            },
        )
        self.assertRegex(vpn.fields["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        # No public address yet: Cactus's answer for that.
        self.assertEqual(vpn.fields["state"], "down - invalid project vpn config")
        # With a public address, the state is whether OpenVPN answers
        # there (a stand-in server answering client resets on 127.0.0.1).
        network = await self.db.networks.getForProject(ALICE.name)
        await self.db.networks.setVpnPublicAddress(network.id, "127.0.0.1")
        [vpn] = await self.vpns()
        self.assertEqual(vpn.fields["state"], "down")
        server = reactor.listenUDP(18900, ResetAnswerer(), interface="127.0.0.1")
        try:
            [vpn] = await self.vpns()
        finally:
            await server.stopListening()
        self.assertEqual(
            (vpn.fields["state"], vpn.fields["public_ip"]), ("running", "127.0.0.1")
        )
        # GenerateX509ForUser's zip now carries the client configuration.
        answer = await self.inThread(
            self.admin.get_object, "GenerateX509ForUser",
            {"Name": ALICE.name, "Project": ALICE.name}, Credentials,
        )
        with zipfile.ZipFile(io.BytesIO(base64.b64decode(answer.file))) as archive:
            text = archive.read(CLIENT_CONFIG_NAME).decode()
        self.assertIn("remote 127.0.0.1 18900", text.splitlines())
        # A second StartVpn answers the cloudpipe that runs.
        again = await self.inThread(
            self.admin.get_object, "StartVpn", {"Project": ALICE.name}, StartedVpn
        )
        self.assertEqual(again.instance_id, started.instance_id)

    async def test_refused(self):
        """
        An unknown project is InvalidParameterValue; members may not ask.
        """
        with self.assertRaises(EC2ResponseError) as caught:
            await self.inThread(
                self.admin.get_object, "StartVpn", {"Project": "nowhere"}, StartedVpn
            )
        self.assertEqual(
            (caught.exception.status, caught.exception.error_code), (400, "InvalidParameterValue")
        )
        member = self.botoConnection(ALICE, path="/services/Admin", apiVersion="nova")
        for action, params, cls in (
            ("StartVpn", {"Project": ALICE.name}, StartedVpn),
            ("DescribeVpns", {}, VpnInfo),
        ):
            with self.assertRaises(EC2ResponseError) as caught:
                await self.inThread(member.get_object, action, params, cls)
            self.assertEqual(caught.exception.error_code, "UnauthorizedOperation")
