# -*- test-case-name: tests.api.ec2.test_addresses -*-
"""
Address actions: AllocateAddress, ReleaseAddress, AssociateAddress,
DisassociateAddress, DescribeAddresses.

The addresses are Nova's floating IPs, EC2-Classic ("standard") elastic
addresses: they are named by their C{PublicIp} (they have no allocation
or association ids) and belong to a project, which alone sees and uses
them.  The work is the L{nova.network.api.NetworkAPI}'s
(C{call.backends.network}); instances are found through the compute API,
so an instance of another project is C{InvalidInstanceID.NotFound}.
"""

from nova.api.ec2.errors import InvalidParameterValue, MissingParameter, UnsupportedOperation
from nova.api.ec2.filters import applyFilters
from nova.compute.names import ec2InstanceId

DOMAIN = "standard"

_NO_ALLOCATION_IDS = (
    "Addresses here are EC2-Classic (standard) addresses without allocation or "
    "association ids: name them by PublicIp."
)


def _instanceId(address):
    return None if address.instance_id is None else ec2InstanceId(address.instance_id)


ADDRESS_FILTERS = {
    "public-ip": lambda address: address.address,
    "instance-id": _instanceId,
    "domain": lambda address: DOMAIN,
    "private-ip-address": lambda address: address.fixed_address,
    # Addresses have no tags: tag:<key>, tag-key and tag-value match none.
    "tag": lambda address: {},
}


def _refuse(params, names, message):
    for name in names:
        if params.get(name):
            raise UnsupportedOperation(message)


def _publicIp(params):
    _refuse(params, ("AllocationId", "AssociationId"), _NO_ALLOCATION_IDS)
    if not params.get("PublicIp"):
        raise MissingParameter("PublicIp")
    return params["PublicIp"]


def _addressInfo(address):
    return {
        "PublicIp": address.address,
        "Domain": DOMAIN,
        "InstanceId": _instanceId(address),
        "PrivateIpAddress": address.fixed_address,
        "Tags": [],
    }


async def allocateAddress(call):
    """
    Give the project a floating address (C{AddressLimitExceeded} over its
    quota).  Only the C{standard} domain exists.
    """
    params = call.params
    domain = params.get("Domain", DOMAIN)
    if domain == "vpc":
        raise UnsupportedOperation(
            "VPC addresses are not supported: allocate a standard address."
        )
    if domain != DOMAIN:
        raise InvalidParameterValue(
            f"Value ({domain}) for parameter Domain is invalid. Valid values: standard"
        )
    _refuse(
        params,
        ("Address", "PublicIpv4Pool", "CustomerOwnedIpv4Pool", "IpamPoolId"),
        "Addresses come from the cloud's one pool: leave out Address and the pool parameters.",
    )
    if any(spec.get("Tags") for spec in params.get("TagSpecifications", ())):
        raise UnsupportedOperation("Tags are not supported for addresses.")
    address = await call.backends.network.allocateFloatingIp(call.context)
    return {"PublicIp": address, "Domain": DOMAIN}


async def releaseAddress(call):
    """
    Give a floating address back (disassociating it first).
    """
    await call.backends.network.releaseFloatingIp(call.context, _publicIp(call.params))


async def associateAddress(call):
    """
    Point a floating address at an instance of the project (moving it
    from another instance, as EC2-Classic does).
    """
    params = call.params
    publicIp = _publicIp(params)
    _refuse(
        params,
        ("NetworkInterfaceId", "PrivateIpAddress"),
        "Addresses are associated with an instance's first fixed address: give InstanceId.",
    )
    if not params.get("InstanceId"):
        raise MissingParameter("InstanceId")
    instance = await call.backends.compute.getInstance(call.context, params["InstanceId"])
    await call.backends.network.associateFloatingIp(call.context, publicIp, instance.id)
    return {}


async def disassociateAddress(call):
    """
    Stop pointing a floating address at its instance.
    """
    await call.backends.network.disassociateFloatingIp(call.context, _publicIp(call.params))


async def describeAddresses(call):
    """
    List the project's floating addresses, by C{PublicIp.N} and filters
    (C{public-ip}, C{instance-id}, C{domain}, C{private-ip-address}, and
    the tag filters, which match no address).
    """
    params = call.params
    _refuse(params, ("AllocationIds",), _NO_ALLOCATION_IDS)
    addresses = await call.backends.network.describeFloatingIps(
        call.context, params.get("PublicIps") or ()
    )
    addresses = applyFilters(params.get("Filters"), addresses, ADDRESS_FILTERS)
    return {"Addresses": [_addressInfo(address) for address in addresses]}
