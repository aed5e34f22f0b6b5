"""
Volumes over iSCSI to real guests: the attach contract
(L{tests.volume.test_attach_contract}) with the real volume manager on the
file volume driver exporting each volume through a tgtd of the test's own
(C{--volume_export=iscsi}), and the real compute manager on the libvirt
driver booting the test guest under QEMU, whose own iSCSI initiator
reaches the targets.  The data path is checked from this host through the
target (QEMU's C{qemu-io} and C{qemu-img dd} on C{iscsi://} URLs) and by
the guest itself: a guest booted with the volume as its first disk writes
its boot counter into the volume's first sector, and the next guest given
the same volume reads it and counts on.

The tests skip when libvirtd, tgt or QEMU's iSCSI block driver are missing
(and fail instead under C{NOVA_TEST_REQUIRE_SERVICES=1}).  The tgtd, its
targets, the volume files and the guests are the test's own (names unique
to the run) and are removed at the end.
"""

import os
import shutil

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase

from nova.compute import states
from nova.util.process import ReactorProcessRunner
from nova.virt import power
from nova.virt.interfaces import VolumeConnection
from nova.volume.file import FileVolumeDriver
from nova.volume.interfaces import VolumeSpec
from nova.volume.lvm import TgtExporter
from tests.integration.test_libvirt_guest import RUN, GuestMixin
from tests.util import requireCondition, workerPort
from tests.volume.test_attach_contract import AttachContract
from tests.volume.test_tgt import PrivateTgtd

#: The test's tgtd: its portal's TCP port and its control port.
PORTAL_PORT = workerPort(18601)
CONTROL_PORT = workerPort(18602)
PREFIX = f"iqn.2010-10.org.openstack.test{RUN}:"


def lastDisks(text):
    """
    @return: the disks the guest's console last listed (C{NOVA DISKS}).
    """
    lines = [line for line in text.splitlines() if line.startswith("NOVA DISKS")]
    return lines[-1].split()[2:] if lines else []


class IscsiGuestMixin(GuestMixin):
    """
    Libvirt guests and file volumes exported by a private tgtd.

    @ivar portalPort: the tgtd's portal's TCP port.
    @ivar controlPort: the tgtd's control port.
    @ivar targetPrefix: the prefix of the targets' IQNs.
    """

    portalPort = PORTAL_PORT
    controlPort = CONTROL_PORT
    targetPrefix = PREFIX

    @inlineCallbacks
    def setUpIscsi(self):
        self.setUpGuest()
        self.tgtd = PrivateTgtd(self, self.controlPort, self.portalPort)
        yield self.tgtd.start()
        self.qemu = ReactorProcessRunner(reactor, timeout=60)
        out, err, code = yield self.qemu.run(["qemu-img", "--help"])
        requireCondition(code == 0, "qemu-img is not installed")
        requireCondition(shutil.which("qemu-io") is not None, "qemu-io is not installed")
        self.volumesPath = self.publicPath()

    def makeVolumeDriver(self):
        exporter = TgtExporter(
            self.tgtd.runner(), iscsiAddress="127.0.0.1", iscsiPort=self.portalPort,
            targetPrefix=self.targetPrefix,
        )
        return FileVolumeDriver(self.volumesPath, reactor, exporter=exporter)

    def makeVirtDriver(self):
        return self.makeDriver()

    @inlineCallbacks
    def qemuIo(self, connection, command):
        out, err, code = yield self.qemu.run(
            ["qemu-io", "-f", "raw", "-c", command, connection.url]
        )
        if code != 0 and b"protocol" in err.lower() and b"iscsi" in err.lower():
            requireCondition(False, "QEMU has no iSCSI block driver (qemu-block-extra)")
        self.assertEqual(code, 0, err)
        self.assertNotIn(b"error", out.lower() + err.lower())
        return out

    @inlineCallbacks
    def writeVolume(self, connection, data):
        """
        Write C{data} at the start of the volume through its iSCSI target.
        """
        self.assertEqual(connection.type, "iscsi")
        source = os.path.abspath(self.mktemp())
        with open(source, "wb") as f:
            f.write(data)
        yield self.qemuIo(connection, f"write -s {source} 0 {len(data)}")

    @inlineCallbacks
    def readVolume(self, connection, size):
        """
        Read the first C{size} bytes of the volume through its iSCSI
        target.
        """
        self.assertEqual(connection.type, "iscsi")
        target = os.path.abspath(self.mktemp())
        out, err, code = yield self.qemu.run(
            ["qemu-img", "dd", "-f", "raw", "-O", "raw", f"if={connection.url}", f"of={target}",
             f"bs={size}", "count=1"]
        )
        self.assertEqual(code, 0, err)
        with open(target, "rb") as f:
            return f.read(size)

    def waitDisks(self, name, predicate, what):
        return self.waitConsole(
            self.virtDriver, name, lambda text: predicate(lastDisks(text)), what=what
        )

    @inlineCallbacks
    def waitAttached(self, name, connection, mountpoint):
        """
        Wait for the guest to list a second disk (Linux names virtio disks
        in the order they come, so a volume attached as C{vdc} to a guest
        with one disk is its C{vdb}), and check that libvirt attached the
        logical unit at C{mountpoint} through QEMU's initiator.
        """
        target = mountpoint.rsplit("/", 1)[-1]
        yield self.waitDisks(name, lambda disks: disks == ["vda", "vdb"], f"a volume in {name}")
        xml = yield self.virtDriver.connection.run(lambda c: c.lookupByName(name).XMLDesc(0))
        xml = xml.replace('"', "'")
        self.assertIn("protocol='iscsi'", xml)
        self.assertIn(f"name='{connection.iqn}/{connection.lun}'", xml)
        self.assertIn(f"port='{self.portalPort}'", xml)
        self.assertIn(f"dev='{target}'", xml)

    def waitDetached(self, name, mountpoint):
        return self.waitDisks(name, lambda disks: disks == ["vda"], f"the volume to leave {name}")


