# -*- test-case-name: tests.api.openstack.test_network -*-
"""
A small subset of the OpenStack networking API v2.0 (Neutron), at
C{/network}: what today's clients need to give a server a floating
address (C{openstack floating ip create nova}, C{floating ip list},
C{server add floating ip}, C{server remove floating ip}, C{floating ip
delete}, and openstacksdk's C{network.create_ip}, C{update_ip}, ...),
which they ask of the network service only.

It is a thin translation over the network API (the EC2 API's
AllocateAddress, AssociateAddress, ... under the same roles), with
Nova's network model shown the way Neutron names it:

  - two networks: C{nova}, the floating address pool (external, as
    C{router:external}), and C{private}, the fixed network every server
    has its address on (the label the compute API uses);
  - one port per server that has a fixed address: its C{device_id} is
    the server's id, its only C{fixed_ips} entry that address;
  - a floating IP per floating address the project holds; its
    C{port_id} names the port of the server it is associated with.

Ids are UUIDs made from what they stand for (L{uuid.uuid5}), so they
are stable without a table of their own.  Subnets, routers, security
groups and everything else Neutron has are not served.
"""

import uuid

from nova.api.openstack import faults
from nova.api.openstack.compute import NETWORK_LABEL, checkAllowed
from nova.api.openstack.extensions import FLOATING_POOL
from nova.api.openstack.resource import Response, Router, route
from nova.compute.states import RUNNING, SHUTTING_DOWN, TERMINATED
from nova.network import errors as networkErrors

#: What the ids of this API are made from (L{uuid.uuid5}).
ID_NAMESPACE = uuid.UUID("6f1d7b0e-3b0c-5a8e-9a59-2c4f1b7e0a11")

#: The ids of the two networks.
POOL_NETWORK_ID = str(uuid.uuid5(ID_NAMESPACE, f"network:{FLOATING_POOL}"))
PRIVATE_NETWORK_ID = str(uuid.uuid5(ID_NAMESPACE, f"network:{NETWORK_LABEL}"))


def portId(instance):
    """
    @param instance: an L{nova.db.instances.InstanceRecord}.
    @return: the id of the server's port.
    """
    return str(uuid.uuid5(ID_NAMESPACE, f"port:{instance.uuid}"))


def floatingIpId(address):
    """
    @return: the id of the floating IP of C{address}.
    """
    return str(uuid.uuid5(ID_NAMESPACE, f"floatingip:{address}"))


def isotime(when):
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


def networkView(networkId, name, external):
    return {
        "id": networkId,
        "name": name,
        "status": "ACTIVE",
        "admin_state_up": True,
        "shared": True,
        "router:external": external,
        "subnets": [],
        "mtu": 1500,
        "description": (
            "The floating address pool." if external else "The servers' fixed addresses."
        ),
        "availability_zones": [],
        "tags": [],
        "project_id": None,
        "tenant_id": None,
        "revision_number": 0,
        "port_security_enabled": False,
    }


def networkViews():
    return [
        networkView(POOL_NETWORK_ID, FLOATING_POOL, True),
        networkView(PRIVATE_NETWORK_ID, NETWORK_LABEL, False),
    ]


def _live(instance):
    return instance.state not in (SHUTTING_DOWN, TERMINATED) and bool(instance.fixed_ip)


def portView(instance):
    """
    @return: Neutron's description of the port of C{instance}.
    """
    return {
        "id": portId(instance),
        "name": "",
        "network_id": PRIVATE_NETWORK_ID,
        "device_id": instance.uuid,
        "device_owner": f"compute:{instance.availability_zone or 'nova'}",
        "mac_address": instance.mac_address,
        "fixed_ips": [{"subnet_id": None, "ip_address": instance.fixed_ip}],
        "status": "ACTIVE" if instance.state == RUNNING else "DOWN",
        "admin_state_up": True,
        "security_groups": [],
        "description": "",
        "tags": [],
        "project_id": instance.project_id,
        "tenant_id": instance.project_id,
        "created_at": isotime(instance.created_at),
        "updated_at": isotime(instance.updated_at or instance.created_at),
        "revision_number": 0,
    }


