"""
Tests for L{nova.compute.api.ComputeAPI}: what it checks and writes, and
what it casts.
"""

from twisted.internet import defer, task
from twisted.trial.unittest import SynchronousTestCase

from nova import exception
from nova.compute import states
from nova.compute.api import ComputeAPI, requestHash
from nova.compute.errors import (
    DeviceInUse,
    IdempotentParameterMismatch,
    IncorrectInstanceState,
    InstanceLimitExceeded,
    InstanceLocked,
    InstanceNotFound,
    InstanceTypeNotFound,
    InvalidInstanceIDMalformed,
    InvalidParameterValue,
    OperationNotPermitted,
)
from nova.config import configFromFlags
from nova.context import RequestContext
from nova.db.security_groups import SecurityGroupNotFound
from nova.db.tags import MAX_TAGS, TagLimitExceeded
from nova.virt import power
from tests.compute.util import ADMIN, ALICE, BOB, Cloud, DictQuotas, FakeImages, FakeUploader
from tests.util import START, createInstance, makeDatabase


class RunInstancesTests(SynchronousTestCase):
    def test_unknownGroupCreatesNothing(self):
        """
        A security group the project lacks fails the request before any
        instance is made.
        """
        self.cloud = Cloud(self, quotas=DictQuotas())
        self.failureResultOf(
            self.cloud.api.runInstances(ALICE, "ami-00000001", 1, 1, securityGroups=["nope"]),
            SecurityGroupNotFound,
        )
        self.assertEqual(self.successResultOf(self.cloud.db.instances.list()), [])

    def setUp(self):
        self.cloud = Cloud(self, quotas=DictQuotas())
        self.api = self.cloud.api

    def run_(self, context=ALICE, minCount=1, maxCount=1, **kw):
        return self.api.runInstances(context, "ami-00000001", minCount, maxCount, **kw)

    def test_rowsArePending(self):
        for name in ("web", "db"):
            self.successResultOf(self.api.securityGroups.create(ALICE, name, name))
        reservationId, instances, created = self.successResultOf(
            self.run_(
                minCount=2,
                maxCount=2,
                instanceType="m1.medium",
                keyName="k",
                keyData="ssh-rsa AAAA k",
                userData="aGVsbG8=",
                securityGroups=["web", "db"],
                kernelId="aki-00000002",
                ramdiskId="ari-00000003",
            )
        )
        self.assertRegex(reservationId, r"^r-[0-9a-f]{8}$")
        self.assertIs(created, True)
        self.assertEqual([i.launch_index for i in instances], [0, 1])
        first = instances[0]
        self.assertEqual(first.state, states.PENDING)
        self.assertEqual((first.project_id, first.user_id), ("wonderland", "alice"))
        self.assertEqual(first.reservation_id, reservationId)
        self.assertEqual(
            (first.instance_type, first.vcpus, first.memory_mb, first.local_gb),
            ("m1.medium", 2, 4096, 40),
        )
        self.assertEqual((first.image_id, first.kernel_id, first.ramdisk_id), ("ami-00000001", "aki-00000002", "ari-00000003"))
        self.assertEqual((first.key_name, first.key_data, first.user_data), ("k", "ssh-rsa AAAA k", "aGVsbG8="))
        self.assertEqual(first.securityGroups, ("web", "db"))
        for instance in instances:
            groups = self.successResultOf(self.api.securityGroups.groupsForInstance(ALICE, instance.id))
            self.assertEqual([group.name for group in groups], ["web", "db"])
        self.assertEqual(first.hostname, first.ec2Id)
        self.assertRegex(first.mac_address, r"^02:16:3e(:[0-9a-f]{2}){3}$")
        self.assertNotEqual(first.mac_address, instances[1].mac_address)
        self.assertIsNone(first.host)
        self.assertEqual(
            self.cloud.rpc.sent,
            [
                ("cast", "scheduler", "runInstance", {"instanceId": i.id, "availabilityZone": None})
                for i in instances
            ],
        )

    def test_defaults(self):
        _, [instance], _ = self.successResultOf(self.run_())
        self.assertEqual(instance.instance_type, "m1.small")
        self.assertEqual(instance.securityGroups, ("default",))

    def test_unknownType(self):
        failure = self.failureResultOf(self.run_(instanceType="m9.huge"), InstanceTypeNotFound)
        self.assertEqual(failure.value.ec2Code, "InvalidParameterValue")
        self.assertEqual(str(failure.value), "Invalid value 'm9.huge' for InstanceType.")

    def test_badCounts(self):
        for minCount, maxCount in ((0, 1), (2, 1), ("x", 1)):
            self.failureResultOf(self.run_(minCount=minCount, maxCount=maxCount), InvalidParameterValue)
        self.assertEqual(self.cloud.rpc.sent, [])

    def test_needsProject(self):
        self.failureResultOf(self.run_(RequestContext(userId="u")), exception.NotAuthorized)

    def test_quotaTrims(self):
        self.cloud.quotas.limits["wonderland"] = {"instances": 5}
        self.successResultOf(self.run_(minCount=3, maxCount=3))
        _, instances, _ = self.successResultOf(self.run_(minCount=1, maxCount=10))
        self.assertEqual(len(instances), 2)

    def test_quotaTrimsByCores(self):
        self.cloud.quotas.limits["wonderland"] = {"cores": 10, "instances": -1}
        _, instances, _ = self.successResultOf(self.run_(minCount=1, maxCount=5, instanceType="m1.large"))
        self.assertEqual(len(instances), 2)

    def test_quotaTrimsByRam(self):
        self.cloud.quotas.limits["wonderland"] = {"ram": 5000}
        _, instances, _ = self.successResultOf(self.run_(minCount=1, maxCount=5))
        self.assertEqual(len(instances), 2)

    def test_quotaRefuses(self):
        self.cloud.quotas.limits["wonderland"] = {"instances": 2}
        failure = self.failureResultOf(self.run_(minCount=3, maxCount=4), InstanceLimitExceeded)
        self.assertEqual(failure.value.ec2Code, "InstanceLimitExceeded")
        self.assertIn("you can run 2 more", str(failure.value))
        self.assertEqual(self.successResultOf(self.api.describeInstances(ALICE)), [])
        self.assertEqual(self.cloud.rpc.sent, [])

    def test_quotaHoldsAgainstRequestsAtOnce(self):
        """
        Requests of one project that read the project's usage before any
        of them wrote its instances cannot together go beyond the quota:
        the transaction that writes the instances checks the usage it
        counts, and refuses (writing nothing) what goes beyond.
        """
        self.cloud.quotas.limits["wonderland"] = {"instances": 3}
        quotas = []
        self.cloud.quotas.getQuota = lambda projectId: quotas.append(defer.Deferred()) or quotas[-1]
        first, second = self.run_(minCount=2, maxCount=2), self.run_(minCount=2, maxCount=2)
        self.assertEqual(len(quotas), 2)
        for d in quotas:
            d.callback({"instances": 3})
        _, instances, _ = self.successResultOf(first)
        self.assertEqual(len(instances), 2)
        failure = self.failureResultOf(second, InstanceLimitExceeded)
        self.assertIn("other requests of the project took", str(failure.value))
        described = self.successResultOf(self.api.describeInstances(ALICE))
        self.assertEqual(sorted(i.id for i in described), sorted(i.id for i in instances))
        usage = self.successResultOf(self.cloud.db.instances.usageByProject("wonderland"))
        self.assertEqual(usage["instances"], 2)

    def test_quotaIsPerProject(self):
        self.cloud.quotas.limits["wonderland"] = {"instances": 1}
        self.successResultOf(self.run_())
        self.failureResultOf(self.run_(), InstanceLimitExceeded)
        self.successResultOf(self.run_(BOB, minCount=3, maxCount=3))

    def test_terminatedInstancesFreeQuota(self):
        self.cloud.quotas.limits["wonderland"] = {"instances": 1}
        _, [instance], _ = self.successResultOf(self.run_())
        self.successResultOf(self.api.terminateInstances(ALICE, [instance.id]))
        self.successResultOf(self.run_())

    def test_quotaEngineByDefault(self):
        """
        Without a quotas object the API uses L{nova.quota.QuotaEngine}:
        the --quota_* flags, overridden per project in the database.
        """
        from nova.quota import QuotaEngine, QuotaExceeded

        config = self.cloud.config.replace(quota_instances=3, quota_cores=20)
        api = ComputeAPI(config, self.cloud.db, self.cloud.rpc, self.cloud.clock)
        self.assertIsInstance(api.quotas, QuotaEngine)
        _, instances, _ = self.successResultOf(api.runInstances(ALICE, "ami-00000001", 1, 5))
        self.assertEqual(len(instances), 3)
        failure = self.failureResultOf(api.runInstances(ALICE, "ami-00000001", 1, 1), QuotaExceeded)
        self.assertIsInstance(failure.value, InstanceLimitExceeded)
        self.successResultOf(api.quotas.setQuota("wonderland", "instances", None))
        _, instances, _ = self.successResultOf(api.runInstances(ALICE, "ami-00000001", 1, 50))
        self.assertEqual(len(instances), 17)

    def test_clientTokenReplays(self):
        first = self.successResultOf(self.run_(minCount=2, maxCount=2, clientToken="abc"))
        sent = len(self.cloud.rpc.sent)
        again = self.successResultOf(self.run_(minCount=2, maxCount=2, clientToken="abc"))
        self.assertEqual(again[0], first[0])
        self.assertEqual([i.id for i in again[1]], [i.id for i in first[1]])
        self.assertEqual((first[2], again[2]), (True, False))
        self.assertEqual(len(self.cloud.rpc.sent), sent)
        self.assertEqual(len(self.successResultOf(self.api.describeInstances(ALICE))), 2)

    def test_clientTokenReplayIgnoresQuota(self):
        self.cloud.quotas.limits["wonderland"] = {"instances": 1}
        first = self.successResultOf(self.run_(clientToken="abc"))
        self.assertEqual(self.successResultOf(self.run_(clientToken="abc"))[0], first[0])

    def test_clientTokenMismatch(self):
        self.successResultOf(self.run_(clientToken="abc"))
        failure = self.failureResultOf(
            self.run_(clientToken="abc", instanceType="m1.tiny"), IdempotentParameterMismatch
        )
        self.assertEqual(failure.value.ec2Code, "IdempotentParameterMismatch")

    def test_clientTokenIsPerProject(self):
        alice = self.successResultOf(self.run_(clientToken="abc"))
        bob = self.successResultOf(self.run_(BOB, clientToken="abc"))
        self.assertNotEqual(alice[0], bob[0])

    def test_badClientToken(self):
        self.failureResultOf(self.run_(clientToken="x" * 65), InvalidParameterValue)

    def deadBusAPI(self, castsBeforeDeath=0):
        """
        @return: a L{ComputeAPI} whose bus takes C{castsBeforeDeath} casts
            and then fails every one, and the list of casts it took.
        """
        taken = []

        class DeadBus:
            def cast(self, context, topic, method, args):
                from twisted.internet.defer import fail, succeed

                if len(taken) < castsBeforeDeath:
                    taken.append((topic, method, args))
                    return succeed(None)
                return fail(exception.RPCError("broker gone"))

        api = ComputeAPI(self.cloud.config, self.cloud.db, DeadBus(), self.cloud.clock, DictQuotas())
        return api, taken

    def test_schedulerUnreachable(self):
        """
        When nothing could be sent, the request fails and made nothing: no
        instance, no reservation, no security group membership, no tag.
        """
        api, _ = self.deadBusAPI()
        self.failureResultOf(
            api.runInstances(
                ALICE, "ami-00000001", 2, 2, securityGroups=["default"], tags=[("Name", "web")]
            ),
            exception.RPCError,
        )
        self.assertEqual(self.successResultOf(self.cloud.db.tags.find()), [])
        self.assertEqual(self.successResultOf(self.api.describeInstances(ALICE)), [])
        self.assertEqual(
            self.successResultOf(self.cloud.db.instances.list(includeDeleted=True)), []
        )
        memberships = self.successResultOf(
            self.cloud.db.transactor.transact(
                lambda store: store.execute(
                    "SELECT COUNT(*) FROM security_group_instance_association"
                ).get_one()[0]
            )
        )
        self.assertEqual(memberships, 0)

    def test_membershipsWrittenWithTheInstances(self):
        _, [instance], _ = self.successResultOf(self.run_(securityGroups=["default"]))
        groups = self.successResultOf(self.cloud.db.securityGroups.groupsForInstance(instance.id))
        self.assertEqual([g.name for g in groups], ["default"])

    def test_tagsWrittenWithTheInstances(self):
        """
        Tags come with the instances; too many of them make no instance;
        a client token's retry with other tags is not the same request.
        """
        _, instances, _ = self.successResultOf(
            self.run_(minCount=2, maxCount=2, clientToken="t2", tags=[("Name", "web")])
        )
        tags = self.successResultOf(self.cloud.db.tags.find())
        self.assertEqual(
            sorted((t.resource_id, t.key, t.value) for t in tags),
            sorted((i.ec2Id, "Name", "web") for i in instances),
        )
        self.failureResultOf(
            self.run_(minCount=2, maxCount=2, clientToken="t2", tags=[("Name", "db")]),
            IdempotentParameterMismatch,
        )
        before = self.successResultOf(self.cloud.db.instances.list(includeDeleted=True))
        self.failureResultOf(
            self.run_(tags=[(f"k{n}", "v") for n in range(MAX_TAGS + 1)]), TagLimitExceeded
        )
        self.assertEqual(
            self.successResultOf(self.cloud.db.instances.list(includeDeleted=True)), before
        )

    def test_retryAfterFailureMakesThemAnew(self):
        """
        A retry with the client token of a request that failed before
        sending anything launches the instances, once.
        """
        api, _ = self.deadBusAPI()
        self.failureResultOf(
            api.runInstances(ALICE, "ami-00000001", 2, 2, clientToken="t1"), exception.RPCError
        )
        reservationId, instances, _ = self.successResultOf(self.run_(minCount=2, maxCount=2, clientToken="t1"))
        again = self.successResultOf(self.run_(minCount=2, maxCount=2, clientToken="t1"))
        self.assertEqual(again[0], reservationId)
        self.assertEqual(len(self.successResultOf(self.api.describeInstances(ALICE))), 2)

    def test_schedulerLostMidway(self):
        """
        When the bus goes away after some instances were sent, those go on
        and the others go to error with the reason.
        """
        api, taken = self.deadBusAPI(castsBeforeDeath=1)
        self.failureResultOf(api.runInstances(ALICE, "ami-00000001", 3, 3), exception.RPCError)
        self.assertEqual(len(taken), 1)
        instances = self.successResultOf(self.api.describeInstances(ALICE))
        self.assertEqual(
            [i.state for i in instances], [states.PENDING, states.ERROR, states.ERROR]
        )
        self.assertEqual(taken[0][2]["instanceId"], instances[0].id)
        self.assertIn("could not reach the scheduler", instances[1].state_description)

    def test_requestHashStable(self):
        self.assertEqual(requestHash(a=1, b=["x"]), requestHash(b=["x"], a=1))
        self.assertNotEqual(requestHash(a=1), requestHash(a=2))


