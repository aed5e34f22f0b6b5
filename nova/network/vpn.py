# -*- test-case-name: tests.network.test_vpn -*-
"""
The client side of a project's cloudpipe VPN, and who sees cloudpipes.

L{clientConfig} is the OpenVPN client configuration C{nova-vpn.conf} that
a user's credentials (C{nova.zip}) carry when the project has a vlan-mode
network with a public VPN address, as Cactus shipped it: a bridged
(C{dev tap}) UDP client of C{<vpn public address> <vpn public port>},
authenticated by the files beside it in the zip (C{cert.pem} and
C{pk.pem}, the user's certificate for the project and its key); the CA
chain (the project's CA and the root that signed it) is written into the
configuration itself, since OpenSSL verifies up to a self-signed root.  Unzip the credentials and run
C{openvpn --config nova-vpn.conf} from that directory.

L{visibleInstances} and L{visibleKeyPairs} hide cloudpipe instances and
C{<project><vpn_key_suffix>} key pairs from users who are not admins, as
Cactus's EC2 API did.

L{VpnAPI} is what the admin API's C{StartVpn} and C{DescribeVpns} act on.
"""

import os
import struct

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.protocol import DatagramProtocol

from nova import exception
from nova.db.networks import NoMoreNetworks
from nova.network.cloudpipe import CloudPipe, CloudpipeError, isCloudpipe

#: The name of the client configuration in C{nova.zip}.
CLIENT_CONFIG_NAME = "nova-vpn.conf"


def caChain(authority, projectId):
    """
    @param authority: the L{nova.auth.ca.CertificateAuthority}.
    @return: the PEM certificates a VPN client of the project trusts: the
        project's CA and, when project CAs are in use, the root that signed
        it (OpenSSL verifies up to a self-signed root).
    """
    ca = authority.projectCertificatePEM(projectId)
    root = authority.rootCertificatePEM()
    if root.strip() != ca.strip():
        ca = ca.rstrip("\n") + "\n" + root
    return ca


def clientConfig(address, port, ca=None):
    """
    @param address: the VPN's public address.
    @param port: its public UDP port.
    @param ca: the PEM certificates to trust (L{caChain}), written into the
        configuration; L{None} to name C{cacert.pem} beside it instead.
    @return: the OpenVPN client configuration (L{str}).
    """
    lines = [
        "# Nova user connection to the project's cloudpipe VPN.",
        "# Run from the directory of the unzipped credentials:",
        "#   openvpn --config nova-vpn.conf",
        "cert cert.pem",
        "key pk.pem",
    ]
    if ca is None:
        lines.append("ca cacert.pem")
    else:
        lines += ["<ca>", ca.strip("\n"), "</ca>"]
    lines += [
        "",
        "client",
        "dev tap",
        "proto udp",
        f"remote {address} {int(port)}",
        "resolv-retry infinite",
        "nobind",
        "remote-cert-tls server",
        "",
        "verb 2",
        "keepalive 10 120",
        "persist-tun",
        "persist-key",
        "",
    ]
    return "\n".join(lines)


def vpnEndpoint(network):
    """
    @param network: a project's L{nova.db.networks.NetworkRecord}, or
        L{None}.
    @return: C{(public address, public port)} of its VPN, or L{None} when
        it has none (not vlan mode, or no public address or port yet).
    """
    if network is None or network.vlan is None:
        return None
    if not network.vpn_public_address or not network.vpn_public_port:
        return None
    return network.vpn_public_address, network.vpn_public_port


async def projectEndpoint(backends, projectId):
    """
    @param backends: the EC2 API's L{nova.api.ec2.resource.Backends}.
    @return: L{vpnEndpoint} of the project's network (read through the
        compute service's database), or L{None} when the project has no
        network or this API has no compute service.
    """
    from nova.db.networks import NetworkNotFound

    if not backends.configured("compute"):
        return None
    try:
        network = await backends.compute.db.networks.getForProject(projectId)
    except NetworkNotFound:
        return None
    return vpnEndpoint(network)


def credentialsConfig(authority, projectId, endpoint):
    """
    @param endpoint: L{vpnEndpoint}'s answer.
    @return: the C{nova-vpn.conf} of the project's credentials (the CA
        chain written in), or L{None} without an endpoint.  Blocking (the
        CA's disk).
    """
    if endpoint is None:
        return None
    return clientConfig(endpoint[0], endpoint[1], caChain(authority, projectId))


