"""
Resize, revert, confirm, rescue and unrescue of the test guest on real
QEMU (C{qemu:///system}, software emulation), as the libvirt driver does
them, with the resources of the default instance types C{m1.tiny} and
C{m1.small}.

The test guest counts its boots in the first sector of its first disk
and prints C{NOVA BOOT <n>} and the disks it has (C{NOVA DISKS ...}) on
its console, which tells which disk each boot ran from: a reverted resize
boots the copy of the disk kept before the resize, and a rescued guest
boots a fresh rescue disk with its own disk second.
"""

import os
import re

from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase

from nova.virt import errors, power
from tests.integration.test_libvirt_guest import GuestMixin

#: vCPUs and memory (MiB) of the default types (nova/db/schema/patch_4.py).
TINY = {"vcpus": 1, "memoryMb": 512}
SMALL = {"vcpus": 1, "memoryMb": 2048}


def boots(text):
    """
    @return: the boot counts the guest printed, in order.
    """
    return [int(n) for n in re.findall(r"^NOVA BOOT (\d+) ", text, re.M)]


class LibvirtResizeRescueTests(GuestMixin, TestCase):
    def setUp(self):
        self.setUpGuest()

    @inlineCallbacks
    def info(self, driver, name):
        info = yield driver.getInfo(name)
        return info["state"], info["vcpus"], info["memory_mb"]

    @inlineCallbacks
    def test_resizeTinyToSmallAndRevert(self):
        """
        A guest of m1.tiny resized to m1.small runs with 2 GiB from its
        own disk (its second boot); reverted, it runs with 512 MiB from
        the disk kept before the resize (whose counter says second boot
        again), and the kept files are gone.
        """
        driver = self.makeDriver()
        yield driver.initHost("resizehost")
        name = yield self.boot(driver, **TINY)
        yield self.waitFor(driver, name, "NOVA READY")
        spec = self.guestSpec(name=name, **SMALL)
        yield driver.resize(spec)
        self.assertEqual((yield self.info(driver, name)), (power.RUNNING, 1, 2048))
        directory = driver.instanceDirectory(name)
        self.assertTrue(os.path.exists(os.path.join(directory, "libvirt.xml.resize")))
        self.assertTrue(os.path.exists(os.path.join(directory, "disk.resize")))
        text = yield self.waitFor(driver, name, "NOVA READY", count=2, timeout=120)
        self.assertEqual(boots(text), [1, 2])
        yield driver.revertResize(name)
        self.assertEqual((yield self.info(driver, name)), (power.RUNNING, 1, 512))
        text = yield self.waitFor(driver, name, "NOVA READY", count=3, timeout=120)
        self.assertEqual(boots(text), [1, 2, 2])
        self.assertEqual(
            sorted(n for n in os.listdir(directory) if n.endswith(".resize")), []
        )
        yield self.assertFailure(driver.confirmResize(name), errors.GuestStateError)

    @inlineCallbacks
    def test_resizeConfirmRescueUnrescue(self):
        """
        A confirmed resize keeps the new size and drops the kept files; a
        rescue boots a fresh rescue disk as vda with the guest's own disk
        as vdb; unrescued, the guest boots its own disk again, where its
        boot counter goes on.
        """
        driver = self.makeDriver()
        yield driver.initHost("rescuehost")
        name = yield self.boot(driver, **TINY)
        yield self.waitFor(driver, name, "NOVA READY")
        yield driver.resize(self.guestSpec(name=name, **SMALL))
        yield self.waitFor(driver, name, "NOVA READY", count=2, timeout=120)
        yield driver.confirmResize(name)
        directory = driver.instanceDirectory(name)
        self.assertEqual(sorted(n for n in os.listdir(directory) if n.endswith(".resize")), [])
        self.assertEqual((yield self.info(driver, name)), (power.RUNNING, 1, 2048))

        yield driver.rescue(self.guestSpec(name=name, **SMALL))
        self.assertTrue(os.path.exists(os.path.join(directory, "disk.rescue")))
        text = yield self.waitFor(driver, name, "NOVA READY", count=3, timeout=120)
        # The rescue disk is new (first boot); the guest's disk is second.
        self.assertEqual(boots(text), [1, 2, 1])
        self.assertIn("NOVA DISKS vda vdb", text.rsplit("NOVA BOOT", 1)[1])
        yield driver.unrescue(name)
        text = yield self.waitFor(driver, name, "NOVA READY", count=4, timeout=120)
        self.assertEqual(boots(text), [1, 2, 1, 3])
        self.assertNotIn("vdb", text.rsplit("NOVA BOOT", 1)[1])
        self.assertFalse(os.path.exists(os.path.join(directory, "disk.rescue")))
        self.assertEqual((yield self.info(driver, name)), (power.RUNNING, 1, 2048))