class AccessTests(SynchronousTestCase):
    def setUp(self):
        self.cloud = Cloud(self)
        self.api = self.cloud.api
        _, [self.instance] = self.cloud.run(ALICE)

    def test_otherProjectSeesNothing(self):
        self.assertEqual(self.successResultOf(self.api.describeInstances(BOB)), [])
        for call in (
            lambda: self.api.getInstance(BOB, self.instance.ec2Id),
            lambda: self.api.describeInstances(BOB, [self.instance.ec2Id]),
            lambda: self.api.terminateInstances(BOB, [self.instance.ec2Id]),
            lambda: self.api.rebootInstances(BOB, [self.instance.ec2Id]),
            lambda: self.api.stopInstances(BOB, [self.instance.ec2Id]),
            lambda: self.api.startInstances(BOB, [self.instance.ec2Id]),
            lambda: self.api.getConsoleOutput(BOB, self.instance.ec2Id),
        ):
            failure = self.failureResultOf(call(), InstanceNotFound)
            self.assertEqual(failure.value.ec2Code, "InvalidInstanceID.NotFound")
        self.assertEqual(self.cloud.instance(self.instance.id).state, states.RUNNING)

    def test_adminSeesAll(self):
        _, [bobs] = self.cloud.run(BOB)
        described = self.successResultOf(self.api.describeInstances(ADMIN))
        self.assertEqual([i.id for i in described], [self.instance.id, bobs.id])
        self.successResultOf(self.api.stopInstances(ADMIN, [bobs.ec2Id]))

    def test_describeByIds(self):
        [found] = self.successResultOf(self.api.describeInstances(ALICE, [self.instance.ec2Id]))
        self.assertEqual(found.id, self.instance.id)
        failure = self.failureResultOf(
            self.api.describeInstances(ALICE, [self.instance.ec2Id, "i-000000ff"]), InstanceNotFound
        )
        self.assertIn("i-000000ff", str(failure.value))

    def test_describeByReservation(self):
        reservationId, _ = self.cloud.run(ALICE, count=2)
        found = self.successResultOf(self.api.describeInstances(ALICE, reservationId=reservationId))
        self.assertEqual(len(found), 2)

    def test_malformedIds(self):
        for bad in ("ami-00000001", "i-", "i-xyz", "", 0, None, True):
            failure = self.failureResultOf(self.api.getInstance(ALICE, bad), InvalidInstanceIDMalformed)
            self.assertEqual(failure.value.ec2Code, "InvalidInstanceID.Malformed")

    def test_numericIds(self):
        self.assertEqual(self.successResultOf(self.api.getInstance(ALICE, self.instance.id)).id, self.instance.id)


