"""
Tests for L{nova.quota} and L{nova.db.quotas}.
"""

from twisted.internet import defer, task
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nova import quota
from nova.config import configFromFlags
from nova.db.api import inlineDatabase
from nova.exception import Invalid
from tests.db.backends import BackendTestsMixin, backendCases

DEFAULTS = {
    "instances": 10,
    "cores": 20,
    "volumes": 10,
    "gigabytes": 1000,
    "floating_ips": 10,
    "metadata_items": 128,
}


class QuotaEngineTests(SynchronousTestCase):
    def setUp(self):
        self.db = inlineDatabase("sqlite:", task.Clock())
        self.successResultOf(self.db.sync())
        self.addCleanup(self.db.transactor.close)
        self.engine = quota.QuotaEngine.fromConfig(configFromFlags(), self.db)

    def quota(self, project="p"):
        return self.successResultOf(self.engine.getQuota(project))

    def test_defaultsFromFlags(self):
        self.assertEqual(self.quota(), DEFAULTS)
        engine = quota.QuotaEngine.fromConfig(
            configFromFlags(quota_instances=3, quota_cores=-1), self.db
        )
        got = self.successResultOf(engine.getQuota("p"))
        self.assertEqual((got["instances"], got["cores"]), (3, None))

    def test_overrides(self):
        self.successResultOf(self.engine.setQuota("p", "instances", 50))
        self.successResultOf(self.engine.setQuota("p", "gigabytes", None))
        self.successResultOf(self.engine.setQuota("p", "instances", 40))
        self.assertEqual(self.quota(), dict(DEFAULTS, instances=40, gigabytes=None))
        self.assertEqual(self.quota("other"), DEFAULTS)
        self.successResultOf(self.engine.resetQuota("p", "instances"))
        self.assertEqual(self.quota(), dict(DEFAULTS, gigabytes=None))
        self.successResultOf(self.engine.resetQuota("p"))
        self.assertEqual(self.quota(), DEFAULTS)

    def test_badResource(self):
        self.failureResultOf(self.engine.setQuota("p", "ram", 5), quota.UnknownQuotaResource)
        self.failureResultOf(self.engine.setQuota("p", "cores", -2), Invalid)
        self.failureResultOf(self.engine.resetQuota("p", "ram"), quota.UnknownQuotaResource)
        self.failureResultOf(self.engine.allowed("p", "ram", 1, 0), quota.UnknownQuotaResource)

    def test_allowedTrims(self):
        cases = [
            ("floating_ips", 1, 0, 1),
            ("floating_ips", 5, 7, 3),
            ("floating_ips", 5, 10, 0),
            ("floating_ips", 5, 12, 0),
            ("metadata_items", 200, 0, 128),
        ]
        for resource, requested, used, expected in cases:
            self.assertEqual(
                self.successResultOf(self.engine.allowed("p", resource, requested, used)),
                expected,
                (resource, requested, used),
            )

    def test_unlimited(self):
        self.successResultOf(self.engine.setQuota("p", "floating_ips", None))
        self.assertEqual(
            self.successResultOf(self.engine.allowed("p", "floating_ips", 500, 10_000)), 500
        )

    def test_allowedInstances(self):
        cases = [
            # requested, vcpus, used instances, used cores -> allowed
            (1, 1, 0, 0, 1),
            (15, 1, 0, 0, 10),
            (5, 4, 0, 0, 5),
            (8, 4, 0, 0, 5),
            (5, 4, 0, 10, 2),
            (3, 2, 9, 0, 1),
            (3, 2, 10, 0, 0),
            (1, 32, 0, 0, 0),
        ]
        for requested, vcpus, usedInstances, usedCores, expected in cases:
            got = self.successResultOf(
                self.engine.allowedInstances("p", requested, vcpus, usedInstances, usedCores)
            )
            self.assertEqual(got, expected, (requested, vcpus, usedInstances, usedCores))
        self.successResultOf(self.engine.setQuota("p", "cores", None))
        self.assertEqual(
            self.successResultOf(self.engine.allowedInstances("p", 8, 32, 0, 500)), 8
        )

    def test_allowedVolumes(self):
        self.assertEqual(
            self.successResultOf(self.engine.allowedVolumes("p", 3, 400, 0, 500)), 1
        )
        self.assertEqual(
            self.successResultOf(self.engine.allowedVolumes("p", 3, 10, 9, 0)), 1
        )

    def test_checkAllowed(self):
        self.assertEqual(
            self.successResultOf(self.engine.checkAllowed("p", "floating_ips", 2, 8)), 2
        )
        failure = self.failureResultOf(
            self.engine.checkAllowed("p", "floating_ips", 3, 8), quota.AddressLimitExceeded
        )
        self.assertEqual(failure.value.ec2Code, "AddressLimitExceeded")
        self.assertIsInstance(failure.value, quota.QuotaExceeded)
        failure = self.failureResultOf(
            self.engine.checkAllowed("p", "cores", 30, 0), quota.InstanceLimitExceeded
        )
        self.assertIn("limit 20", str(failure.value))
        error = self.engine.exceeded("volumes", "no room")
        self.assertEqual((type(error), error.ec2Code), (quota.VolumeLimitExceeded, "VolumeLimitExceeded"))

    def test_parseLimit(self):
        self.assertEqual(quota.parseLimit("12"), 12)
        self.assertEqual(quota.parseLimit("0"), 0)
        for text in ("unlimited", "Unlimited", "-1", "none"):
            self.assertIsNone(quota.parseLimit(text))
        for text in ("ten", "-5", "1.5", ""):
            self.assertRaises(Invalid, quota.parseLimit, text)


class QuotaStoreMixin(BackendTestsMixin):
    @defer.inlineCallbacks
    def setUp(self):
        self.db = self.makeDatabase(task.Clock())
        yield self.db.sync()

    @defer.inlineCallbacks
    def test_store(self):
        store = self.db.quotas
        yield store.set("p", "cores", 5)
        yield store.set("p", "cores", 7)
        yield store.set("p", "volumes", -1)
        yield store.set("q", "cores", 1)
        self.assertEqual((yield store.get("p")), {"cores": 7, "volumes": -1})
        yield store.delete("p", "cores")
        self.assertEqual((yield store.get("p")), {"volumes": -1})
        yield store.delete("p")
        self.assertEqual((yield store.get("p")), {})
        self.assertEqual((yield store.get("q")), {"cores": 1})


backendCases(QuotaStoreMixin, TestCase, globals(), "QuotaStore")
