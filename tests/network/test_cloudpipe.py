"""
Tests for L{nova.network.cloudpipe} and C{nova-manage vpn}: what nova
sets up for a project's VPN (key pair, security group, certificates signed
by the project's CA, user data, the VPN address and the public port
forward); the VPN image itself is the operator's.
"""

import base64
import io
import os
import stat
import zipfile

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.internet import defer, reactor, task
from twisted.internet.defer import ensureDeferred, maybeDeferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nova.auth.ca import CertificateAuthority
from nova.auth.manager import KeyPairService
from nova.compute.api import ComputeAPI, UnlimitedQuotas
from nova.config import configFromFlags
from nova.context import RequestContext
from nova.manage import run
from nova.network.cloudpipe import (
    BUNDLE_FILES,
    CloudPipe,
    CloudpipeError,
    clientPool,
    isCloudpipe,
    serverConfig,
    userData,
    vpnFiles,
)
from nova.network.security_groups import SecurityGroupAPI
from tests.network.util import NetworkHarness, networkRecord

CTX = RequestContext(userId="alice", projectId="proj1")

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


def _inline(function, *args):
    return maybeDeferred(function, *args)


def unzip(text):
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(text)))
    return archive, {name: archive.read(name).decode() for name in archive.namelist()}


class FilesTests(SynchronousTestCase):
    def test_clientPool(self):
        network = networkRecord(**VLAN_NETWORK)
        self.assertEqual(clientPool(network, 5), ("10.0.0.58", "10.0.0.62"))
        self.assertIsNone(clientPool(network, 0))

    def test_serverConfig(self):
        network = networkRecord(**VLAN_NETWORK)
        text = serverConfig(network, 5)
        lines = text.splitlines()
        for line in (
            "port 1194",
            "proto udp",
            "dev tap0",
            "ca /etc/openvpn/ca.crt",
            "cert /etc/openvpn/server.crt",
            "key /etc/openvpn/server.key",
            "crl-verify /etc/openvpn/crl.pem",
            "server-bridge 10.0.0.2 255.255.255.192 10.0.0.58 10.0.0.62",
            "max-clients 5",
        ):
            self.assertIn(line, lines)
        self.assertIn("server-bridge", serverConfig(network, 0).splitlines())

    def test_isCloudpipe(self):
        class Instance:
            image_id, key_name, project_id = "ami-0000000a", "proj1-vpn", "proj1"

        config = configFromFlags(vpn_image_id="ami-0000000a")
        self.assertTrue(isCloudpipe(config, Instance()))
        Instance.key_name = "mine"
        self.assertFalse(isCloudpipe(config, Instance()))
        self.assertFalse(isCloudpipe(config.replace(vpn_image_id=""), Instance()))


class CertificateTests(TestCase):
    """
    The server certificate is signed by the project's CA (a real CA on
    disk; RSA keys take a moment, so this runs on the reactor).
    """

    timeout = 120

    def setUp(self):
        self.authority = CertificateAuthority(self.mktemp(), task.Clock(), useProjectCA=True)
        self.config = configFromFlags(
            network_manager="vlan", cnt_vpn_clients=3, vpn_image_id="ami-0000000a"
        )

    @defer.inlineCallbacks
    def test_files(self):
        network = networkRecord(**VLAN_NETWORK)
        files = yield deferToThread(vpnFiles, self.config, self.authority, network)
        self.assertEqual(sorted(files), sorted(BUNDLE_FILES))
        certificate = x509.load_pem_x509_certificate(files["server.crt"].encode())
        chain = x509.load_pem_x509_certificates(files["ca.crt"].encode())
        projectCA = x509.load_pem_x509_certificate(self.authority.projectCertificatePEM("proj1").encode())
        root = x509.load_pem_x509_certificate(self.authority.rootCertificatePEM().encode())
        self.assertEqual(chain, [projectCA, root])
        self.assertEqual(certificate.issuer, projectCA.subject)
        projectCA.public_key().verify(
            certificate.signature,
            certificate.tbs_certificate_bytes,
            padding.PKCS1v15(),
            certificate.signature_hash_algorithm,
        )
        self.assertEqual(
            certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value, "proj1-vpn"
        )
        usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        self.assertEqual(list(usage), [ExtendedKeyUsageOID.SERVER_AUTH])
        key = serialization.load_pem_private_key(files["server.key"].encode(), None)
        self.assertEqual(key.public_key().public_numbers(), certificate.public_key().public_numbers())
        crl = x509.load_pem_x509_crl(files["crl.pem"].encode())
        self.assertEqual(crl.issuer, projectCA.subject)
        self.assertIn("server-bridge 10.0.0.2 255.255.255.192 10.0.0.60 10.0.0.62", files["server.conf"])
        self.assertIn("ip addr add 10.0.0.2/26 dev br0", files["autorun.sh"])
        self.assertIn("ip route replace default via 10.0.0.1", files["autorun.sh"])
        [record] = self.authority.certificates(projectId="proj1", kind="server")
        self.assertEqual(record.serial, certificate.serial_number)
        archive, unpacked = unzip(userData(files))
        self.assertEqual(archive.namelist(), list(BUNDLE_FILES))
        self.assertEqual(unpacked, files)
        self.assertEqual(archive.getinfo("autorun.sh").external_attr >> 16, 0o755)
        self.assertEqual(archive.getinfo("server.key").external_attr >> 16, 0o600)