class TransitionTests(SynchronousTestCase):
    def setUp(self):
        self.cloud = Cloud(self)
        self.api = self.cloud.api

    def test_illegalTransitionsRefused(self):
        _, [instance] = self.cloud.run()
        self.successResultOf(self.api.stopInstances(ALICE, [instance.id]))
        self.cloud.flush()
        failure = self.failureResultOf(self.api.rebootInstances(ALICE, [instance.id]), IncorrectInstanceState)
        self.assertEqual(failure.value.ec2Code, "IncorrectInstanceState")
        self.assertEqual(failure.value.httpStatus, 400)
        [change] = self.successResultOf(self.api.stopInstances(ALICE, [instance.id]))
        self.assertEqual((change.previousState, change.currentState), (states.STOPPED, states.STOPPED))
        self.successResultOf(self.api.terminateInstances(ALICE, [instance.id]))
        self.cloud.flush()
        for call in (self.api.rebootInstances, self.api.stopInstances, self.api.startInstances):
            self.failureResultOf(call(ALICE, [instance.id]), IncorrectInstanceState)
        [change] = self.successResultOf(self.api.terminateInstances(ALICE, [instance.id]))
        self.assertEqual((change.previousState, change.currentState), (states.TERMINATED, states.TERMINATED))

    def test_unreachableHostLeavesTheState(self):
        """
        When the cast to the instance's host fails, the instance goes back
        to the state it had, and the request can be made again.
        """
        _, [instance] = self.cloud.run()
        self.assertEqual(self.cloud.instance(instance.id).state, states.RUNNING)

        class DeadBus:
            def cast(self, context, topic, method, args):
                from twisted.internet.defer import fail

                return fail(exception.RPCError("broker gone"))

        api = ComputeAPI(self.cloud.config, self.cloud.db, DeadBus(), self.cloud.clock, DictQuotas())
        for call in (api.stopInstances, api.rebootInstances, api.terminateInstances):
            self.failureResultOf(call(ALICE, [instance.id]), exception.RPCError)
            self.assertEqual(self.cloud.instance(instance.id).state, states.RUNNING)
        self.successResultOf(self.api.stopInstances(ALICE, [instance.id]))
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.STOPPED)

    def test_oneRefusalChangesNone(self):
        _, [first, second] = self.cloud.run(count=2)
        self.successResultOf(self.api.stopInstances(ALICE, [second.id]))
        self.cloud.flush()
        self.failureResultOf(self.api.rebootInstances(ALICE, [first.id, second.id]), IncorrectInstanceState)
        self.assertEqual(self.cloud.instance(first.id).state, states.RUNNING)
        sent = [m for _, _, m, _ in self.cloud.rpc.sent]
        self.assertNotIn("rebootInstance", sent)

    def test_terminateUnscheduled(self):
        reservationId, [instance], _ = self.successResultOf(
            self.api.runInstances(ALICE, "ami-00000001", 1, 1)
        )
        [change] = self.successResultOf(self.api.terminateInstances(ALICE, [instance.ec2Id]))
        self.assertEqual((change.previousState, change.currentState), (states.PENDING, states.TERMINATED))
        self.assertEqual(change.ec2Id, instance.ec2Id)
        self.cloud.flush()
        done = self.cloud.instance(instance.id)
        self.assertEqual((done.state, done.host), (states.TERMINATED, None))
        self.assertEqual(self.cloud.drivers["h1"].guests, {})

    def test_duplicateIds(self):
        _, [instance] = self.cloud.run()
        changes = self.successResultOf(self.api.terminateInstances(ALICE, [instance.id, instance.ec2Id]))
        self.assertEqual(len(changes), 1)

    def test_noIds(self):
        self.failureResultOf(self.api.terminateInstances(ALICE, []), InvalidParameterValue)

    def test_consoleOfUnscheduled(self):
        _, [instance], _ = self.successResultOf(self.api.runInstances(ALICE, "ami-00000001", 1, 1))
        result = self.successResultOf(self.api.getConsoleOutput(ALICE, instance.id))
        self.assertEqual(result["output"], "")
        self.cloud.flush()

    def test_volumesThroughTheAPI(self):
        _, [instance] = self.cloud.run()
        d = self.api.attachVolume(ALICE, instance.ec2Id, "/dev/sdb", "/dev/vdb")
        self.cloud.flush()
        self.successResultOf(d)
        guest = self.cloud.drivers["h1"].guests["instance-%08x" % instance.id]
        self.assertEqual(guest.volumes, {"/dev/vdb": "/dev/sdb"})
        d = self.api.attachVolume(ALICE, instance.ec2Id, "/dev/sdc", "/dev/vdb")
        self.cloud.flush()
        failure = self.failureResultOf(d, DeviceInUse)
        self.assertEqual(failure.value.ec2Code, "InvalidParameterValue")
        d = self.api.detachVolume(ALICE, instance.ec2Id, "/dev/vdb")
        self.cloud.flush()
        self.successResultOf(d)
        self.assertEqual(guest.volumes, {})
        self.successResultOf(self.api.stopInstances(ALICE, [instance.id]))
        self.failureResultOf(
            self.api.attachVolume(ALICE, instance.id, "/dev/sdb", "/dev/vdb"), IncorrectInstanceState
        )
        self.cloud.flush()

    def test_forcedHostForAdmins(self):
        self.cloud.addCompute("h2")
        _, [instance] = self.cloud.run(ADMIN, availabilityZone="nova:h2")
        self.assertEqual((instance.host, instance.availability_zone), ("h2", "nova"))
        _, instances = self.cloud.run(ALICE, count=2, availabilityZone="nova:h2")
        self.assertEqual(sorted(i.host for i in instances), ["h1", "h1"])


