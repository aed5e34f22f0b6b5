# -*- test-case-name: tests.api.metadata.test_resource,tests.api.ec2.test_outage -*-
"""
The address a request comes from, the one way every HTTP service decides
it: the peer's address, or, when the peer is one of
C{--metadata_trusted_proxies}, the last address of C{X-Forwarded-For} that
is not itself a trusted proxy.  The metadata service names the instance
by it; the EC2 API and the object store count failed signatures by it.
"""

import ipaddress

from nova.config import ConfigError


def parseTrustedProxies(value):
    """
    @param value: C{--metadata_trusted_proxies}: a L{tuple} of addresses
        or CIDR ranges, or the same as comma-separated text.
    @return: a L{tuple} of L{ipaddress} networks.
    @raise ConfigError: for an entry that is neither.
    """
    if isinstance(value, str):
        value = [item for item in value.split(",")]
    networks = []
    for item in value or ():
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                f"--metadata_trusted_proxies: {item!r} is not an address or CIDR range"
            ) from None
    return tuple(networks)


def parseAddress(text):
    """
    @return: C{text} as an L{ipaddress} address (IPv4-mapped IPv6
        addresses as IPv4), or L{None} if it is not one.
    """
    try:
        address = ipaddress.ip_address(text.strip())
    except (ValueError, AttributeError):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address, trustedProxies):
    return address is not None and any(address in net for net in trustedProxies)


def clientAddress(request, trustedProxies=()):
    """
    The address of the client a request comes from: the peer, unless the
    peer is a trusted proxy, in which case the last address of
    C{X-Forwarded-For} that is not itself a trusted proxy.

    @param request: a L{twisted.web.iweb.IRequest}.
    @param trustedProxies: L{ipaddress} networks (L{parseTrustedProxies}).
    @return: the address as text, or L{None} (no IP peer, or a trusted
        proxy forwarded something that is not an address).
    """
    peer = getattr(request.getClientAddress(), "host", None)
    address = parseAddress(peer) if peer else None
    if address is None:
        return None
    if not _trusted(address, trustedProxies):
        return str(address)
    forwarded = request.requestHeaders.getRawHeaders(b"x-forwarded-for") or []
    hops = [
        hop.strip()
        for value in forwarded
        for hop in value.decode("latin-1").split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        hopAddress = parseAddress(hop)
        if hopAddress is None:
            return None
        if not _trusted(hopAddress, trustedProxies):
            return str(hopAddress)
        address = hopAddress
    return str(address)
