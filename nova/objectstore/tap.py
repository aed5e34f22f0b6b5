# -*- test-case-name: tests.objectstore.test_tap -*-
"""
The nova-objectstore daemon: a twistd plugin serving the S3-compatible
object store on C{s3_port}.
"""

import ipaddress

from twisted.application.internet import TCPServer
from twisted.application.service import Service
from twisted.python.threadpool import ThreadPool

from nova.tap import Daemon, NovaOptions, buildCore

class Options(NovaOptions):
    binary = "nova-objectstore"
    synopsis = "Serves the S3-compatible object store."


class ThreadPoolService(Service):
    """
    Starts and stops a L{ThreadPool} with the daemon.
    """

    def __init__(self, pool):
        self.pool = pool

    def startService(self):
        Service.startService(self)
        self.pool.start()

    def stopService(self):
        Service.stopService(self)
        self.pool.stop()


def _isAddress(host):
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def storeFromConfig(config, reactor):
    """
    Build the L{IObjectStore} C{--s3_store} names.

    @return: C{(store, services)}: the services (a thread pool) must run
        while the store is used.
    """
    if config.s3_store == "memory":
        from nova.objectstore.fake import MemoryObjectStore

        return MemoryObjectStore(reactor), []
    from nova.objectstore.filesystem import FilesystemObjectStore

    pool = ThreadPool(minthreads=1, maxthreads=config.s3_threads, name="nova-objectstore")
    store = FilesystemObjectStore(config.buckets_path, reactor, pool, fsync=config.s3_fsync)
    service = ThreadPoolService(pool)
    service.setName("s3-threads")
    return store, [service]


def resourceFromConfig(config, store, authenticator, reservedRoutes=None):
    """
    @param reservedRoutes: see L{S3Resource}.
    @return: the L{S3Resource} serving C{store}, addressed as the flags say.
    """
    from nova.objectstore.resource import S3Resource

    endpointHosts = {"localhost", config.s3_host.lower()}
    suffixes = ["localhost"]
    suffix = config.s3_virtual_host_suffix or (
        "" if _isAddress(config.s3_host) else config.s3_host
    )
    if suffix:
        suffixes.insert(0, suffix.lower())
    if not _isAddress(config.s3_listen):
        endpointHosts.add(config.s3_listen.lower())
    return S3Resource(
        store,
        authenticator,
        endpointHosts=sorted(endpointHosts),
        virtualHostSuffixes=suffixes,
        cnameBuckets=config.s3_cname_buckets,
        reservedRoutes=reservedRoutes,
        trustedProxies=config.metadata_trusted_proxies,
    )


def objectstoreServices(
    config, reactor, db, rpc, authManager=None, store=None, reservedRoutes=None
):
    """
    @param authManager: what authenticates requests: an
        L{nova.objectstore.interfaces.IS3Authenticator} such as
        L{nova.auth.manager.AuthManager}; when omitted one is built from the
        flags (and its service is among those returned).
    @param store: the L{IObjectStore} to serve; when omitted one is built
        from the flags (and its services are among those returned).
    @param reservedRoutes: see L{S3Resource}.
    @return: the L{IService}s that serve the object store's port.
    """
    from nova.objectstore.resource import makeSite

    services = []
    if authManager is None:
        from nova.auth.manager import authManagerFromConfig

        authManager = authManagerFromConfig(config, db, reactor)
        services.append(authManager.service)
    if store is None:
        store, storeServices = storeFromConfig(config, reactor)
        services.extend(storeServices)
    site = makeSite(
        resourceFromConfig(config, store, authManager, reservedRoutes),
        stagingDirectory=getattr(store, "stagingDirectory", None),
        timeout=config.s3_idle_timeout,
    )
    s3 = TCPServer(config.s3_port, site, interface=config.s3_listen, reactor=reactor)
    s3.setName("s3")
    return services + [s3]


def objectstoreWithImages(config, reactor, db, rpc, authManager=None):
    """
    The object store together with the image service that registers images
    from it (L{nova.image.service.ImageService}) and serves them to compute
    hosts at C{/_images/<image id>}.

    @return: C{(services, manager)}: the L{IService}s to start (the
        store's threads, the image service, the port) and the
        L{nova.image.manager.ImageManager} that a
        L{nova.service.NovaService} of topic
        L{nova.image.manager.TOPIC} (C{objectstore}) serves.
    """
    from nova.image.manager import ImageManager
    from nova.image.serve import IMAGES_SEGMENT, ImageDataRoute
    from nova.image.service import ImageService

    store, storeServices = storeFromConfig(config, reactor)
    images = ImageService.fromConfig(config, reactor, db, store)
    services = storeServices + [images]
    services.extend(
        objectstoreServices(
            config,
            reactor,
            db,
            rpc,
            authManager,
            store=store,
            reservedRoutes={IMAGES_SEGMENT: ImageDataRoute(images)},
        )
    )
    return services, ImageManager(config, db, rpc, reactor, images)


def makeService(options):
    from twisted.internet import reactor

    from nova.image.manager import TOPIC
    from nova.service import NovaService

    config = options["config"]
    top = Daemon(reactor)
    db, rpc = buildCore(config, reactor, top)
    services, manager = objectstoreWithImages(config, reactor, db, rpc)
    for service in services:
        service.setServiceParent(top)
    top.addNovaService(
        NovaService("nova-objectstore", TOPIC, manager, rpc, db, reactor, config)
    )
    return top