class ModifyInstanceTests(SynchronousTestCase):
    def setUp(self):
        self.cloud = Cloud(self, quotas=DictQuotas())
        self.api = self.cloud.api

    def stopped(self, **kw):
        _, [instance] = self.cloud.run(**kw)
        self.successResultOf(self.api.stopInstances(ALICE, [instance.id]))
        self.cloud.flush()
        instance = self.cloud.instance(instance.id)
        self.assertEqual(instance.state, states.STOPPED)
        return instance

    def modify(self, instance, context=ALICE, **changes):
        return self.successResultOf(self.api.modifyInstance(context, instance.ec2Id, **changes))

    def test_whileStopped(self):
        """
        The type, user data, kernel and ramdisk change while the instance
        is stopped; the type brings its sizes.
        """
        instance = self.stopped(instanceType="m1.tiny")
        changed = self.modify(instance, instanceType="m1.large")
        self.assertEqual(
            (changed.instance_type, changed.vcpus, changed.memory_mb, changed.local_gb),
            ("m1.large", 4, 8192, 80),
        )
        self.assertEqual(changed.state, states.STOPPED)
        self.assertEqual(self.modify(instance, userData="aGk=").user_data, "aGk=")
        self.assertIsNone(self.modify(instance, userData=None).user_data)
        changed = self.modify(instance, kernelId="aki-00000002")
        self.assertEqual(changed.kernel_id, "aki-00000002")
        changed = self.modify(instance, ramdiskId="ari-00000003")
        self.assertEqual((changed.kernel_id, changed.ramdisk_id), ("aki-00000002", "ari-00000003"))
        self.assertEqual(self.cloud.instance(instance.id), changed)

    def test_refusedUnlessStopped(self):
        _, [instance] = self.cloud.run()
        for changes in (
            {"instanceType": "m1.large"},
            {"userData": "aGk="},
            {"kernelId": "aki-00000002"},
            {"ramdiskId": "ari-00000003"},
            {"instanceType": "m1.large", "disableApiTermination": True},
        ):
            failure = self.failureResultOf(
                self.api.modifyInstance(ALICE, instance.id, **changes), IncorrectInstanceState
            )
            self.assertEqual((failure.value.ec2Code, failure.value.httpStatus), ("IncorrectInstanceState", 400))
            self.assertEqual(
                str(failure.value), f"The instance '{instance.ec2Id}' is not in the 'stopped' state."
            )
        self.assertEqual(self.cloud.instance(instance.id), instance)

    def test_badValues(self):
        instance = self.stopped()
        failure = self.failureResultOf(
            self.api.modifyInstance(ALICE, instance.id, instanceType="m9.huge"), InstanceTypeNotFound
        )
        self.assertEqual(failure.value.ec2Code, "InvalidParameterValue")
        for changes in (
            {"instanceType": None},
            {"instanceType": ""},
            {"disableApiTermination": "yes"},
            {"shutdownBehavior": "hibernate"},
            {"shutdownBehavior": None},
            {"securityGroups": []},
            {"securityGroups": ["a,b"]},
            {"colour": "red"},
            {},
        ):
            self.failureResultOf(
                self.api.modifyInstance(ALICE, instance.id, **changes), InvalidParameterValue
            )
        self.assertEqual(self.cloud.instance(instance.id), instance)

    def test_resizeWithinQuota(self):
        """
        Growing the type counts against the cores and ram quotas;
        shrinking is always allowed.
        """
        self.cloud.quotas.limits["wonderland"] = {"cores": 3, "instances": -1}
        instance = self.stopped(instanceType="m1.small")
        self.modify(instance, instanceType="m1.medium")
        failure = self.failureResultOf(
            self.api.modifyInstance(ALICE, instance.id, instanceType="m1.large"), InstanceLimitExceeded
        )
        self.assertEqual(failure.value.ec2Code, "InstanceLimitExceeded")
        self.assertIn("cores", str(failure.value))
        self.assertEqual(self.cloud.instance(instance.id).instance_type, "m1.medium")
        self.cloud.quotas.limits["wonderland"] = {"cores": 1, "ram": 1000}
        self.assertEqual(self.modify(instance, instanceType="m1.tiny").vcpus, 1)
        failure = self.failureResultOf(
            self.api.modifyInstance(ALICE, instance.id, instanceType="m1.small"), InstanceLimitExceeded
        )
        self.assertIn("ram", str(failure.value))

    def test_anyTime(self):
        """
        Termination protection, the shutdown behavior and the security
        groups change while the instance runs, not once it is terminated.
        """
        _, [instance] = self.cloud.run()
        self.assertEqual((instance.disable_api_termination, instance.shutdown_behavior), (False, "stop"))
        changed = self.modify(instance, disableApiTermination=True)
        self.assertTrue(changed.disable_api_termination)
        changed = self.modify(instance, shutdownBehavior="terminate")
        self.assertEqual((changed.state, changed.shutdown_behavior), (states.RUNNING, "terminate"))
        changed = self.modify(instance, securityGroups=["web", "db", "web"])
        self.assertEqual(changed.securityGroups, ("web", "db"))
        self.modify(instance, disableApiTermination=False)
        self.successResultOf(self.api.terminateInstances(ALICE, [instance.id]))
        self.cloud.flush()
        failure = self.failureResultOf(
            self.api.modifyInstance(ALICE, instance.id, disableApiTermination=True),
            IncorrectInstanceState,
        )
        self.assertIn("terminated", str(failure.value))

    def test_otherProject(self):
        _, [instance] = self.cloud.run()
        failure = self.failureResultOf(
            self.api.modifyInstance(BOB, instance.ec2Id, disableApiTermination=True), InstanceNotFound
        )
        self.assertEqual(failure.value.ec2Code, "InvalidInstanceID.NotFound")
        self.assertEqual(self.modify(instance, ADMIN, disableApiTermination=True).disable_api_termination, True)

    def test_terminationProtection(self):
        """
        A protected instance is not terminated, nor is any other instance
        of the same request; once unprotected it is.
        """
        _, [first, second] = self.cloud.run(count=2)
        self.modify(second, disableApiTermination=True)
        sentBefore = len(self.cloud.rpc.sent)
        failure = self.failureResultOf(
            self.api.terminateInstances(ALICE, [first.id, second.ec2Id]), OperationNotPermitted
        )
        self.assertEqual((failure.value.ec2Code, failure.value.httpStatus), ("OperationNotPermitted", 400))
        self.assertEqual(
            str(failure.value),
            f"The instance '{second.ec2Id}' may not be terminated. Modify its "
            f"'disableApiTermination' instance attribute and try again.",
        )
        self.cloud.flush()
        self.assertEqual(
            {self.cloud.instance(i.id).state for i in (first, second)}, {states.RUNNING}
        )
        self.assertEqual(len(self.cloud.rpc.sent), sentBefore)
        # Stopping and starting are not what it protects from.
        self.successResultOf(self.api.stopInstances(ALICE, [second.id]))
        self.cloud.flush()
        self.modify(second, disableApiTermination=False)
        changes = self.successResultOf(self.api.terminateInstances(ALICE, [first.id, second.id]))
        self.assertEqual({c.currentState for c in changes}, {states.SHUTTING_DOWN})
        self.cloud.flush()
        # Terminated, a protected instance changes nothing: no refusal.
        self.successResultOf(self.api.terminateInstances(ALICE, [first.id]))

    def test_runWithAttributes(self):
        _, [instance] = self.cloud.run(disableApiTermination=True, shutdownBehavior="terminate")
        self.assertEqual((instance.disable_api_termination, instance.shutdown_behavior), (True, "terminate"))
        self.failureResultOf(
            self.api.terminateInstances(ALICE, [instance.id]), OperationNotPermitted
        )
        for kw in ({"shutdownBehavior": "hibernate"}, {"disableApiTermination": "true"}):
            self.failureResultOf(
                self.api.runInstances(ALICE, "ami-00000001", 1, 1, **kw), InvalidParameterValue
            )

    def test_runAttributesInClientToken(self):
        """
        The attributes are part of what a client token stands for; their
        defaults leave the digest as it was before they existed.
        """
        self.successResultOf(self.api.runInstances(ALICE, "ami-00000001", 1, 1, clientToken="t"))
        self.successResultOf(
            self.api.runInstances(
                ALICE, "ami-00000001", 1, 1, clientToken="t", disableApiTermination=False,
                shutdownBehavior="stop",
            )
        )
        self.failureResultOf(
            self.api.runInstances(ALICE, "ami-00000001", 1, 1, clientToken="t", shutdownBehavior="terminate"),
            IdempotentParameterMismatch,
        )
        self.cloud.flush()


