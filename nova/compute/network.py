# -*- test-case-name: tests.compute.test_manager -*-
"""
How nova-compute reaches nova-network: a small client interface, its RPC
implementation, and a fake for tests.

Over RPC the compute manager calls (topic C{network}):

  - C{allocateFixedIp(instanceId, instance)} (a call), C{instance} the
    fields of the instance the allocation uses
    (L{nova.network.common.addressingOf}): the network service picks a
    fixed address for the instance and answers with its network
    description, a L{dict} with at least C{address}, and when known
    C{bridge}, C{netmask}, C{gateway}, C{dns} (a list), C{cidr},
    C{network_id};
  - C{deallocateFixedIp(instanceId)} (a cast): the instance is gone, its
    address may be released.
"""

from twisted.internet.defer import fail, succeed
from zope.interface import Interface, implementer

from nova.network.common import addressingOf


class INetworkClient(Interface):
    """
    The network operations the compute manager needs.
    """

    def allocateForInstance(context, instance):
        """
        Get a fixed address for an instance.

        @param instance: an L{nova.db.records.InstanceRecord}.
        @return: L{Deferred} firing with the network description (a
            L{dict} with at least C{address}).
        """

    def deallocateForInstance(context, instance):
        """
        Tell the network service an instance is gone.

        @return: L{Deferred} firing with C{None} once the request is sent.
        """


@implementer(INetworkClient)
class NetworkRPCClient:
    """
    L{INetworkClient} over RPC to the C{network} topic.
    """

    topic = "network"

    def __init__(self, rpc):
        self.rpc = rpc

    def allocateForInstance(self, context, instance):
        return self.rpc.call(
            context,
            self.topic,
            "allocateFixedIp",
            {"instanceId": instance.id, "instance": addressingOf(instance)},
        )

    def deallocateForInstance(self, context, instance):
        return self.rpc.cast(
            context, self.topic, "deallocateFixedIp", {"instanceId": instance.id}
        )


@implementer(INetworkClient)
class FakeNetworkClient:
    """
    An L{INetworkClient} that hands out 10.0.0.x addresses in memory.

    @ivar allocated: a L{dict} from instance id to address.
    @ivar calls: C{(method, instanceId)} of every call.
    @ivar failNext: an exception the next call fails with, or C{None}.
    """

    def __init__(self, bridge="br100"):
        self.bridge = bridge
        self.allocated = {}
        self.calls = []
        self.failNext = None
        self._next = 2

    def _failure(self):
        error, self.failNext = self.failNext, None
        return error

    def allocateForInstance(self, context, instance):
        self.calls.append(("allocateForInstance", instance.id))
        error = self._failure()
        if error is not None:
            return fail(error)
        address = f"10.0.0.{self._next}"
        self._next += 1
        self.allocated[instance.id] = address
        return succeed(
            {
                "address": address,
                "bridge": self.bridge,
                "netmask": "255.255.255.0",
                "gateway": "10.0.0.1",
                "dns": ["10.0.0.1"],
                "cidr": "10.0.0.0/24",
            }
        )

    def deallocateForInstance(self, context, instance):
        self.calls.append(("deallocateForInstance", instance.id))
        error = self._failure()
        if error is not None:
            return fail(error)
        self.allocated.pop(instance.id, None)
        return succeed(None)
