"""
Tests for L{nova.virt.configdrive} (the files of a config drive and its
ISO 9660 image, read back with pycdlib) and for the libvirt driver's use
of it and of VNC consoles on C{test:///default}.  A real QEMU guest reads
its config drive and serves its VNC console in
L{tests.integration.test_libvirt_console}.
"""

import json
import os
from xml.etree import ElementTree

from twisted.trial.unittest import SynchronousTestCase

from nova.virt import configdrive, errors
from nova.virt import libvirt as lv
from nova.virt.interfaces import InstanceSpec
from tests.virt.test_libvirt import NETWORK, _Helpers, spec

INSTANCE = InstanceSpec(
    name="instance-0000002a",
    uuid="7b1c0c4e-8a55-4b52-9c1c-0d9e4d6b2a2a",
    imageId="ami-00000001",
    kernelId="aki-00000002",
    macAddress="02:16:3E:00:00:2A",
    keyData="ssh-rsa AAAAB3Nza alice@example",
    keyName="alice-key",
    hostname="web-1",
    displayName="web server",
    userData="IyEvYmluL3NoCmVjaG8gaGkK",  # "#!/bin/sh\necho hi\n"
    launchIndex=2,
    reservationId="r-00000007",
    availabilityZone="zone-a",
    ec2Id="i-0000002a",
    instanceType="m1.tiny",
)
FLAT = {
    "address": "10.0.0.42",
    "mac": "02:16:3e:00:00:2a",
    "netmask": "255.255.255.0",
    "gateway": "10.0.0.1",
    "dns": ["10.0.0.1", "192.0.2.53"],
    "network_id": 1,
    "injected": True,
}