class InstanceDetailsTests(SynchronousTestCase):
    """
    L{ComputeAPI.imagesOfInstances} and L{ComputeAPI.describeInstanceTypes}.
    """

    def setUp(self):
        self.clock = task.Clock()
        self.clock.advance(START)
        self.db = makeDatabase(self, self.clock)
        self.api = ComputeAPI(configFromFlags(), self.db, None, self.clock)

    def test_imagesOfInstances(self):
        """
        The images instances run, whoever owns them now; images that are
        gone are left out.
        """
        image = self.successResultOf(
            self.db.images.create("machine", BOB.projectId, "bob", "b/m.xml", architecture="i386")
        )
        mine = createInstance(self, self.db, image_id=image.ec2_id)
        gone = createInstance(self, self.db, image_id="ami-7fffffff")
        plain = createInstance(self, self.db)
        images = self.successResultOf(self.api.imagesOfInstances(ALICE, [mine, gone, plain]))
        self.assertEqual(list(images), [image.ec2_id])
        self.assertEqual(images[image.ec2_id].architecture, "i386")
        self.assertEqual(self.successResultOf(self.api.imagesOfInstances(ALICE, [])), {})

    def test_imagesOfAnotherProjectsInstances(self):
        """
        Another project's instances are not found; a superuser's context
        sees them.
        """
        image = self.successResultOf(
            self.db.images.create("machine", ALICE.projectId, "alice", "a/m.xml")
        )
        instance = createInstance(self, self.db, image_id=image.ec2_id)
        self.failureResultOf(self.api.imagesOfInstances(BOB, [instance]), InstanceNotFound)
        self.assertEqual(
            list(self.successResultOf(self.api.imagesOfInstances(ADMIN, [instance]))),
            [image.ec2_id],
        )

    def test_describeInstanceTypes(self):
        names = [t.name for t in self.successResultOf(self.api.describeInstanceTypes(ALICE))]
        self.assertIn("m1.tiny", names)
        self.successResultOf(self.db.instanceTypes.delete("m1.tiny"))
        names = [t.name for t in self.successResultOf(self.api.describeInstanceTypes(ALICE))]
        self.assertNotIn("m1.tiny", names)


