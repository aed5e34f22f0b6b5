# -*- test-case-name: tests.test_tap -*-
"""
The nova-all daemon: every service in one process, on the embedded
defaults (SQLite, the in-process bus, the fake drivers) unless flags say
otherwise.
"""

from twisted.logger import Logger

from nova.tap import Daemon, NovaOptions, buildCore

log = Logger()


class Options(NovaOptions):
    binary = "nova-all"
    synopsis = (
        "Runs nova-api, nova-objectstore, nova-scheduler, nova-compute, "
        "nova-network and nova-volume in one process."
    )

    def parseOptions(self, options=None):
        from nova.api.tap import checkDashboardFlags

        NovaOptions.parseOptions(self, options)
        checkDashboardFlags(self)


def topicManagers():
    """
    @return: C{(binary, topic, manager factory)} for each RPC service; a
        factory is called as C{factory(config, db, rpc, reactor)}.
    """
    from nova.compute.manager import ComputeManager
    from nova.network.manager import networkManagerFromConfig
    from nova.scheduler.manager import SchedulerManager
    from nova.volume.manager import VolumeManager

    return [
        ("nova-scheduler", "scheduler", SchedulerManager),
        ("nova-compute", "compute", ComputeManager),
        ("nova-network", "network", networkManagerFromConfig),
        ("nova-volume", "volume", VolumeManager),
    ]


class AllInOne(Daemon):
    """
    nova-all's top service: prints where each API listens once started.
    """

    def __init__(self, reactor, config):
        Daemon.__init__(self, reactor)
        self.config = config

    def startService(self):
        Daemon.startService(self)
        for name, service in (
            ("ec2-api", "ec2-api"),
            ("s3", "s3"),
            ("openstack-api", "openstack-api"),
            # On the OpenStack API's port unless it has one of its own.
            ("dashboard", "dashboard" if "dashboard" in self.namedServices else "openstack-api"),
        ):
            port = self.getServiceNamed(service)._port
            if port is None:
                continue
            address = port.getHost()
            host, path = {
                "ec2-api": (self.config.ec2_host, self.config.ec2_path),
                "s3": (self.config.s3_host, "/"),
                "openstack-api": (self.config.osapi_host, "/v3"),
                "dashboard": (self.config.osapi_host, self.config.dashboard_path),
            }[name]
            log.info(
                "{name} listening on http://{host}:{port}{path}",
                name={
                    "ec2-api": "EC2 API",
                    "s3": "S3 object store",
                    "openstack-api": "OpenStack API",
                    "dashboard": "Dashboard",
                }[name],
                host=host,
                port=address.port,
                path=path,
            )


def makeService(options):
    from twisted.internet import reactor

    from nova.api.tap import apiServices
    from nova.auth.manager import authManagerFromConfig
    from nova.image.manager import TOPIC as IMAGE_TOPIC
    from nova.manager import Manager
    from nova.objectstore.tap import objectstoreWithImages
    from nova.service import NovaService

    config = options["config"]
    top = AllInOne(reactor, config)
    db, rpc = buildCore(config, reactor, top)
    authManager = authManagerFromConfig(config, db, reactor)
    authManager.service.setServiceParent(top)
    objectstore, imageManager = objectstoreWithImages(config, reactor, db, rpc, authManager)
    for service in apiServices(
        config, reactor, db, rpc, authManager, openstack=True, dashboard=True
    ) + objectstore:
        service.setServiceParent(top)
    for binary, topic, managerClass in topicManagers():
        if topic == "compute":
            from nova.compute.snapshots import ObjectStoreUploader

            # Snapshots go straight into the object store of this process.
            uploader = ObjectStoreUploader.fromConfig(config, reactor, imageManager.images.store)
            manager = managerClass(config, db, rpc, reactor, imageUploader=uploader)
        else:
            manager = managerClass(config, db, rpc, reactor)
        top.addNovaService(NovaService(binary, topic, manager, rpc, db, reactor, config))
    top.addNovaService(
        NovaService("nova-objectstore", IMAGE_TOPIC, imageManager, rpc, db, reactor, config)
    )
    top.addNovaService(
        NovaService("nova-api", None, Manager(config, db, rpc, reactor), rpc, db, reactor, config)
    )
    return top
