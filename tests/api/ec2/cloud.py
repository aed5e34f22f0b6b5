# -*- test-case-name: tests.api.ec2.test_instances -*-
"""
A whole cloud behind a real listening nova-api, for the tests of the EC2
actions that reach other services and of the metadata service.

The web site is the one L{nova.api.tap.apiServices} builds (EC2 API,
admin API, metadata service, with the real compute, volume, network,
security group and image APIs as backends) over an in-memory SQLite
database and the real auth manager.  On an in-process L{LocalRPC} bus over
the real reactor serve:

  - the scheduler (the simple driver);
  - a flat network manager on the fake network driver (host C{net1},
    fixed range L{FIXED_RANGE}, floating addresses L{FLOATING});
  - the volume manager on the file driver in a temporary directory (host
    C{vol1});
  - two compute managers on fake hypervisors (hosts C{node1} and
    C{node2});
  - nova-objectstore's image service over a filesystem object store
    holding the buckets C{alice-bucket} and C{bob-bucket}, each with a
    plain image C{disk.img}.

Users, on top of L{tests.api.ec2.support.USERS} (alice manages project
alice and is its sysadmin; bob manages bob and is a member of alice
without roles; root is a superuser), all members of alice:

  - carol: netadmin (globally and in alice);
  - dave: developer (globally and in alice);
  - erin: no role;
  - sam: sysadmin (globally and in alice), not alice's manager;
  - bob also holds netadmin in his own project bob (not in alice).
"""

import os

import attr
from botocore.exceptions import ClientError
from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import deferLater

from nova.api.tap import apiServices
from nova.auth.manager import authManagerFromConfig
from nova.compute.manager import ComputeManager
from nova.config import configFromFlags
from nova.context import RequestContext
from nova.db.api import inlineDatabase
from nova.image.manager import TOPIC as IMAGE_TOPIC
from nova.image.manager import ImageManager
from nova.image.service import CertificateAuthorityKeys, ImageService
from nova.image.storage import ImageStorage
from nova.network.fake import FakeNetworkDriver
from nova.network.manager import managerClass
from nova.objectstore.body import BytesBody
from nova.objectstore.filesystem import FilesystemObjectStore
from nova.objectstore.interfaces import ObjectSettings
from nova.rpc.local import LocalRPC
from nova.scheduler.manager import SchedulerManager
from nova.service import NovaService
from nova.virt.fake import FakeVirtDriver
from nova.volume.file import FileVolumeDriver
from nova.volume.manager import VolumeManager
from tests.api.ec2.support import (
    ALICE,
    BOB,
    ROOT,
    APIServerMixin,
    TestUser,
    TrackingSite,
    createUsers,
)
from tests.image.support import runInThread, sharedCA

CAROL = TestUser("carol", "carol-access", "carol-secret")
DAVE = TestUser("dave", "dave-access", "dave-secret")
ERIN = TestUser("erin", "erin-access", "erin-secret")
SAM = TestUser("sam", "sam-access", "sam-secret")

#: The role each added user holds in alice (L{None}: a member without
#: roles).
ROLES = {CAROL: "netadmin", DAVE: "developer", ERIN: None, SAM: "sysadmin"}

#: The project each added user acts in.
HOME_PROJECT = {user.name: ALICE.name for user in ROLES}

NETWORK_HOST = "net1"
VOLUME_HOST = "vol1"
IMAGE_HOST = "store"
COMPUTE_HOSTS = ("node1", "node2")

FIXED_RANGE = "10.0.0.0/24"

#: The floating addresses the network host serves.
FLOATING = ("192.0.2.101", "192.0.2.102", "192.0.2.103", "192.0.2.104", "192.0.2.105")


def contextFor(user, project=None):
    """
    @return: a L{RequestContext} of C{user} in C{project} (the user's own
        by default), for calling the control planes directly.
    """
    return RequestContext(userId=user.name, projectId=project or user.name)


async def createCloudUsers(authManager):
    """
    Create L{tests.api.ec2.support.USERS} and the users of L{ROLES} with
    their roles in alice, and bob's netadmin role in bob.
    """
    await createUsers(authManager)
    for user, role in ROLES.items():
        await authManager.createUser(user.name, user.access, user.secret, False)
        await authManager.addToProject(user.name, ALICE.name)
        if role is not None:
            await authManager.addRole(user.name, role)
            await authManager.addRole(user.name, role, ALICE.name)
    await authManager.addRole(BOB.name, "netadmin")
    await authManager.addRole(BOB.name, "netadmin", BOB.name)


async def waitFor(predicate, timeout=15.0, interval=0.01):
    """
    Call C{predicate} (which may return a Deferred or coroutine) until it
    is true, on the real reactor.

    @return: its last (true) value.
    @raise AssertionError: after C{timeout} seconds.
    """
    deadline = reactor.seconds() + timeout
    while True:
        value = predicate()
        if hasattr(value, "__await__") or hasattr(value, "addCallback"):
            value = await value
        if value:
            return value
        if reactor.seconds() > deadline:
            raise AssertionError(f"{predicate} not true within {timeout} s")
        await deferLater(reactor, interval, lambda: None)