class PauseAndSuspendTests(SynchronousTestCase):
    """
    Pause, unpause, suspend and resume through the API, down to the fake
    hypervisor.
    """

    def setUp(self):
        self.cloud = Cloud(self)
        self.api = self.cloud.api

    def guestState(self, instance):
        return self.cloud.drivers["h1"].guests["instance-%08x" % (instance.id,)].state

    def test_pauseAndUnpause(self):
        _, [instance] = self.cloud.run()
        change = self.successResultOf(self.api.pauseInstance(ALICE, instance.ec2Id))
        self.assertEqual(
            (change.instanceId, change.previousState, change.currentState),
            (instance.id, states.RUNNING, states.PAUSING),
        )
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.PAUSED)
        self.assertEqual(self.guestState(instance), power.PAUSED)
        change = self.successResultOf(self.api.pauseInstance(ALICE, instance.id))
        self.assertEqual((change.previousState, change.currentState), (states.PAUSED, states.PAUSED))
        change = self.successResultOf(self.api.unpauseInstance(ALICE, instance.id))
        self.assertEqual(change.currentState, states.UNPAUSING)
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.RUNNING)
        self.assertEqual(self.guestState(instance), power.RUNNING)

    def test_suspendAndResume(self):
        _, [instance] = self.cloud.run()
        change = self.successResultOf(self.api.suspendInstance(ALICE, instance.id))
        self.assertEqual(change.currentState, states.SUSPENDING)
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.SUSPENDED)
        self.assertEqual(self.guestState(instance), power.SUSPENDED)
        change = self.successResultOf(self.api.resumeInstance(ALICE, instance.id))
        self.assertEqual(change.currentState, states.RESUMING)
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.RUNNING)
        self.assertEqual(self.guestState(instance), power.RUNNING)

    def test_illegalTransitions(self):
        """
        A request the state does not allow is refused at once and nothing
        is cast.
        """
        _, [instance] = self.cloud.run()
        # Resuming (or unpausing) a running instance changes nothing.
        change = self.successResultOf(self.api.resumeInstance(ALICE, instance.id))
        self.assertEqual(change.currentState, states.RUNNING)
        self.successResultOf(self.api.pauseInstance(ALICE, instance.id))
        # A pause under way refuses what a paused instance refuses.
        for call in (self.api.suspendInstance, self.api.resumeInstance):
            failure = self.failureResultOf(call(ALICE, instance.id), IncorrectInstanceState)
            self.assertEqual((failure.value.ec2Code, failure.value.httpStatus), ("IncorrectInstanceState", 400))
        self.cloud.flush()
        for call in (self.api.rebootInstances, self.api.stopInstances, self.api.startInstances):
            self.failureResultOf(call(ALICE, [instance.id]), IncorrectInstanceState)
        self.successResultOf(self.api.unpauseInstance(ALICE, instance.id))
        self.cloud.flush()
        self.successResultOf(self.api.suspendInstance(ALICE, instance.id))
        self.cloud.flush()
        for call in (self.api.pauseInstance, self.api.unpauseInstance):
            self.failureResultOf(call(ALICE, instance.id), IncorrectInstanceState)
        sent = [m for _, _, m, _ in self.cloud.rpc.sent]
        self.assertEqual(
            [m for m in sent if m.endswith("Instance") and m != "runInstance"],
            ["pauseInstance", "unpauseInstance", "suspendInstance"],
        )
        # A suspended instance can be terminated.
        self.successResultOf(self.api.terminateInstances(ALICE, [instance.id]))
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.TERMINATED)
        self.assertEqual(self.cloud.drivers["h1"].guests, {})

    def test_projectScope(self):
        _, [instance] = self.cloud.run()
        for call in (
            self.api.pauseInstance,
            self.api.unpauseInstance,
            self.api.suspendInstance,
            self.api.resumeInstance,
        ):
            self.failureResultOf(call(BOB, instance.ec2Id), InstanceNotFound)
        self.assertEqual(self.cloud.instance(instance.id).state, states.RUNNING)
        self.successResultOf(self.api.pauseInstance(ADMIN, instance.ec2Id))
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.PAUSED)

    def test_unreachableHostLeavesTheState(self):
        _, [instance] = self.cloud.run()

        class DeadBus:
            def cast(self, context, topic, method, args):
                from twisted.internet.defer import fail

                return fail(exception.RPCError("broker gone"))

        api = ComputeAPI(self.cloud.config, self.cloud.db, DeadBus(), self.cloud.clock, DictQuotas())
        for call in (api.pauseInstance, api.suspendInstance):
            self.failureResultOf(call(ALICE, instance.id), exception.RPCError)
            self.assertEqual(self.cloud.instance(instance.id).state, states.RUNNING)


