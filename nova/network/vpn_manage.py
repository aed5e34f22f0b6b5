# -*- test-case-name: tests.network.test_cloudpipe -*-
"""
C{nova-manage vpn ...}: the cloudpipe VPNs of vlan mode::

    nova-manage vpn list                      every project network's VPN
    nova-manage vpn run <project> [user]      launch a project's cloudpipe
    nova-manage vpn spawn                     launch the missing ones
    nova-manage vpn change <project> <ip> <port>

C{run} and C{spawn} launch through the compute API, which casts to the
scheduler: give nova-manage the RPC flags of the cloud
(C{--rpc_backend=amqp} and the C{--rabbit_*} flags), and C{--vpn_image_id}.
The key pair's user is the project's manager unless one is named.
"""

import ipaddress

from twisted.application.service import MultiService
from twisted.internet.defer import ensureDeferred, maybeDeferred

from nova.auth.manage import _withAuth
from nova.context import RequestContext
from nova.manage import Commands, formatTable
from nova.network import errors
from nova.network.cloudpipe import CloudPipe, CloudpipeError, isCloudpipe
from nova.util.threads import reactorThreads


def _dash(value):
    return "-" if value is None or value == "" else value


class VpnCommands(Commands):
    """
    Cloudpipe VPNs: one OpenVPN instance per vlan-mode project.
    """

    def _start(self):
        """
        @return: a L{CloudPipe} over this command's RPC connection (stopped
            by L{_stop}).
        """
        from nova.auth.ca import CertificateAuthority
        from nova.auth.manager import KeyPairService
        from nova.compute.api import ComputeAPI
        from nova.network.security_groups import SecurityGroupAPI
        from nova.tap import rpcFromConfig

        reactor = self.env.reactor

        runInThread = reactorThreads(reactor)

        self._services = MultiService()
        rpc = rpcFromConfig(self.config, reactor, self._services)
        self._services.startService()
        db = self.env.db
        return CloudPipe(
            self.config,
            db,
            ComputeAPI(self.config, db, rpc, reactor),
            SecurityGroupAPI(db, rpc),
            KeyPairService(db.keypairs, runInThread),
            CertificateAuthority.fromConfig(self.config, reactor),
            runInThread,
        )

    def _stop(self, result):
        services, self._services = getattr(self, "_services", None), None
        if services is None:
            return result
        return maybeDeferred(services.stopService).addBoth(lambda _: result)

    def _withPipe(self, work):
        d = maybeDeferred(lambda: ensureDeferred(work(self._start())))
        return d.addBoth(self._stop)

    async def _rows(self):
        networks = await self.env.db.networks.list()
        rows = []
        for network in networks:
            if network.vlan is None or network.project_id is None:
                continue
            instances = await self.env.db.instances.list(projectId=network.project_id)
            vpns = [i for i in instances if isCloudpipe(self.config, i)]
            vpn = vpns[-1] if vpns else None
            public = (
                f"{network.vpn_public_address}:{network.vpn_public_port}"
                if network.vpn_public_address
                else f"-:{_dash(network.vpn_public_port)}"
            )
            rows.append(
                (
                    network.project_id,
                    network.cidr,
                    public,
                    _dash(network.vpn_private_address),
                    vpn.ec2Id if vpn else "-",
                    vpn.state if vpn else "-",
                )
            )
        return rows

    def do_list(self):
        """List the project networks' VPNs: project, network, public ip:port, private ip, instance, state."""

        async def work():
            rows = await self._rows()
            self.say(
                formatTable(rows, ("Project", "Network", "Public", "Private", "Instance", "State"))
            )

        return ensureDeferred(work())

    @_withAuth
    def do_run(self, project_id, user_id=None):
        """Launch a project's cloudpipe (its key pair belongs to the project manager, or user_id)."""

        async def work(pipe):
            project = await self.auth.getProject(project_id)
            user = user_id or project.managerId
            context = RequestContext(userId=user, projectId=project.name)
            instance = await pipe.launch(context)
            self.say(f"cloudpipe {instance.ec2Id} of project {project.name} launched")

        return self._withPipe(work)

    @_withAuth
    def do_spawn(self):
        """Launch the cloudpipe of every project that has a network and no cloudpipe."""

        async def work(pipe):
            networks = await self.env.db.networks.list()
            projects = sorted({n.project_id for n in networks if n.vlan is not None and n.project_id})
            launched = 0
            for projectId in projects:
                if await pipe.runningVpn(projectId) is not None:
                    continue
                project = await self.auth.getProject(projectId)
                context = RequestContext(userId=project.managerId, projectId=project.name)
                instance = await pipe.launch(context)
                self.say(f"cloudpipe {instance.ec2Id} of project {project.name} launched")
                launched += 1
            if not launched:
                self.say("every project network has its cloudpipe")

        return self._withPipe(work)

    def do_change(self, project_id, ip, port):
        """Record where a project's cloudpipe is reached from outside (ip and port)."""

        async def work():
            try:
                address = str(ipaddress.IPv4Address(ip))
                number = int(port)
            except ValueError:
                raise errors.InvalidParameterValue(f"bad address or port: {ip} {port}")
            if not 0 < number < 65536:
                raise errors.InvalidParameterValue(f"bad port: {port}")
            network = await self.env.db.networks.getForProject(project_id)
            if network.vlan is None:
                raise CloudpipeError(f"project {project_id} has no vlan network")
            await self.env.db.networks.setVpnPublicAddress(network.id, address, number)
            self.say(
                f"cloudpipe of {project_id} reached on {address}:{number}; the network host "
                f"forwards it when it next sets the network up"
            )

        return ensureDeferred(work())
