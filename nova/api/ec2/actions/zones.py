# -*- test-case-name: tests.api.ec2.test_zones -*-
"""
DescribeRegions and DescribeAvailabilityZones.

A Nova cloud is one region, C{nova}, whose endpoint is this API
(C{ec2_scheme}, C{ec2_host}, C{ec2_port}, C{ec2_path}), unless
C{--region_list} names the regions, as in Cactus: C{name=host} pairs whose
endpoints are C{<ec2_scheme>://<host>:<ec2_port><ec2_path>} (or
C{name=URL}, the endpoint as it is).  Its availability
zones are those the services table names (each service registers with its
host's C{--node_availability_zone}); a zone is C{available} while at least
one enabled service in it reports, C{unavailable} otherwise.

A superuser asking for the zone C{verbose} gets, as Nova and Eucalyptus
answered, each zone followed by entries for its hosts (C{|- host}) and
their services (C{| |- nova-compute}, state C{enabled :-) <last report>},
C{XXX} instead of C{:-)} for a service that stopped reporting).
"""

from nova.api.ec2.errors import InvalidParameterValue
from nova.api.ec2.filters import applyFilters
from nova.config import ConfigError

REGION_NAME = "nova"

REGION_FILTERS = {
    "region-name": lambda region: region["RegionName"],
    "endpoint": lambda region: region["Endpoint"],
    "opt-in-status": lambda region: region["OptInStatus"],
}

ZONE_FILTERS = {
    "zone-name": lambda zone: zone["ZoneName"],
    "zone-id": lambda zone: zone["ZoneId"],
    "state": lambda zone: zone["State"],
    "region-name": lambda zone: zone["RegionName"],
    "zone-type": lambda zone: zone["ZoneType"],
    "group-name": lambda zone: zone["GroupName"],
    "opt-in-status": lambda zone: zone["OptInStatus"],
    "message": lambda zone: [m["Message"] for m in zone["Messages"]],
}


def regionEndpoint(config, host=None):
    """
    @param host: the region's host; C{ec2_host} if L{None}.
    @return: the URL of the EC2 API on C{host}, as DescribeRegions gives
        it.
    """
    if host is None:
        host = config.ec2_host
    return f"{config.ec2_scheme}://{host}:{config.ec2_port}{config.ec2_path}"


def regionList(config):
    """
    The regions DescribeRegions lists: those of C{--region_list}, or the
    one region C{nova} at this API.

    @return: a L{list} of C{(name, endpoint)}, in the flag's order.
    @raise ConfigError: for an entry of C{--region_list} that is not
        C{name=host} (or C{name=URL}), or a name given twice.
    """
    if not config.region_list:
        return [(REGION_NAME, regionEndpoint(config))]
    regions = {}
    for entry in config.region_list:
        name, equals, host = (part.strip() for part in entry.partition("="))
        if not equals or not name or not host or any(c.isspace() for c in name + host):
            raise ConfigError(
                f"--region_list: {entry!r} is not name=host (or name=URL)"
            )
        if name in regions:
            raise ConfigError(f"--region_list: the region {name!r} is listed twice")
        regions[name] = host if "://" in host else regionEndpoint(config, host)
    return list(regions.items())


def describeRegions(call):
    """
    The regions of C{--region_list}, or the one region C{nova}; by name
    (C{RegionName.N}: each must exist) and filters.
    """
    params = call.params
    regions = [
        {"RegionName": name, "Endpoint": endpoint, "OptInStatus": "opt-in-not-required"}
        for name, endpoint in regionList(call.backends.config)
    ]
    known = {region["RegionName"] for region in regions}
    wanted = params.get("RegionNames") or ()
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise InvalidParameterValue(f"Invalid region: {', '.join(unknown)}")
    if wanted:
        regions = [region for region in regions if region["RegionName"] in wanted]
    return {"Regions": applyFilters(params.get("Filters"), regions, REGION_FILTERS)}


def _zoneEntry(name, available):
    return {
        "ZoneName": name,
        "ZoneId": name,
        "State": "available" if available else "unavailable",
        "RegionName": REGION_NAME,
        "ZoneType": "availability-zone",
        "GroupName": REGION_NAME,
        "NetworkBorderGroup": REGION_NAME,
        "OptInStatus": "opt-in-not-required",
        "Messages": [],
    }


def _verbose(zones):
    """
    @param zones: L{nova.hosts.AvailabilityZone}s with their services.
    """
    entries = []
    for zone in zones:
        entries.append(_zoneEntry(zone.name, zone.available))
        hosts = {}
        for status in zone.services:
            hosts.setdefault(status.service.host, []).append(status)
        for host, hostServices in hosts.items():
            entries.append({"ZoneName": f"|- {host}", "State": ""})
            for status in hostServices:
                service = status.service
                alive = ":-)" if status.up else "XXX"
                active = "disabled" if service.disabled else "enabled"
                updated = service.updated_at.strftime("%Y-%m-%d %H:%M:%S")
                entries.append(
                    {
                        "ZoneName": f"| |- {service.binary}",
                        "State": f"{active} {alive} {updated}",
                    }
                )
    return {"AvailabilityZones": entries}


async def describeAvailabilityZones(call):
    """
    The zones of the services table, their state, and (for superusers
    asking for C{verbose}) their hosts and services; from the host API
    (L{nova.hosts.HostAPI}).
    """
    params = call.params
    zones = await call.backends.hosts.describeAvailabilityZones(call.context)
    names = list(params.get("ZoneNames", ()))
    if "verbose" in names:
        if call.context.isAdmin:
            return _verbose(zones)
        names = [name for name in names if name != "verbose"]
    entries = [_zoneEntry(zone.name, zone.available) for zone in zones]
    for field, key in (("ZoneNames", "ZoneName"), ("ZoneIds", "ZoneId")):
        wanted = names if field == "ZoneNames" else list(params.get(field, ()))
        if wanted:
            have = {entry[key] for entry in entries}
            missing = [name for name in wanted if name not in have]
            if missing:
                raise InvalidParameterValue(
                    f"Invalid availability zone: [{', '.join(missing)}]"
                )
            entries = [entry for entry in entries if entry[key] in wanted]
    return {"AvailabilityZones": applyFilters(params.get("Filters"), entries, ZONE_FILTERS)}