class LibvirtIscsiAttachTests(IscsiGuestMixin, AttachContract, TestCase):
    """
    The attach contract with libvirt guests and iSCSI volumes.
    """

    timeout = 400

    @inlineCallbacks
    def setUp(self):
        yield self.setUpIscsi()
        yield self.setUpCloud(instance_name_template=f"novatest-{RUN}-v%06x")

    @inlineCallbacks
    def startGuest(self, instance, name):
        """
        Boot the test guest under the instance's name and record the
        instance running on the compute host, as a launch would.
        """
        yield self.virtDriver.spawn(self.guestSpec(name=name))
        self.addCleanup(self.destroyQuietly, self.virtDriver, name)
        yield self.db.instances.update(
            instance.id, state=states.RUNNING, power_state=power.RUNNING
        )
        yield self.waitFor(self.virtDriver, name, "NOVA READY")


class GuestWritesTheVolumeTests(IscsiGuestMixin, TestCase):
    """
    The guest's own writes reach the volume: the test guest keeps a boot
    counter in the first sector of its first disk.
    """

    timeout = 400

    def setUp(self):
        return self.setUpIscsi()

    @inlineCallbacks
    def test_nextGuestReadsWhatTheFirstWrote(self):
        """
        A guest booted from the kernel alone, with an exported volume as
        its first disk (C{/dev/vda}, attached at boot over iSCSI), writes
        C{NOVABOOT 1} into it; the volume moves to a second guest, which
        reads it and writes C{NOVABOOT 2}; this host reads that through
        the target.
        """
        driver = self.makeVolumeDriver()
        yield driver.checkForSetupError()
        volume = VolumeSpec(1, "volume-00000001", 1)
        yield driver.createVolume(volume)
        connection = VolumeConnection.fromDict((yield driver.exportVolume(volume)))
        self.assertEqual(connection.type, "iscsi")
        self.addCleanup(driver.deleteVolume, volume)
        self.addCleanup(driver.removeExport, volume)
        self.virtDriver = self.makeDriver()
        for boot in (1, 2):
            name = yield self.bootWithVolume(connection)
            text = yield self.waitFor(self.virtDriver, name, "NOVA READY")
            self.assertIn(f"NOVA BOOT {boot} ", text)
            self.assertEqual(lastDisks(text)[:1], ["vda"])
            yield self.virtDriver.destroy(name)
        sector = yield self.readVolume(connection, 64)
        self.assertTrue(sector.startswith(b"NOVABOOT 2\n"), sector)

    @inlineCallbacks
    def bootWithVolume(self, connection):
        instance = self.guestSpec(imageId=None)
        self.addCleanup(self.destroyQuietly, self.virtDriver, instance.name)
        yield self.virtDriver.spawn(instance, None, [(connection.toDict(), "/dev/vda")])
        return instance.name