def floatingIpView(record, instance):
    """
    @param record: a L{nova.db.networks.FloatingIpRecord}.
    @param instance: the instance it is associated with, or L{None}.
    @return: Neutron's description of the floating IP.
    """
    return {
        "id": floatingIpId(record.address),
        "floating_ip_address": record.address,
        "floating_network_id": POOL_NETWORK_ID,
        "fixed_ip_address": record.fixed_address if instance is not None else None,
        "port_id": portId(instance) if instance is not None else None,
        "port_details": {
            "name": "",
            "network_id": PRIVATE_NETWORK_ID,
            "mac_address": instance.mac_address,
            "admin_state_up": True,
            "status": "ACTIVE",
            "device_id": instance.uuid,
            "device_owner": f"compute:{instance.availability_zone or 'nova'}",
        }
        if instance is not None
        else None,
        "router_id": None,
        "status": "ACTIVE" if instance is not None else "DOWN",
        "description": "",
        "dns_domain": "",
        "dns_name": "",
        "tags": [],
        "project_id": record.project_id,
        "tenant_id": record.project_id,
        "created_at": isotime(record.created_at),
        "updated_at": isotime(record.updated_at or record.created_at),
        "revision_number": 0,
    }


def _matches(view, query, keys):
    """
    @return: whether C{view} has the value the query gives for each of
        C{keys} it names (booleans as C{true}/C{false}, any case).
    """
    for key in keys:
        values = query.get(key)
        if not values:
            continue
        value = view.get(key)
        if isinstance(value, bool):
            value = "true" if value else "false"
            wanted = {v.lower() for v in values}
        else:
            wanted = set(values)
        if ("" if value is None else str(value)) not in wanted:
            return False
    return True


def _body(call, key):
    body = call.body
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise faults.BadRequest(f"Expecting to find {key} in the request body.")
    return body[key]


