"""
Tests for L{nova.compute.names}.
"""

import random

from twisted.trial.unittest import SynchronousTestCase

from nova.compute.errors import InvalidInstanceIDMalformed
from nova.compute.names import (
    InstanceNamer,
    ec2InstanceId,
    newMacAddress,
    newReservationId,
    parseInstanceId,
)
from nova.config import ConfigError


class InstanceNamerTests(SynchronousTestCase):
    def test_default(self):
        namer = InstanceNamer("instance-%08x")
        self.assertEqual(namer.name(42), "instance-0000002a")
        self.assertEqual(namer.instanceId("instance-0000002a"), 42)
        self.assertEqual(namer.instanceId("instance-12345678a"), 0x12345678A)

    def test_notOurs(self):
        namer = InstanceNamer("instance-%08x")
        for name in ("test", "instance-", "instance-2a", "instance-0000002A", "xinstance-0000002a"):
            self.assertIsNone(namer.instanceId(name), name)

    def test_decimalAndPercent(self):
        namer = InstanceNamer("vm%%-%d.guest")
        self.assertEqual(namer.name(7), "vm%-7.guest")
        self.assertEqual(namer.instanceId("vm%-7.guest"), 7)
        self.assertIsNone(namer.instanceId("vm%-07.guest"))

    def test_badTemplates(self):
        for template in ("instance", "%d-%d", "%(id)s", "x%"):
            self.assertRaises(ConfigError, InstanceNamer, template)


class IdTests(SynchronousTestCase):
    def test_ec2Id(self):
        self.assertEqual(ec2InstanceId(10), "i-0000000a")
        self.assertEqual(parseInstanceId("i-0000000a"), 10)
        self.assertEqual(parseInstanceId("i-A"), 10)
        self.assertEqual(parseInstanceId(10), 10)

    def test_malformed(self):
        for value in ("i-00000000", "ami-0000000a", "i-0x1", 0, -1, 1.5, None, True):
            self.assertRaises(InvalidInstanceIDMalformed, parseInstanceId, value)

    def test_reservationAndMac(self):
        rng = random.Random(1)
        self.assertRegex(newReservationId(rng), r"^r-[0-9a-f]{8}$")
        self.assertRegex(newMacAddress(rng), r"^02:16:3e:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$")