def visibleInstances(config, context, instances):
    """
    @return: C{instances} without the cloudpipes, unless C{context} is an
        admin's.
    """
    if context.isAdmin:
        return list(instances)
    return [instance for instance in instances if not isCloudpipe(config, instance)]


def visibleKeyPairs(config, context, keyPairs):
    """
    @return: C{keyPairs} without those named with C{--vpn_key_suffix},
        unless C{context} is an admin's.
    """
    suffix = config.vpn_key_suffix
    if context.isAdmin or not suffix:
        return list(keyPairs)
    return [key for key in keyPairs if not key.name.endswith(suffix)]


#: OpenVPN's opcodes (in the top five bits of a packet's first byte).
P_CONTROL_HARD_RESET_CLIENT_V2 = 7
P_CONTROL_HARD_RESET_SERVER_V2 = 8


def resetPacket(sessionId):
    """
    @return: an OpenVPN C{P_CONTROL_HARD_RESET_CLIENT_V2} packet (without
        tls-auth) of C{sessionId}: the opcode, the session id, no
        acknowledgements and message packet id 0.
    """
    return struct.pack("!BQBI", P_CONTROL_HARD_RESET_CLIENT_V2 << 3, sessionId, 0, 0)


def parseServerReset(data, sessionId):
    """
    @return: the server's session id if C{data} is an OpenVPN
        C{P_CONTROL_HARD_RESET_SERVER_V2} acknowledging C{sessionId},
        else L{None}.
    """
    # opcode, server session, ack count, acked packet id, our session.
    if len(data) < 22 or data[0] >> 3 != P_CONTROL_HARD_RESET_SERVER_V2:
        return None
    serverSession, count = struct.unpack_from("!QB", data, 1)
    if count < 1 or len(data) < 10 + 4 * count + 8:
        return None
    (acked,) = struct.unpack_from("!Q", data, 10 + 4 * count)
    return serverSession if acked == sessionId else None


class _Ping(DatagramProtocol):
    def __init__(self, sessionId, done):
        self.sessionId = sessionId
        self.done = done

    def datagramReceived(self, data, address):
        server = parseServerReset(data, self.sessionId)
        if server is not None and not self.done.called:
            self.done.callback(server)


def vpnPing(reactor, address, port, timeout=2.0, sessionId=None):
    """
    Ask whether an OpenVPN server answers on UDP C{address:port}, as
    Cactus's C{vpn_ping} did: send it a client hard reset and wait for the
    server's.

    @param reactor: an L{IReactorUDP} and L{IReactorTime}.
    @return: L{Deferred} firing with the server's session id (an L{int}),
        or L{None} when nothing answered within C{timeout} seconds.
    """
    if sessionId is None:
        sessionId = int.from_bytes(os.urandom(8), "big")
    done = Deferred()
    listening = reactor.listenUDP(0, _Ping(sessionId, done))
    try:
        listening.write(resetPacket(sessionId), (address, int(port)))
    except OSError:
        done.callback(None)
    timer = reactor.callLater(timeout, lambda: done.called or done.callback(None))

    def finish(result):
        if timer.active():
            timer.cancel()
        return maybeDeferred(listening.stopListening).addCallback(lambda _: result)

    return done.addBoth(finish)


class VpnError(exception.NovaError):
    """
    A project's cloudpipe cannot be started: not configured, no such
    project, or no network left for it.
    """

    code = "VpnError"
    ec2Code = "InvalidParameterValue"
    httpStatus = 400