class CloudServerMixin(APIServerMixin):
    """
    For trial C{TestCase}s: L{startCloud} runs the services and the API.

    Then available: C{self.db}, C{self.rpc}, C{self.config}; the network
    host's C{networkManager} and C{networkDriver} (a
    L{FakeNetworkDriver}); C{volumeManager}, C{volumeDriver} and
    C{volumesPath}; C{drivers} and C{computeManagers} (compute host ->
    L{FakeVirtDriver}, L{ComputeManager}); C{store} (the image service's
    object store) and C{imageService}; the API's C{backends} and its
    C{computeAPI}, C{volumeAPI}, C{networkAPI}, C{securityGroupAPI}; and
    the clients of L{APIServerMixin}.

    @cvar floatingQuota: floating addresses a project may hold.
    """

    floatingQuota = 3

    async def startCloud(self, **flags):
        """
        Start the scheduler, network, volume, compute and image services
        and the API on a free port of 127.0.0.1.

        @param flags: flags to set on top of the harness's.
        """
        tmp = os.path.abspath(self.mktemp())
        self.volumesPath = os.path.join(tmp, "volumes")
        os.makedirs(self.volumesPath)
        values = dict(
            host="api",
            ec2_host="127.0.0.1",
            ec2_port=0,
            scheduler_driver="simple",
            network_manager="flat",
            network_driver="fake",
            fixed_range=FIXED_RANGE,
            public_interface="eth9",
            routing_source_ip="192.0.2.1",
            metadata_trusted_proxies="127.0.0.1",
            volumes_path=self.volumesPath,
            quota_volumes=3,
            quota_gigabytes=10,
        )
        values.update(flags)
        self.config = config = configFromFlags(**values)
        self.db = db = inlineDatabase("sqlite:", reactor)
        await db.sync()
        self.addCleanup(db.transactor.close)
        self.authManager = authManagerFromConfig(config, db, reactor)
        await createCloudUsers(self.authManager)
        self.rpc = rpc = LocalRPC(reactor, callTimeout=15)
        self.services = []
        self.addCleanup(lambda: ensureDeferred(self._stopServices()))

        networkConfig = config.replace(host=NETWORK_HOST)
        networkManager = managerClass("flat")
        await db.networks.createNetworks(
            networkManager.planNetworks(networkConfig, FIXED_RANGE, 1, 256)
        )
        await db.networks.createFloatingIps(NETWORK_HOST, list(FLOATING))
        self.networkDriver = FakeNetworkDriver()
        self.networkManager = networkManager(
            networkConfig, db, rpc, reactor,
            driver=self.networkDriver,
            floatingQuota=lambda projectId: self.floatingQuota,
        )
        await self._start("nova-scheduler", "scheduler", SchedulerManager(config, db, rpc, reactor))
        await self._start("nova-network", "network", self.networkManager)
        self.volumeDriver = FileVolumeDriver(self.volumesPath, reactor)
        self.volumeManager = VolumeManager(
            config.replace(host=VOLUME_HOST), db, rpc, reactor, driver=self.volumeDriver
        )
        await self._start("nova-volume", "volume", self.volumeManager)
        self.drivers = {}
        self.computeManagers = {}
        for host in COMPUTE_HOSTS:
            driver = self.drivers[host] = FakeVirtDriver()
            manager = self.computeManagers[host] = ComputeManager(
                config.replace(host=host), db, rpc, reactor, driver
            )
            await self._start("nova-compute", "compute", manager)
        await self._startImageService(os.path.join(tmp, "objectstore"))

        [ec2] = apiServices(config, reactor, db, rpc, self.authManager)
        built = ec2.args[1]
        self.root = built.resource
        self.backends = backends = (
            built.resource.children[b"services"].children[b"Cloud"].api.backends
        )
        self.computeAPI = backends.compute
        self.volumeAPI = backends.volumes
        self.networkAPI = backends.network
        self.securityGroupAPI = backends.securityGroups
        self.site = TrackingSite(built.resource, requestFactory=built.requestFactory)
        self.site.noisy = False
        self.listening = reactor.listenTCP(0, self.site, interface="127.0.0.1")
        self.port = self.listening.getHost().port
        self.host = f"127.0.0.1:{self.port}"
        self.endpoint = f"http://127.0.0.1:{self.port}{config.ec2_path}"
        self.adminEndpoint = f"http://127.0.0.1:{self.port}/services/Admin"
        self._clients = []
        self.addCleanup(lambda: ensureDeferred(self._stopServer()))

    async def _startImageService(self, path):
        """
        Run nova-objectstore's image service on the bus, over a filesystem
        object store (C{self.store}) under C{path} holding the bucket
        C{alice-bucket} with a plain image C{disk.img}, and C{bob-bucket}
        likewise.
        """
        self.store = FilesystemObjectStore(os.path.join(path, "buckets"), reactor, fsync=False)
        self.imageService = ImageService(
            self.db,
            self.store,
            CertificateAuthorityKeys(sharedCA()),
            ImageStorage(os.path.join(path, "images"), runInThread, fsync=False),
            reactor,
            threads=2,
        )
        self.imageService.startService()
        self.addCleanup(self.imageService.stopService)
        manager = ImageManager(
            self.config.replace(host=IMAGE_HOST), self.db, self.rpc, reactor, self.imageService
        )
        await self._start("nova-objectstore", IMAGE_TOPIC, manager)
        for project, data in ((ALICE.name, b"\0" * 4096 + b"an image"), (BOB.name, b"bob's")):
            await self.store.createBucket(f"{project}-bucket", project)
            await self.store.putObject(
                f"{project}-bucket", "disk.img", BytesBody(data), ObjectSettings(owner=project)
            )

    async def _start(self, binary, topic, manager):
        service = NovaService(binary, topic, manager, self.rpc, self.db, reactor, manager.config)
        self.services.append(service)
        service.startService()
        await service.ready
        return service

    async def _stopServices(self):
        for service in reversed(self.services):
            if service.running:
                await service.stopService()

    # clients

    def clientFor(self, user, **kwargs):
        """
        @return: L{Deferred} firing with a botocore EC2 client for C{user}
            acting in its home project: alice for the users of L{ROLES},
            the project named like the user for the others.
        """
        kwargs.setdefault("project", HOME_PROJECT.get(user.name))
        return self.makeClient(user, **kwargs)

    def botoFor(self, user):
        """
        @return: a boto 2 C{EC2Connection} for C{user} in its home project.
        """
        project = HOME_PROJECT.get(user.name)
        if project is not None:
            user = attr.evolve(user, access=f"{user.access}:{project}")
        return self.botoConnection(user)

    async def expectError(self, code, function, *args, **kwargs):
        """
        Call a botocore client method in a thread and check it fails with
        the EC2 error C{code}.

        @return: the error's C{{"Code": ..., "Message": ...}}.
        """
        with self.assertRaises(ClientError) as caught:
            await self.inThread(function, *args, **kwargs)
        error = caught.exception.response["Error"]
        self.assertEqual(error["Code"], code, error.get("Message"))
        return error

    # waiting

    def waitFor(self, check, timeout=15.0, interval=0.02):
        """
        L{waitFor} as a method.

        @return: a coroutine of what C{check} returned.
        """
        return waitFor(check, timeout, interval)

    async def instanceRecord(self, ec2Id):
        return await self.db.instances.get(int(ec2Id[2:], 16))

    async def waitForState(self, ec2Ids, state, timeout=15.0):
        """
        Wait until every instance is in C{state} (the database's name).

        @return: their records.
        """

        async def check():
            records = [await self.instanceRecord(i) for i in ec2Ids]
            return records if all(r.state == state for r in records) else None

        return await waitFor(check, timeout)

    # instances and images

    def guestOf(self, instance):
        """
        @param instance: an L{nova.db.records.InstanceRecord} placed on a
            compute host.
        @return: its guest on that host's L{FakeVirtDriver}.
        """
        manager = self.computeManagers[instance.host]
        return self.drivers[instance.host].guests[manager.instanceName(instance)]

    async def addImage(self, projectId=ALICE.name, imageType="machine", **fields):
        """
        Put an available image straight into the database.

        @return: its L{nova.db.images.ImageRecord}.
        """
        fields.setdefault("state", "available")
        fields.setdefault("architecture", "x86_64")
        return await self.db.images.create(
            imageType, projectId, projectId, f"{projectId}-bucket/image.manifest.xml", **fields
        )

    async def runInstance(self, user=ALICE, project=None):
        """
        Run an instance through the compute API and wait until it runs
        (with a fixed address from the network host).

        @return: its L{nova.db.records.InstanceRecord}.
        """
        context = contextFor(user, project)
        _, [instance], _ = await self.computeAPI.runInstances(context, "ami-00000001", 1, 1)

        async def running():
            record = await self.db.instances.get(instance.id)
            return record if record.state == "running" else None

        return await waitFor(running)

    async def runAndWait(self, client, count=1, **kw):
        """
        RunInstances through C{client} (boto3), then wait until the
        instances run.

        @return: the RunInstances response.
        """
        if "ImageId" not in kw:
            kw["ImageId"] = (await self.addImage()).ec2_id
        reservation = await self.inThread(
            client.run_instances, MinCount=count, MaxCount=count, **kw
        )
        await self.waitForState([i["InstanceId"] for i in reservation["Instances"]], "running")
        return reservation


__all__ = [
    "ALICE", "BOB", "CAROL", "DAVE", "ERIN", "ROOT", "SAM", "FLOATING", "FIXED_RANGE",
    "CloudServerMixin", "contextFor", "waitFor",
]