class NetworkRouter(Router):
    """
    C{/network}: the versions list, and C{/network/v2.0/...}.
    """

    # -- versions --------------------------------------------------------

    def _versions(self, call):
        return {
            "versions": [
                {
                    "id": "v2.0",
                    "status": "CURRENT",
                    "links": [{"rel": "self", "href": f"{call.baseURL()}/network/v2.0/"}],
                }
            ]
        }

    @route("GET", "", public=True)
    async def versions(self, call):
        return Response(self._versions(call))

    @route("GET", "v2.0", public=True)
    async def resources(self, call):
        base = f"{call.baseURL()}/network/v2.0"
        return Response(
            {
                "resources": [
                    {
                        "name": name,
                        "collection": collection,
                        "links": [{"rel": "self", "href": f"{base}/{collection}"}],
                    }
                    for name, collection in (
                        ("network", "networks"),
                        ("port", "ports"),
                        ("floatingip", "floatingips"),
                    )
                ]
            }
        )

    @route("GET", "v2.0/extensions")
    async def extensions(self, call):
        return Response(
            {
                "extensions": [
                    {
                        "alias": "external-net",
                        "name": "Neutron external network",
                        "description": "The floating address pool is an external network.",
                        "updated": "2013-01-14T10:00:00-00:00",
                        "links": [],
                    }
                ]
            }
        )

    # -- networks --------------------------------------------------------

    @route("GET", "v2.0/networks")
    async def listNetworks(self, call):
        views = [
            view
            for view in networkViews()
            if _matches(view, call.query, ("id", "name", "router:external", "status", "shared"))
        ]
        return Response({"networks": views})

    @route("GET", "v2.0/networks/{id}")
    async def showNetwork(self, call):
        for view in networkViews():
            if view["id"] == call.args["id"]:
                return Response({"network": view})
        raise faults.ItemNotFound(f"Network {call.args['id']} could not be found.")

    # -- ports -----------------------------------------------------------

    async def _instances(self, call):
        """
        @return: the live instances with a fixed address the context
            sees.
        """
        instances = await self.backends.compute.describeInstances(call.context)
        return [instance for instance in instances if _live(instance)]

    async def _instanceOfPort(self, call, wantedPortId):
        for instance in await self._instances(call):
            if portId(instance) == wantedPortId:
                return instance
        raise faults.ItemNotFound(f"Port {wantedPortId} could not be found.")

    @route("GET", "v2.0/ports")
    async def listPorts(self, call):
        checkAllowed(call.context, "DescribeInstances")
        views = [
            view
            for view in (portView(i) for i in await self._instances(call))
            if _matches(
                view,
                call.query,
                ("id", "device_id", "network_id", "mac_address", "status", "device_owner"),
            )
        ]
        return Response({"ports": views})

    @route("GET", "v2.0/ports/{id}")
    async def showPort(self, call):
        checkAllowed(call.context, "DescribeInstances")
        instance = await self._instanceOfPort(call, call.args["id"])
        return Response({"port": portView(instance)})

    # -- floating IPs ----------------------------------------------------

    async def _floatingViews(self, call, records):
        byId = {}
        if any(record.instance_id is not None for record in records):
            byId = {i.id: i for i in await self._instances(call)}
        return [
            floatingIpView(record, byId.get(record.instance_id)) for record in records
        ]

    async def _floatingRecord(self, call, floatingId):
        for record in await self.backends.network.describeFloatingIps(call.context):
            if floatingIpId(record.address) == floatingId:
                return record
        raise faults.ItemNotFound(f"Floating IP {floatingId} could not be found.")

    async def _associate(self, call, record, attributes):
        """
        Point C{record}'s address at the server of the port
        C{attributes} names (C{port_id}, and C{fixed_ip_address} if
        given, which must be that server's), or at none for a C{port_id}
        of L{None}; moving it from another server first.
        """
        wantedPort = attributes.get("port_id")
        if wantedPort is not None and not isinstance(wantedPort, str):
            raise faults.BadRequest("port_id must be a port's id or null.")
        network = self.backends.network
        if wantedPort is None:
            if record.instance_id is not None:
                checkAllowed(call.context, "DisassociateAddress")
                await network.disassociateFloatingIp(call.context, record.address)
            return
        checkAllowed(call.context, "AssociateAddress")
        instance = await self._instanceOfPort(call, wantedPort)
        fixed = attributes.get("fixed_ip_address")
        if fixed is not None and fixed != instance.fixed_ip:
            raise faults.BadRequest(
                f"Port {wantedPort} does not have the fixed address {fixed}."
            )
        if record.instance_id == instance.id:
            return
        if record.instance_id is not None:
            checkAllowed(call.context, "DisassociateAddress")
            await network.disassociateFloatingIp(call.context, record.address)
        await network.associateFloatingIp(call.context, record.address, instance.id)

    async def _floatingResponse(self, call, address, status=200):
        [record] = await self.backends.network.describeFloatingIps(call.context, [address])
        [view] = await self._floatingViews(call, [record])
        return Response({"floatingip": view}, status)

    @route("GET", "v2.0/floatingips")
    async def listFloatingIps(self, call):
        checkAllowed(call.context, "DescribeAddresses")
        records = await self.backends.network.describeFloatingIps(call.context)
        views = [
            view
            for view in await self._floatingViews(call, records)
            if _matches(
                view,
                call.query,
                (
                    "id",
                    "floating_ip_address",
                    "floating_network_id",
                    "fixed_ip_address",
                    "port_id",
                    "status",
                    "project_id",
                    "tenant_id",
                ),
            )
        ]
        return Response({"floatingips": views})

    @route("GET", "v2.0/floatingips/{id}")
    async def showFloatingIp(self, call):
        checkAllowed(call.context, "DescribeAddresses")
        record = await self._floatingRecord(call, call.args["id"])
        [view] = await self._floatingViews(call, [record])
        return Response({"floatingip": view})

    @route("POST", "v2.0/floatingips")
    async def createFloatingIp(self, call):
        """
        Allocate a floating address from the pool (C{floating_network_id}
        must be its id), and associate it with C{port_id}'s server if
        given.
        """
        checkAllowed(call.context, "AllocateAddress")
        attributes = _body(call, "floatingip")
        if attributes.get("floating_network_id") != POOL_NETWORK_ID:
            raise faults.ItemNotFound(
                f"Network {attributes.get('floating_network_id')} could not be found "
                "or is not external."
            )
        if attributes.get("floating_ip_address") is not None:
            raise faults.BadRequest("A floating address cannot be chosen: one is given.")
        if attributes.get("port_id") is not None:
            # Before allocating, so that a bad port leaves nothing behind.
            await self._instanceOfPort(call, attributes["port_id"])
        address = await self.backends.network.allocateFloatingIp(call.context)
        if attributes.get("port_id") is not None:
            [record] = await self.backends.network.describeFloatingIps(call.context, [address])
            try:
                await self._associate(call, record, attributes)
            except Exception:
                await self.backends.network.releaseFloatingIp(call.context, address)
                raise
        return await self._floatingResponse(call, address, 201)

    @route("PUT", "v2.0/floatingips/{id}")
    async def updateFloatingIp(self, call):
        """
        Associate the floating address with C{port_id}'s server, or
        disassociate it (C{port_id} null).
        """
        attributes = _body(call, "floatingip")
        record = await self._floatingRecord(call, call.args["id"])
        if "port_id" in attributes:
            await self._associate(call, record, attributes)
        else:
            checkAllowed(call.context, "DescribeAddresses")
        return await self._floatingResponse(call, record.address)

    @route("DELETE", "v2.0/floatingips/{id}")
    async def deleteFloatingIp(self, call):
        checkAllowed(call.context, "ReleaseAddress")
        record = await self._floatingRecord(call, call.args["id"])
        if record.instance_id is not None:
            try:
                await self.backends.network.disassociateFloatingIp(call.context, record.address)
            except networkErrors.FloatingIpNotAssociated:
                pass
        await self.backends.network.releaseFloatingIp(call.context, record.address)
        return Response(None, 204)