class VpnAPI:
    """
    The cloudpipes of vlan-mode projects, for admins: which run, and
    launching the missing ones (L{nova.network.cloudpipe.CloudPipe}).
    """

    def __init__(self, config, db, authManager, pipe, ping=None):
        """
        @param db: the L{nova.db.api.NovaDatabase}.
        @param authManager: the auth manager (projects and their managers).
        @param pipe: the L{CloudPipe} that launches cloudpipes.
        @param ping: C{ping(address, port)} returning a L{Deferred} firing
            with L{None} when no OpenVPN server answers there, else not
            (L{vpnPing}); L{None} to report the instance's state instead.
        """
        self.config = config
        self.db = db
        self.authManager = authManager
        self.pipe = pipe
        self.ping = ping

    @classmethod
    def fromBackends(cls, backends):
        """
        @param backends: the EC2 API's L{nova.api.ec2.resource.Backends}
            (its compute, security group and auth services).
        @return: a L{VpnAPI} over the same database and services.
        """
        from twisted.internet.interfaces import IReactorUDP

        from nova.auth.ca import CertificateAuthority

        clock = backends.clock
        ping = None
        if IReactorUDP.providedBy(clock):

            def ping(address, port):
                return vpnPing(clock, address, port)

        compute = backends.compute
        authManager = backends.authManager
        pipe = CloudPipe(
            backends.config,
            compute.db,
            compute,
            backends.securityGroups,
            authManager.keyPairs,
            CertificateAuthority.fromConfig(backends.config, backends.clock),
            backends.runInThread,
        )
        return cls(backends.config, compute.db, authManager, pipe, ping)

    async def _vpnOf(self, projectId):
        """
        @return: the project's newest cloudpipe instance, or L{None}.
        """
        running = await self.pipe.runningVpn(projectId)
        if running is not None:
            return running
        instances = await self.db.instances.list(projectId=projectId)
        pipes = [i for i in instances if isCloudpipe(self.config, i)]
        return pipes[-1] if pipes else None

    async def describeVpns(self, context):
        """
        @return: for every project with a vlan network, by project: a
            L{dict} with C{projectId}, C{publicIp}, C{publicPort},
            C{internalIp} (the network's VPN address), C{instanceId},
            C{createdAt} and C{state} (C{pending} without a cloudpipe
            instance; C{down - invalid project vpn config} without a public
            address; else, as Cactus answered, C{running} or C{down} as
            OpenVPN answers L{vpnPing} there, or without a pinger the
            instance's state).
        @raise exception.NotAuthorized: for non-admins.
        """
        if not context.isAdmin:
            raise exception.NotAuthorized("only admins see the cloudpipes")
        vpns = []
        networks = await self.db.networks.list()
        for network in sorted(
            (n for n in networks if n.vlan is not None and n.project_id),
            key=lambda n: n.project_id,
        ):
            instance = await self._vpnOf(network.project_id)
            vpn = {
                "projectId": network.project_id,
                "publicIp": network.vpn_public_address,
                "publicPort": network.vpn_public_port,
                "internalIp": network.vpn_private_address,
                "instanceId": None,
                "createdAt": None,
                "state": "pending",
            }
            if instance is not None:
                vpn["instanceId"] = instance.ec2Id
                vpn["createdAt"] = instance.created_at
                if not (network.vpn_public_address and network.vpn_public_port):
                    vpn["state"] = "down - invalid project vpn config"
                elif self.ping is not None:
                    answered = await self.ping(
                        network.vpn_public_address, network.vpn_public_port
                    )
                    vpn["state"] = "running" if answered is not None else "down"
                else:
                    vpn["state"] = instance.state
            vpns.append(vpn)
        return vpns

    async def startVpn(self, context, projectId):
        """
        Launch the project's cloudpipe unless it runs already, with the
        key pair of the project's manager.

        @return: the cloudpipe's L{nova.db.records.InstanceRecord}.
        @raise VpnError: when cloudpipe is not configured, the project
            does not exist, or no network is left for it.
        """
        from nova.auth.interfaces import ProjectNotFound

        if not context.isAdmin:
            raise exception.NotAuthorized("only admins start cloudpipes")
        if not self.config.vpn_image_id:
            raise VpnError("no --vpn_image_id: cloudpipe is not configured")
        try:
            project = await self.authManager.getProject(projectId)
        except ProjectNotFound:
            raise VpnError(f"no project {projectId}") from None
        running = await self.pipe.runningVpn(project.name)
        if running is not None:
            return running
        from nova.context import RequestContext

        owner = RequestContext(userId=project.managerId, projectId=project.name)
        try:
            return await self.pipe.launch(owner)
        except NoMoreNetworks:
            raise VpnError(
                "Unable to claim IP for VPN instance: no network is left for "
                f"project {project.name}"
            ) from None
        except CloudpipeError as e:
            raise VpnError(str(e)) from None