class DriveFilesTests(SynchronousTestCase):
    def files(self, instance=INSTANCE, networkInfo=FLAT, **kw):
        return configdrive.driveFiles(instance, networkInfo, **kw)

    def test_metaData(self):
        files = self.files(personality=[("/etc/motd", "hello\n"), ("/root/x", b"\x00\x01")])
        meta = json.loads(files["openstack/latest/meta_data.json"])
        self.assertEqual(meta["uuid"], INSTANCE.uuid)
        self.assertEqual(meta["hostname"], "web-1")
        self.assertEqual(meta["name"], "web server")
        self.assertEqual(meta["launch_index"], 2)
        self.assertEqual(meta["availability_zone"], "zone-a")
        self.assertEqual(meta["public_keys"], {"alice-key": INSTANCE.keyData})
        self.assertEqual(
            meta["files"],
            [
                {"path": "/etc/motd", "content_path": "/content/0000"},
                {"path": "/root/x", "content_path": "/content/0001"},
            ],
        )
        self.assertEqual(files["openstack/content/0000"], b"hello\n")
        self.assertEqual(files["openstack/content/0001"], b"\x00\x01")
        self.assertEqual(files["openstack/latest/user_data"], b"#!/bin/sh\necho hi\n")
        self.assertEqual(files["ec2/latest/user-data"], b"#!/bin/sh\necho hi\n")
        ec2 = json.loads(files["ec2/latest/meta-data.json"])
        self.assertEqual(ec2["instance-id"], "i-0000002a")
        self.assertEqual(ec2["local-ipv4"], "10.0.0.42")
        self.assertEqual(ec2["reservation-id"], "r-00000007")
        self.assertEqual(ec2["public-keys"], {"0": {"openssh-key": INSTANCE.keyData}})

    def test_injectedNetworkIsStatic(self):
        """
        A network marked for injection (C{--flat_injected}) gives the
        guest its address, netmask, default route and DNS servers.
        """
        network = json.loads(self.files()["openstack/latest/network_data.json"])
        self.assertEqual(
            network["links"],
            [
                {
                    "id": "eth0",
                    "type": "phy",
                    "ethernet_mac_address": "02:16:3e:00:00:2a",
                    "mtu": None,
                }
            ],
        )
        [net] = network["networks"]
        self.assertEqual(
            (net["type"], net["link"], net["ip_address"], net["netmask"]),
            ("ipv4", "eth0", "10.0.0.42", "255.255.255.0"),
        )
        self.assertEqual(
            net["routes"], [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1"}]
        )
        self.assertEqual(
            network["services"],
            [{"type": "dns", "address": "10.0.0.1"}, {"type": "dns", "address": "192.0.2.53"}],
        )

    def test_dhcpNetwork(self):
        network = json.loads(
            self.files(networkInfo=dict(FLAT, injected=False))["openstack/latest/network_data.json"]
        )
        [net] = network["networks"]
        self.assertEqual(net["type"], "ipv4_dhcp")
        self.assertNotIn("ip_address", net)
        empty = json.loads(self.files(networkInfo=None)["openstack/latest/network_data.json"])
        self.assertEqual(empty, {"links": [], "networks": [], "services": []})

    def test_noUserDataNoKey(self):
        files = self.files(InstanceSpec(name="instance-00000001"), None)
        self.assertNotIn("openstack/latest/user_data", files)
        meta = json.loads(files["openstack/latest/meta_data.json"])
        self.assertNotIn("public_keys", meta)
        self.assertEqual(meta["hostname"], "instance-00000001")

    def test_badPersonality(self):
        for path in ("relative", "/", "/a/../../etc/shadow", "/x\0y", 7):
            self.assertRaises(
                errors.VirtError, self.files, personality=[(path, "x")]
            )
        self.assertRaises(
            errors.VirtError,
            self.files,
            personality=[("/big", b"x" * (configdrive.MAX_FILE_BYTES + 1))],
        )


class ImageTests(SynchronousTestCase):
    def test_roundTrip(self):
        """
        The image is ISO 9660 labelled C{config-2}; its Rock Ridge names
        and contents are the files given.
        """
        files = configdrive.driveFiles(INSTANCE, FLAT, personality=[("/etc/motd", "hi")])
        path = os.path.abspath(self.mktemp())
        configdrive.thd_writeImage(files, path)
        with open(path, "rb") as f:
            f.seek(0x8001)
            self.assertEqual(f.read(5), b"CD001")
            f.seek(0x8028)
            self.assertEqual(f.read(32).rstrip(), b"config-2")
        label, found = configdrive.thd_readImage(path)
        self.assertEqual(label, "config-2")
        self.assertEqual(found, files)
        self.assertFalse(os.path.exists(path + ".part"))

    def test_badPath(self):
        path = os.path.abspath(self.mktemp())
        for bad in ("a/../b", "a//b", "a/b c"):
            self.assertRaises(errors.VirtError, configdrive.thd_writeImage, {bad: b"x"}, path)
        self.assertFalse(os.path.exists(path))


class LibvirtConfigDriveTests(_Helpers, SynchronousTestCase):
    """
    The libvirt driver gives guests a config drive as a read-only disk
    C{vdz}, and a VNC server with a password, on C{test:///default}.
    """

    def disks(self, driver, name):
        xml = self.successResultOf(driver.connection.run(lambda c: c.lookupByName(name).XMLDesc(0)))
        return {
            d.find("target").get("dev"): d
            for d in ElementTree.fromstring(xml).findall("devices/disk")
        }

    def test_forced(self):
        driver = self.makeDriver(forceConfigDrive=True)
        instance = spec(hostname="box", uuid="7b1c0c4e-8a55-4b52-9c1c-0d9e4d6b2a2b")
        self.spawn(driver, instance, NETWORK)
        path = os.path.join(self.instancesPath, instance.name, configdrive.FILE_NAME)
        disks = self.disks(driver, instance.name)
        self.assertEqual(sorted(disks), ["vda", "vdz"])
        self.assertEqual(disks["vdz"].find("source").get("file"), path)
        self.assertIsNotNone(disks["vdz"].find("readonly"))
        self.assertEqual(disks["vdz"].find("target").get("bus"), "virtio")
        label, files = configdrive.thd_readImage(path)
        self.assertEqual(label, "config-2")
        meta = json.loads(files["openstack/latest/meta_data.json"])
        self.assertEqual((meta["uuid"], meta["hostname"]), (instance.uuid, "box"))
        self.successResultOf(driver.destroy(instance.name))
        self.assertFalse(os.path.exists(path))

    def test_injectedNetwork(self):
        """
        Without C{--force_config_drive}, only a guest whose network is
        marked for injection gets a config drive, with its address.
        """
        driver = self.makeDriver()
        plain = spec()
        self.spawn(driver, plain, NETWORK)
        self.assertEqual(sorted(self.disks(driver, plain.name)), ["vda"])
        injected = spec()
        self.spawn(driver, injected, dict(NETWORK, address="10.0.0.9", injected=True))
        self.assertEqual(sorted(self.disks(driver, injected.name)), ["vda", "vdz"])
        _, files = configdrive.thd_readImage(
            os.path.join(self.instancesPath, injected.name, configdrive.FILE_NAME)
        )
        [net] = json.loads(files["openstack/latest/network_data.json"])["networks"]
        self.assertEqual((net["type"], net["ip_address"]), ("ipv4", "10.0.0.9"))

    def test_vncGraphics(self):
        """
        With C{vncListen} each guest gets a VNC server on that address, a
        port libvirt picks and a password of its own.
        """
        driver = self.makeDriver(vncListen="127.0.0.1")
        first, second = spec(), spec()
        for instance in (first, second):
            self.spawn(driver, instance)
        passwords = []
        for instance in (first, second):
            xml = self.successResultOf(
                driver.connection.run(
                    lambda c, n=instance.name: c.lookupByName(n).XMLDesc(
                        lv.libvirt.VIR_DOMAIN_XML_SECURE
                    )
                )
            )
            [graphics] = ElementTree.fromstring(xml).findall("devices/graphics")
            self.assertEqual(
                (graphics.get("type"), graphics.get("autoport"), graphics.get("listen")),
                ("vnc", "yes", "127.0.0.1"),
            )
            self.assertEqual(len(graphics.get("passwd")), 8)
            passwords.append(graphics.get("passwd"))
        self.assertNotEqual(passwords[0], passwords[1])
        # test:///default runs no VNC server, so gives no port.
        self.failureResultOf(driver.getVncConsole(first.name), errors.ConsoleUnavailable)
        self.failureResultOf(driver.getVncConsole("instance-nope"), errors.GuestNotFound)

    def test_noVnc(self):
        driver = self.makeDriver()
        instance = spec()
        self.spawn(driver, instance)
        failure = self.failureResultOf(
            driver.getVncConsole(instance.name), errors.ConsoleUnavailable
        )
        self.assertIn("no VNC console", str(failure.value))

    def test_vncConsoleOf(self):
        domain = ElementTree.fromstring(
            "<domain><name>g</name><devices>"
            "<graphics type='vnc' port='5903' autoport='yes' listen='127.0.0.1' passwd='pw'>"
            "<listen type='address' address='192.0.2.7'/></graphics></devices></domain>"
        )
        self.assertEqual(
            lv.vncConsoleOf(domain), {"host": "192.0.2.7", "port": 5903, "password": "pw"}
        )
        domain.find("devices/graphics").set("port", "-1")
        self.assertRaises(errors.ConsoleUnavailable, lv.vncConsoleOf, domain)