class LockTests(SynchronousTestCase):
    """
    An administrator's lock keeps an instance's owners from changing it.
    """

    def setUp(self):
        self.cloud = Cloud(self)
        self.api = self.cloud.api

    def test_onlyAdminsLock(self):
        _, [instance] = self.cloud.run()
        for call in (self.api.lockInstance, self.api.unlockInstance):
            failure = self.failureResultOf(call(ALICE, instance.ec2Id), exception.NotAuthorized)
            self.assertEqual(
                (failure.value.ec2Code, failure.value.httpStatus), ("UnauthorizedOperation", 403)
            )
        self.assertFalse(self.cloud.instance(instance.id).locked)
        self.assertTrue(self.successResultOf(self.api.lockInstance(ADMIN, instance.ec2Id)).locked)
        self.assertTrue(self.successResultOf(self.api.lockInstance(ADMIN, instance.id)).locked)
        self.assertFalse(self.successResultOf(self.api.unlockInstance(ADMIN, instance.id)).locked)
        self.failureResultOf(self.api.lockInstance(ADMIN, "i-000000ff"), InstanceNotFound)

    def test_newInstancesAreUnlocked(self):
        _, [instance] = self.cloud.run()
        self.assertIs(instance.locked, False)

    def test_lockedRefusesOwners(self):
        """
        Every request that would change a locked instance is refused for
        its owners with L{InstanceLocked}, and nothing is cast.
        """
        _, [instance] = self.cloud.run()
        self.successResultOf(self.api.lockInstance(ADMIN, instance.id))
        sentBefore = len(self.cloud.rpc.sent)
        calls = [
            lambda: self.api.terminateInstances(ALICE, [instance.id]),
            lambda: self.api.rebootInstances(ALICE, [instance.id]),
            lambda: self.api.stopInstances(ALICE, [instance.id]),
            lambda: self.api.pauseInstance(ALICE, instance.id),
            lambda: self.api.suspendInstance(ALICE, instance.id),
            lambda: self.api.modifyInstance(ALICE, instance.id, disableApiTermination=True),
            lambda: self.api.attachVolume(ALICE, instance.id, "/dev/sdb", "/dev/vdb"),
            lambda: self.api.detachVolume(ALICE, instance.id, "/dev/vdb"),
        ]
        for call in calls:
            failure = self.failureResultOf(call(), InstanceLocked)
            self.assertIsInstance(failure.value, OperationNotPermitted)
            self.assertEqual(
                (failure.value.ec2Code, failure.value.httpStatus), ("OperationNotPermitted", 400)
            )
            self.assertEqual(
                str(failure.value),
                f"The instance '{instance.ec2Id}' is locked by an administrator; "
                f"it cannot be changed until it is unlocked.",
            )
        self.assertEqual(len(self.cloud.rpc.sent), sentBefore)
        self.assertEqual(self.cloud.instance(instance.id).state, states.RUNNING)
        # Reading it is not changing it.
        d = self.api.getConsoleOutput(ALICE, instance.id)
        self.cloud.flush()
        self.successResultOf(d)
        # A request that would change nothing is not refused.
        [change] = self.successResultOf(self.api.startInstances(ALICE, [instance.id]))
        self.assertEqual(change.currentState, states.RUNNING)

    def test_lockedRefusesTheWholeRequest(self):
        _, [first, second] = self.cloud.run(count=2)
        self.successResultOf(self.api.lockInstance(ADMIN, second.id))
        self.failureResultOf(self.api.stopInstances(ALICE, [first.id, second.id]), InstanceLocked)
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(first.id).state, states.RUNNING)

    def test_adminsChangeLockedInstances(self):
        _, [instance] = self.cloud.run()
        self.successResultOf(self.api.lockInstance(ADMIN, instance.id))
        self.successResultOf(self.api.pauseInstance(ADMIN, instance.id))
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.PAUSED)
        self.successResultOf(self.api.unlockInstance(ADMIN, instance.id))
        self.successResultOf(self.api.unpauseInstance(ALICE, instance.id))
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.RUNNING)
        self.successResultOf(self.api.terminateInstances(ALICE, [instance.id]))
        self.cloud.flush()
        self.failureResultOf(
            self.api.lockInstance(ADMIN, instance.id), IncorrectInstanceState
        )


