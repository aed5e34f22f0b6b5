# -*- test-case-name: tests.test_tap -*-
"""
The nova-api daemon: a twistd plugin serving the EC2 API, the admin API
and the metadata service on C{ec2_port}.
"""

from twisted.application.internet import TCPServer
from twisted.web.server import Site

from nova.tap import Daemon, NovaOptions, buildCore


class Options(NovaOptions):
    binary = "nova-api"
    synopsis = "Serves the EC2 API, the admin API and the metadata service."

    def parseOptions(self, options=None):
        NovaOptions.parseOptions(self, options)
        checkDashboardFlags(self)


def checkDashboardFlags(options):
    """
    Stop with a one-line message when the dashboard's flags cannot work.
    """
    import sys

    from nova.api.dashboard.site import checkFlags
    from nova.config import ConfigError

    try:
        checkFlags(options["config"])
    except ConfigError as e:
        sys.stderr.write(f"{options.binary}: {e}\n")
        raise SystemExit(1)


def apiServices(config, reactor, db, rpc, authManager=None, openstack=False, dashboard=False):
    """
    Build nova-api's web site: the EC2 API at C{ec2_path}, the admin API at
    C{/services/Admin} and the metadata service (C{/}, C{/latest/...} and
    the dated versions), on C{ec2_listen}:C{ec2_port}.

    The service APIs both HTTP APIs act through (compute, volumes,
    network, security groups, images, key pairs, tags, hosts) are built
    here, once; the EC2 and admin APIs get them in their
    L{nova.api.ec2.resource.Backends} and never the database.

    @param authManager: the L{nova.auth.manager.AuthManager}; it
        authenticates requests and backs the key pair and admin actions.
        If L{None}, one is built from the flags and its C{service} is among
        the services returned.
    @param openstack: whether to serve the OpenStack API
        (L{nova.api.openstack.site}) on C{osapi_listen}:C{osapi_port} too,
        over the same service APIs, as nova-api and nova-all do, with the
        VNC console's websocket proxy at C{/websockify}
        (L{nova.console.proxy}).
    @return: a L{list} of the L{IService}s to start: the one serving
        C{ec2_port} (named C{ec2-api}), the auth manager's when built
        here, and with C{openstack} the one serving C{osapi_port} (named
        C{openstack-api}), and with C{dashboard} and a C{dashboard_port}
        the one serving the web dashboard on
        C{dashboard_listen}:C{dashboard_port} (named C{dashboard}, last).
    @param dashboard: whether to serve the web dashboard
        (L{nova.api.dashboard.site}) over the same service APIs: at
        C{dashboard_path} on the OpenStack API's port when
        C{dashboard_port} is 0 (and C{openstack}), else on a port of its
        own.
    """
    from nova.api.ec2.apis import mountEC2
    from nova.api.ec2.resource import Backends, boundedRequestFactory
    from nova.api.metadata.resource import metadataRoot
    from nova.auth.manager import authManagerFromConfig

    services = []
    if authManager is None:
        authManager = authManagerFromConfig(config, db, reactor)
        services.append(authManager.service)
    from nova.compute.api import ComputeAPI
    from nova.compute.keypairs import KeyPairAPI
    from nova.hosts import HostAPI
    from nova.image.api import ImageAPI
    from nova.network.api import NetworkAPI
    from nova.network.security_groups import SecurityGroupAPI
    from nova.quota import QuotaEngine
    from nova.tags import TagAPI
    from nova.volume.api import VolumeAPI

    quotas = QuotaEngine.fromConfig(config, db)
    root = metadataRoot(config, db)
    compute = ComputeAPI(config, db, rpc, reactor, quotas=quotas)
    backends = Backends(
        config=config,
        rpc=rpc,
        clock=reactor,
        authManager=authManager,
        compute=compute,
        volumes=VolumeAPI(config, db, rpc, reactor, quotas),
        network=NetworkAPI(config, db, rpc),
        securityGroups=SecurityGroupAPI(db, rpc),
        images=ImageAPI(db, rpc),
        keyPairs=KeyPairAPI(authManager.keyPairs),
        tags=TagAPI(db, compute),
        hosts=HostAPI(db, reactor, config.service_down_time),
    )
    mountEC2(root, config, backends, authManager)
    site = Site(root, requestFactory=boundedRequestFactory(config.ec2_max_request_bytes))
    ec2 = TCPServer(config.ec2_port, site, interface=config.ec2_listen, reactor=reactor)
    ec2.setName("ec2-api")
    services.append(ec2)
    if openstack:
        from nova.api.openstack.site import openstackSite
        from nova.console.proxy import vncProxyResource

        osapiSite = openstackSite(config, backends, db.tokens, reactor)
        # The VNC console's websocket proxy, at the URL getVncConsole gives.
        osapiSite.resource.putChild(
            b"websockify", vncProxyResource(compute.consoleTokens, reactor)
        )
        osapi = TCPServer(
            config.osapi_port,
            osapiSite,
            interface=config.osapi_listen,
            reactor=reactor,
        )
        osapi.setName("openstack-api")
        services.append(osapi)
    if dashboard:
        from nova.api.dashboard.site import dashboardResource, dashboardSite, mountDashboard

        if openstack and config.dashboard_port == 0:
            # Beside the OpenStack API (and its VNC proxy), on its port.
            mountDashboard(
                osapi.args[1].resource,
                config,
                dashboardResource(config, backends, authManager, reactor),
            )
        else:
            web = TCPServer(
                config.dashboard_port,
                Site(
                    dashboardSite(config, backends, authManager, reactor),
                    requestFactory=boundedRequestFactory(config.ec2_max_request_bytes),
                ),
                interface=config.dashboard_listen,
                reactor=reactor,
            )
            web.setName("dashboard")
            services.append(web)
    return services


def makeService(options):
    from twisted.internet import reactor

    from nova.manager import Manager
    from nova.service import NovaService

    config = options["config"]
    top = Daemon(reactor)
    db, rpc = buildCore(config, reactor, top)
    for service in apiServices(config, reactor, db, rpc, openstack=True, dashboard=True):
        service.setServiceParent(top)
    top.addNovaService(
        NovaService("nova-api", None, Manager(config, db, rpc, reactor), rpc, db, reactor, config)
    )
    return top
