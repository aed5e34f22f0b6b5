# -*- test-case-name: tests.test_tap -*-
"""
The nova-compute daemon: a twistd plugin.

A compute host on its own fetches images from nova-objectstore over HTTP,
signing as each instance's owner (L{nova.image.fetch.ImageFetcher}), and
with C{--snapshot_upload_user} sends its snapshots there over S3
(L{nova.compute.snapshots.S3Uploader}); nova-all, which shares the object
store's disk, reads and writes them directly.
"""

from nova.tap import Daemon, NovaOptions, buildCore


class Options(NovaOptions):
    binary = "nova-compute"
    synopsis = "Runs instances on this host through the virt driver."


def makeService(options):
    from twisted.internet import reactor

    from nova.compute.flags import VIRT_DRIVERS
    from nova.compute.manager import ComputeManager
    from nova.drivers import loadDriver
    from nova.service import NovaService
    from nova.virt.interfaces import IVirtDriver

    config = options["config"]
    top = Daemon(reactor)
    db, rpc = buildCore(config, reactor, top)
    driver = uploader = None
    authManager = None
    if config.connection_type == "libvirt" or config.snapshot_upload_user:
        from nova.auth.manager import authManagerFromConfig

        authManager = authManagerFromConfig(config, db, reactor)
        authManager.service.setServiceParent(top)
    if config.connection_type == "libvirt":
        from nova.image.fetch import AuthManagerCredentials, ImageFetcher

        fetcher = ImageFetcher(config, db, AuthManagerCredentials(authManager), reactor)
        driver = loadDriver(
            IVirtDriver, VIRT_DRIVERS, config.connection_type, config, imageFetcher=fetcher
        )
    if config.snapshot_upload_user:
        from nova.compute.snapshots import S3Uploader

        uploader = S3Uploader.fromConfig(config, reactor, authManager)
    manager = ComputeManager(config, db, rpc, reactor, driver=driver, imageUploader=uploader)
    top.addNovaService(NovaService("nova-compute", "compute", manager, rpc, db, reactor, config))
    return top
