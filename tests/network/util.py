"""
Helpers for the network tests: a database with networks, an in-process
bus, fake drivers, and network managers serving topics.
"""

import random

from twisted.internet import task

from nova.config import configFromFlags
from nova.context import RequestContext
from nova.db.api import inlineDatabase
from nova.db.networks import NetworkRecord
from nova.manager import ManagerDispatcher
from nova.network.fake import FakeNetworkDriver
from nova.network.manager import managerClass
from nova.rpc.local import LocalRPC


def networkRecord(**fields):
    """
    @return: a L{NetworkRecord} of 10.0.0.0/25 on br100.
    """
    values = dict(
        id=1,
        label=None,
        cidr="10.0.0.0/25",
        netmask="255.255.255.128",
        gateway="10.0.0.1",
        broadcast="10.0.0.127",
        dhcp_start="10.0.0.2",
        dns=None,
        bridge="br100",
        bridge_interface=None,
        vlan=None,
        injected=False,
        vpn_public_address=None,
        vpn_public_port=None,
        vpn_private_address=None,
        project_id=None,
        host=None,
        created_at=None,
        updated_at=None,
    )
    values.update(fields)
    return NetworkRecord(**values)


def context(projectId="proj1", userId="alice", isAdmin=False):
    return RequestContext(userId=userId, projectId=projectId, isAdmin=isAdmin)


class NetworkHarness:
    """
    A mixin for L{SynchronousTestCase}s: a clock, a synced in-memory
    database, a L{LocalRPC}, and L{addHost} to serve the network topic on a
    host with a fake driver.
    """

    mode = "flat"
    quota = 3
    flags = {}
    callTimeout = 30

    def setUpHarness(self):
        self.clock = task.Clock()
        self.clock.advance(1_700_000_000)
        self.db = inlineDatabase("sqlite:", self.clock)
        self.successResultOf(self.db.sync())
        self.rpc = LocalRPC(self.clock, callTimeout=self.callTimeout)
        self.managers = {}
        self.drivers = {}

    def configFor(self, host, **flags):
        values = dict(
            host=host,
            network_manager=self.mode,
            public_interface="eth9",
            routing_source_ip="192.0.2.1",
            vpn_ip="192.0.2.1",
            ec2_dmz_host="192.0.2.10",
            ec2_port=8773,
        )
        values.update(self.flags)
        values.update(flags)
        return configFromFlags(**values)

    def addHost(self, host, driver=None, **flags):
        """
        Serve C{network} and C{network.<host>} with a manager of
        L{mode} on C{host}.

        @return: the manager.
        """
        config = self.configFor(host, **flags)
        driver = driver if driver is not None else FakeNetworkDriver()
        manager = managerClass(self.mode)(
            config,
            self.db,
            self.rpc,
            self.clock,
            driver=driver,
            floatingQuota=lambda projectId: self.quota,
            rng=random.Random(len(self.managers)),
        )
        d = manager.initHost()
        for _ in range(100):
            if d.called:
                break
            self.clock.advance(0.5)
        self.successResultOf(d)
        self.successResultOf(self.rpc.serve("network", host, ManagerDispatcher(manager)))
        self.managers[host] = manager
        self.drivers[host] = driver
        return manager

    def createNetworks(self, cidr="10.0.0.0/24", num=1, size=128, **kwargs):
        config = self.configFor("manage")
        plans = managerClass(self.mode).planNetworks(config, cidr, num, size, **kwargs)
        return self.successResultOf(self.db.networks.createNetworks(plans))

    def createInstance(self, projectId="proj1", hostname=None, **fields):
        values = dict(
            reservation_id="r-00000001",
            project_id=projectId,
            user_id="alice",
            instance_type="m1.tiny",
            vcpus=1,
            memory_mb=512,
            local_gb=0,
            hostname=hostname,
        )
        values.update(fields)
        return self.successResultOf(self.db.instances.create(**values))

    def settle(self, d, steps=20):
        """
        Let the in-process bus deliver until C{d} fires.

        @return: C{d}.
        """
        for _ in range(steps):
            if d.called:
                break
            self.clock.advance(0)
        return d

    def call(self, ctx, topic, method, **args):
        """
        @return: the result of an RPC call, delivered.
        """
        return self.successResultOf(self.settle(self.rpc.call(ctx, topic, method, args)))

    def callFails(self, ctx, topic, method, error, **args):
        """
        @return: the failure of an RPC call, checked to be C{error}.
        """
        return self.failureResultOf(
            self.settle(self.rpc.call(ctx, topic, method, args)), error
        )