class LaunchTests(NetworkHarness, TestCase):
    """
    L{CloudPipe.launch} with a real database, the in-process bus, the
    compute API and a real CA.
    """

    mode = "vlan"
    timeout = 120

    def setUp(self):
        self.setUpHarness()
        self.keys = os.path.abspath(self.mktemp())
        self.config = self.configFor(
            "net1", vpn_image_id="ami-0000000a", vpn_keys_path=self.keys, cnt_vpn_clients=2
        )
        self.createNetworks("10.0.0.0/24", 2, 64)
        self.authority = CertificateAuthority(self.mktemp(), task.Clock(), useProjectCA=True)
        self.securityGroups = SecurityGroupAPI(self.db, self.rpc)
        self.compute = ComputeAPI(self.config, self.db, self.rpc, self.clock, UnlimitedQuotas())
        self.pipe = CloudPipe(
            self.config,
            self.db,
            self.compute,
            self.securityGroups,
            KeyPairService(self.db.keypairs, _inline),
            self.authority,
            _inline,
        )

    @defer.inlineCallbacks
    def test_launch(self):
        instance = yield ensureDeferred(self.pipe.launch(CTX))
        self.assertEqual(
            (instance.image_id, instance.key_name, instance.instance_type, instance.state),
            ("ami-0000000a", "proj1-vpn", "m1.tiny", "pending"),
        )
        self.assertEqual(instance.security_groups, "proj1-vpn")
        keyPair = yield self.db.keypairs.get("alice", "proj1-vpn")
        self.assertEqual(instance.key_data, keyPair.public_key)
        keyFile = os.path.join(self.keys, "alice", "proj1-vpn.pem")
        self.assertEqual(stat.S_IMODE(os.stat(keyFile).st_mode), 0o600)
        with open(keyFile) as f:
            self.assertIn("PRIVATE KEY", f.read())
        group = yield self.db.securityGroups.getByName("proj1", "proj1-vpn")
        self.assertEqual(
            sorted((r.protocol, r.from_port, r.to_port, r.cidr) for r in group.rules),
            [("icmp", -1, -1, "0.0.0.0/0"), ("udp", 1194, 1194, "0.0.0.0/0")],
        )
        members = yield self.db.securityGroups.instancesInGroup(group.id)
        self.assertEqual(members, [instance.id])
        network = yield self.db.networks.getForProject("proj1")
        archive, files = unzip(instance.user_data)
        self.assertEqual(sorted(files), sorted(BUNDLE_FILES))
        self.assertIn(f"server-bridge {network.vpn_private_address} 255.255.255.192", files["server.conf"])
        self.assertIn(("cast", "scheduler", "runInstance"), [m[:3] for m in self.rpc.sent])
        # A second launch is refused while the first lives.
        yield self.assertFailure(ensureDeferred(self.pipe.launch(CTX)), CloudpipeError)
        # The key pair and group are reused once it is gone.
        yield self.db.instances.update(instance.id, state="terminated")
        again = yield ensureDeferred(self.pipe.launch(CTX))
        self.assertNotEqual(again.id, instance.id)

    @defer.inlineCallbacks
    def test_notConfigured(self):
        self.pipe.config = self.config.replace(vpn_image_id="")
        yield self.assertFailure(ensureDeferred(self.pipe.launch(CTX)), CloudpipeError)

    @defer.inlineCallbacks
    def test_networkGivesTheVpnAddressAndForward(self):
        """
        The network service gives the cloudpipe instance its network's VPN
        address, and forwards the network's public port to it.
        """
        self.addHost("net1", vpn_image_id="ami-0000000a")
        instance = yield ensureDeferred(self.pipe.launch(CTX))
        info = self.call(CTX, "network", "allocateFixedIp", instanceId=instance.id)
        network = yield self.db.networks.getForProject("proj1")
        self.assertEqual(info["address"], network.vpn_private_address)
        self.assertEqual(info["address"], "10.0.0.2")
        driver = self.drivers["net1"]
        self.assertEqual(driver.vpnForwards, {("192.0.2.1", 1000): "10.0.0.2"})
        other = self.createInstance("proj1", hostname="web")
        info = self.call(CTX, "network", "allocateFixedIp", instanceId=other.id)
        self.assertEqual(info["address"], "10.0.0.3")


