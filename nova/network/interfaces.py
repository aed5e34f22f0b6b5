# -*- test-case-name: tests.network.test_fake -*-
"""
The interface of network drivers: what a network host (and a compute host,
for its side of a bridge) does to the machine's own networking.  The
managers know drivers only through L{INetworkDriver}.
"""

from zope.interface import Interface

from nova import exception


class NetworkDriverError(exception.NovaError):
    """The network driver could not change the host's networking."""

    code = "NetworkDriverError"


class INetworkDriver(Interface):
    """
    Sets up bridges, VLAN or VXLAN interfaces, DHCP service and NAT on this
    host.  The C{ensure*} methods are idempotent: asking again for what
    exists succeeds and changes nothing.  Every method returns a
    L{Deferred}; failures are L{NetworkDriverError} unless said otherwise,
    and leave nothing half-done that a repeated call would not finish.
    """

    def initHost():
        """
        Host-wide setup, once at start: forwarding and the source NAT that
        lets the fixed range reach outside through C{routing_source_ip}.

        @return: L{Deferred} firing with C{None}.
        """

    def metadataForward(metadataHost, metadataPort):
        """
        Forward guests' requests to C{169.254.169.254:80} to the metadata
        service.

        @param metadataHost: address of the metadata service (L{str}).
        @param metadataPort: its port (L{int}).
        @return: L{Deferred} firing with C{None}.
        """

    def ensureVlan(vlan, interface):
        """
        Make the 802.1Q interface C{vlan<vlan>} on C{interface}.

        @param vlan: the VLAN id (L{int}, 1-4094).
        @param interface: the physical interface (L{str}).
        @return: L{Deferred} firing with the VLAN interface's name.
        """

    def ensureVxlan(vni, interface):
        """
        Make the VXLAN interface C{vxlan<vni>} over C{interface}.

        @param vni: the VXLAN network identifier (L{int}).
        @param interface: the underlay interface (L{str}).
        @return: L{Deferred} firing with the VXLAN interface's name.
        """

    def ensureBridge(bridge, interface, address=None):
        """
        Make the bridge C{bridge}, with C{interface} (if not C{None}) as a
        port and, on the network host, the network's gateway address.

        @param bridge: the bridge's name (L{str}).
        @param interface: the interface to enslave, or C{None}.
        @param address: C{"<gateway>/<prefix length>"} to put on the
            bridge, or C{None}.
        @return: L{Deferred} firing with C{None}; failing if the bridge
            exists with another port or address than asked for.
        """

    def updateDhcp(network, hosts):
        """
        Serve DHCP on the network's bridge, handing each known host its
        address (starting the DHCP server or telling it to reread its
        hosts).

        @param network: the L{nova.db.networks.NetworkRecord}; its bridge
            must have been ensured.
        @param hosts: the static leases, a sequence of C{(mac, hostname,
            address)} tuples.
        @return: L{Deferred} firing with C{None}.
        """

    def stopDhcp(network):
        """
        Stop serving DHCP on the network's bridge (nothing if not served).

        @return: L{Deferred} firing with C{None}.
        """

    def releaseDhcp(network, address, mac):
        """
        Make the DHCP server on the network's bridge forget the lease of
        C{address} to C{mac} now (the instance is gone), as if the guest
        had released it: the server reports the release (through
        C{nova-dhcpbridge}), which frees the address.  Nothing if no
        server runs or it holds no such lease.

        @return: L{Deferred} firing with C{None}.
        """

    def bindFloatingIp(address, interface):
        """
        Add the floating C{address} (as C{/32}) to C{interface}.

        @return: L{Deferred} firing with C{None}; failing if it is bound
            already.
        """

    def unbindFloatingIp(address, interface):
        """
        Remove the floating C{address} from C{interface}.

        @return: L{Deferred} firing with C{None}; failing if it is not
            bound.
        """

    def ensureFloatingForward(floatingAddress, fixedAddress):
        """
        NAT between a floating and a fixed address: traffic to the floating
        address goes to the fixed one, and the fixed one's outgoing traffic
        leaves from the floating one.

        @return: L{Deferred} firing with C{None}; failing if the floating
            address forwards to another fixed address.
        """

    def removeFloatingForward(floatingAddress, fixedAddress):
        """
        Undo L{ensureFloatingForward}.

        @return: L{Deferred} firing with C{None}; failing if there is no
            such forward.
        """

    def ensureVpnForward(publicAddress, port, privateAddress):
        """
        Forward UDP C{publicAddress:port} to C{privateAddress:1194}, the
        project's cloudpipe VPN (vlan mode).

        @return: L{Deferred} firing with C{None}.
        """
