"""
Tests for instance types: the table's defaults, L{nova.db.instance_types}
and L{nova.compute.instance_types}.
"""

from twisted.internet import task
from twisted.trial.unittest import SynchronousTestCase

from nova.compute.errors import InstanceTypeExists, InstanceTypeNotFound, InvalidParameterValue
from nova.compute.instance_types import (
    createInstanceType,
    deleteInstanceType,
    getInstanceType,
    listInstanceTypes,
)
from nova.config import configFromFlags
from tests.compute.util import START, makeDatabase


class InstanceTypeTests(SynchronousTestCase):
    def setUp(self):
        self.clock = task.Clock()
        self.clock.advance(START)
        self.db = makeDatabase(self, self.clock)
        self.config = configFromFlags()

    def test_defaults(self):
        types = self.successResultOf(listInstanceTypes(self.db))
        self.assertEqual(
            [(t.name, t.memory_mb, t.vcpus, t.local_gb, t.flavorid) for t in types],
            [
                ("m1.tiny", 512, 1, 0, 1),
                ("m1.small", 2048, 1, 20, 2),
                ("m1.medium", 4096, 2, 40, 3),
                ("m1.large", 8192, 4, 80, 4),
                ("m1.xlarge", 16384, 8, 160, 5),
            ],
        )

    def test_getDefault(self):
        self.assertEqual(self.successResultOf(getInstanceType(self.db, self.config)).name, "m1.small")
        config = self.config.replace(default_instance_type="m1.tiny")
        self.assertEqual(self.successResultOf(getInstanceType(self.db, config)).vcpus, 1)

    def test_create(self):
        record = self.successResultOf(createInstanceType(self.db, "c1.big", "3000", "6", "50"))
        self.assertEqual((record.memory_mb, record.vcpus, record.local_gb, record.flavorid), (3000, 6, 50, 6))
        self.assertEqual(self.successResultOf(getInstanceType(self.db, self.config, "c1.big")), record)
        byFlavor = self.successResultOf(self.db.instanceTypes.getByFlavorId(6))
        self.assertEqual(byFlavor.name, "c1.big")

    def test_createWithFlavorId(self):
        record = self.successResultOf(createInstanceType(self.db, "c1.x", 1, 1, 0, 42))
        self.assertEqual(record.flavorid, 42)
        self.failureResultOf(createInstanceType(self.db, "c1.y", 1, 1, 0, 42), InstanceTypeExists)

    def test_createExisting(self):
        self.failureResultOf(createInstanceType(self.db, "m1.tiny", 1, 1, 1), InstanceTypeExists)

    def test_createInvalid(self):
        for args in (
            ("bad name", 1, 1, 0),
            ("", 1, 1, 0),
            ("x", 0, 1, 0),
            ("x", 1, 0, 0),
            ("x", 1, 1, -1),
            ("x", "lots", 1, 0),
            ("x", 1.5, 1, 0),
        ):
            self.assertRaises(InvalidParameterValue, createInstanceType, self.db, *args)

    def test_delete(self):
        self.successResultOf(deleteInstanceType(self.db, "m1.xlarge"))
        self.failureResultOf(getInstanceType(self.db, self.config, "m1.xlarge"), InstanceTypeNotFound)
        self.failureResultOf(deleteInstanceType(self.db, "m1.xlarge"), InstanceTypeNotFound)
        self.failureResultOf(self.db.instanceTypes.getByFlavorId(5), InstanceTypeNotFound)