class VlanManageMixin:
    """
    A L{TestCase} mixin: nova-manage in process on a state directory of
    the test's own, with vlan networking and a cloudpipe image.
    """

    timeout = 120

    def setUp(self):
        self.state = os.path.abspath(self.mktemp())
        self.flags = ["--network_manager=vlan", "--vpn_image_id=ami-0000000a", "--use_project_ca"]
        return self.manage("db", "sync")

    @defer.inlineCallbacks
    def manage(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        code = yield run(reactor, [f"--state_path={self.state}", *self.flags, *argv], out, err)
        return code, out.getvalue(), err.getvalue()


class ManageTests(VlanManageMixin, TestCase):

    @defer.inlineCallbacks
    def test_runListChange(self):
        for argv in (
            ("network", "create", "10.0.0.0/24", "2", "64", "100", "1000"),
            ("user", "create", "alice"),
            ("project", "create", "proj1", "alice"),
        ):
            code, out, err = yield self.manage(*argv)
            self.assertEqual((code, err), (0, ""), argv)
        code, out, err = yield self.manage("vpn", "run", "proj1")
        self.assertEqual((code, err), (0, ""))
        self.assertRegex(out, r"^cloudpipe i-[0-9a-f]{8} of project proj1 launched\n$")
        code, out, err = yield self.manage("vpn", "list")
        self.assertEqual(code, 0)
        [header, row] = out.splitlines()
        self.assertEqual(header.split(), ["Project", "Network", "Public", "Private", "Instance", "State"])
        self.assertEqual(row.split()[:4], ["proj1", "10.0.0.0/26", "-:1000", "10.0.0.2"])
        self.assertEqual(row.split()[5], "pending")
        self.assertTrue(os.path.exists(os.path.join(self.state, "keys", "alice", "proj1-vpn.pem")))
        code, out, err = yield self.manage("vpn", "change", "proj1", "198.51.100.7", "1000")
        self.assertEqual((code, err), (0, ""))
        code, out, err = yield self.manage("vpn", "list")
        self.assertEqual(out.splitlines()[1].split()[2], "198.51.100.7:1000")
        code, out, err = yield self.manage("vpn", "change", "proj1", "198.51.100.7", "2000")
        self.assertEqual((code, err), (0, ""))
        code, out, err = yield self.manage("vpn", "list")
        self.assertEqual(out.splitlines()[1].split()[2], "198.51.100.7:2000")
        for port in ("70000", "x"):
            code, out, err = yield self.manage("vpn", "change", "proj1", "198.51.100.7", port)
            self.assertEqual(code, 1)
            self.assertIn("bad", err)
        code, out, err = yield self.manage("vpn", "run", "proj1")
        self.assertEqual(code, 1)
        self.assertIn("has its cloudpipe already", err)
        code, out, err = yield self.manage("vpn", "spawn")
        self.assertEqual((code, out), (0, "every project network has its cloudpipe\n"))