class DiagnosticsTests(SynchronousTestCase):
    def setUp(self):
        self.cloud = Cloud(self)
        self.api = self.cloud.api

    def test_adminsOnly(self):
        _, [instance] = self.cloud.run()
        failure = self.failureResultOf(
            self.api.getDiagnostics(ALICE, instance.ec2Id), exception.NotAuthorized
        )
        self.assertEqual(failure.value.httpStatus, 403)

    def test_diagnostics(self):
        _, [instance] = self.cloud.run()
        d = self.api.getDiagnostics(ADMIN, instance.ec2Id)
        self.cloud.flush()
        diagnostics = self.successResultOf(d)
        self.assertEqual(diagnostics["instanceId"], instance.ec2Id)
        self.assertEqual(
            (diagnostics["state"], diagnostics["vcpus"], diagnostics["memory_mb"]),
            (power.RUNNING, instance.vcpus, instance.memory_mb),
        )
        self.assertEqual(set(diagnostics["interfaces"]), {instance.mac_address})

    def test_noGuest(self):
        _, [instance], _ = self.successResultOf(self.api.runInstances(ALICE, "ami-00000001", 1, 1))
        self.failureResultOf(self.api.getDiagnostics(ADMIN, instance.id), IncorrectInstanceState)
        self.cloud.flush()
        self.successResultOf(self.api.terminateInstances(ALICE, [instance.id]))
        self.cloud.flush()
        self.failureResultOf(self.api.getDiagnostics(ADMIN, instance.id), IncorrectInstanceState)
        self.failureResultOf(self.api.getDiagnostics(ADMIN, "i-000000ff"), InstanceNotFound)


class CreateImageTests(SynchronousTestCase):
    """
    CreateImage: an image reserved at once, the disk copied by the
    instance's host.
    """

    def setUp(self):
        self.cloud = Cloud(self)
        self.images = FakeImages()
        self.api = ComputeAPI(
            self.cloud.config, self.cloud.db, self.cloud.rpc, self.cloud.clock, DictQuotas(),
            images=self.images,
        )
        manager = self.cloud.computes["h1"]
        manager.images = self.images
        manager.imageUploader = self.uploader = FakeUploader(self.mktemp())

    def running(self, **kw):
        _, [instance] = self.cloud.run(kernelId="aki-00000002", ramdiskId="ari-00000003", **kw)
        return instance

    def test_createImage(self):
        instance = self.running()
        imageId = self.successResultOf(
            self.api.createImage(
                ALICE, instance.ec2Id, "my image (1)", "of the web server", tags=[("Name", "web")]
            )
        )
        image = self.images.images[imageId]
        self.assertEqual(image.state, "pending")
        self.assertRegex(image.location, r"^nova-snapshots/wonderland/[0-9a-f]{32}\.img$")
        self.assertEqual(
            image.fields,
            {
                "name": "my image (1)",
                "description": "of the web server",
                "architecture": None,
                "kernelId": "aki-00000002",
                "ramdiskId": "ari-00000003",
                "rootDeviceName": None,
                # Written with the image's record by the image service.
                "tags": [("Name", "web")],
            },
        )
        self.cloud.flush()
        self.assertEqual(image.state, "available")
        self.assertEqual(list(self.uploader.objects), [image.location])
        self.assertEqual(self.cloud.instance(instance.id).state, states.RUNNING)

    def test_badParameters(self):
        instance = self.running()
        for name in ("ab", "x" * 129, "no*stars", None, 7):
            self.failureResultOf(self.api.createImage(ALICE, instance.id, name), InvalidParameterValue)
        self.failureResultOf(
            self.api.createImage(ALICE, instance.id, "image", "d" * 256), InvalidParameterValue
        )
        self.failureResultOf(
            self.api.createImage(ALICE, instance.id, "image", noReboot="yes"), InvalidParameterValue
        )
        self.failureResultOf(self.api.createImage(BOB, instance.id, "image"), InstanceNotFound)
        self.assertEqual(self.images.calls, [])

    def test_states(self):
        """
        A stopped instance can be imaged (running ones are above); an
        instance that has no guest cannot.
        """
        instance = self.running()
        self.successResultOf(self.api.stopInstances(ALICE, [instance.id]))
        self.cloud.flush()
        self.successResultOf(self.api.createImage(ALICE, instance.id, "stopped", noReboot=True))
        self.successResultOf(self.api.terminateInstances(ALICE, [instance.id]))
        self.cloud.flush()
        self.failureResultOf(
            self.api.createImage(ALICE, instance.id, "terminated"), IncorrectInstanceState
        )
        _, [unplaced], _ = self.successResultOf(self.api.runInstances(ALICE, "ami-00000001", 1, 1))
        self.failureResultOf(
            self.api.createImage(ALICE, unplaced.id, "pending"), IncorrectInstanceState
        )
        self.cloud.flush()
        self.assertEqual([s for s, _ in self.images.calls].count("reserveImage"), 1)

    def test_locked(self):
        instance = self.running()
        self.successResultOf(self.api.lockInstance(ADMIN, instance.id))
        self.failureResultOf(self.api.createImage(ALICE, instance.id, "image"), InstanceLocked)

    def test_unreachableHostFailsTheImage(self):
        instance = self.running()

        class DeadBus:
            def cast(self, context, topic, method, args):
                from twisted.internet.defer import fail

                return fail(exception.RPCError("broker gone"))

        api = ComputeAPI(
            self.cloud.config, self.cloud.db, DeadBus(), self.cloud.clock, DictQuotas(),
            images=self.images,
        )
        self.failureResultOf(api.createImage(ALICE, instance.id, "image"), exception.RPCError)
        [image] = self.images.images.values()
        self.assertEqual(image.state, "failed")
        self.assertIn("broker gone", image.reason)
