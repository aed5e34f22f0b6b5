"""
Tests for L{nova.drivers.loadDriver} with the virt driver registry.
"""

from twisted.trial.unittest import SynchronousTestCase
from zope.interface import Interface

from nova.compute.flags import VIRT_DRIVERS
from nova.config import ConfigError, configFromFlags
from nova.drivers import loadDriver
from nova.virt.fake import FakeVirtDriver
from nova.virt.interfaces import IVirtDriver


class IUnrelated(Interface):
    def something():
        """Not provided by any virt driver."""


class Recorder:
    """
    A driver class recording what C{fromConfig} got.
    """

    got = None

    @classmethod
    def fromConfig(cls, config, **dependencies):
        cls.got = (config, dependencies)
        return FakeVirtDriver()


class LoadDriverTests(SynchronousTestCase):
    def setUp(self):
        self.config = configFromFlags()

    def test_loadsFake(self):
        driver = loadDriver(IVirtDriver, VIRT_DRIVERS, "fake", self.config)
        self.assertIsInstance(driver, FakeVirtDriver)

    def test_unknownName(self):
        error = self.assertRaises(
            ConfigError, loadDriver, IVirtDriver, VIRT_DRIVERS, "nova.virt.fake.FakeVirtDriver", self.config
        )
        self.assertIn("choose from fake, libvirt", str(error))

    def test_unimportable(self):
        registry = {"broken": "nova.virt.nonexistent.Driver"}
        error = self.assertRaises(ConfigError, loadDriver, IVirtDriver, registry, "broken", self.config)
        self.assertIn("cannot be loaded", str(error))

    def test_doesNotProvide(self):
        error = self.assertRaises(
            ConfigError, loadDriver, IUnrelated, VIRT_DRIVERS, "fake", self.config
        )
        self.assertIn("does not provide IUnrelated", str(error))

    def test_dependenciesPassed(self):
        registry = {"rec": f"{__name__}.Recorder"}
        loadDriver(IVirtDriver, registry, "rec", self.config, db="the db")
        self.assertEqual(Recorder.got, (self.config, {"db": "the db"}))

    def test_connectionTypeChoicesAreTheRegistry(self):
        self.assertRaises(ConfigError, configFromFlags, connection_type="xen")
