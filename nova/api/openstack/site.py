# -*- test-case-name: tests.api.openstack.test_site -*-
"""
The OpenStack API's web site, served on C{--osapi_listen}:C{--osapi_port}:

  - C{/}: the versions list (compute v1.0, v1.1, v2.0 and v2.1, identity
    v3);
  - C{/v3}, C{/v2.0}: the identity endpoint
    (L{nova.api.openstack.identity});
  - C{/v1.0}: the OpenStack API v1.0 (L{nova.api.openstack.v10});
  - C{/v2.1}, C{/v2}, C{/v1.1}: the compute API
    (L{nova.api.openstack.compute}), one code, three mount points;
  - C{/image}: the read-only image API v2 subset
    (L{nova.api.openstack.image});
  - C{/network}: the networking API v2.0 subset for floating addresses
    (L{nova.api.openstack.network}).
"""

from twisted.web.resource import Resource
from twisted.web.server import Site

from nova.api.openstack.compute import ComputeRouter, v11VersionEntry, versionEntry
from nova.api.openstack.identity import IdentityRouter, v3VersionEntry
from nova.api.openstack.image import ImageRouter
from nova.api.openstack.network import NetworkRouter
from nova.api.openstack.resource import Response, Router, route
from nova.api.openstack.v10 import V10Router, v10VersionEntry
from nova.util.outage import OutageLog

COMPUTE_MOUNTS = ("v2.1", "v2", "v1.1")

#: The identity API's mount points: its routes name them, so the path
#: segment is handed back to it (L{OpenStackRoot.getChild}).
IDENTITY_MOUNTS = (b"v3", b"v2.0")


class VersionsRoot(Router):
    """
    C{/} itself: the versions of the compute and identity APIs (v1.0,
    v1.1, v2.0, v2.1, identity v3; v1.1 and v2.0 are served by the v2.1
    code without microversions).
    """

    @route("GET", "", public=True)
    async def versions(self, call):
        base = call.baseURL()
        return Response(
            {
                "versions": [
                    v10VersionEntry(base),
                    v11VersionEntry(base),
                    versionEntry(base, legacy=True, mount="v2"),
                    versionEntry(base),
                    v3VersionEntry(base),
                ]
            }
        )


class OpenStackRoot(Resource):
    """
    The site's root: dispatches on the first path segment.

    @ivar outages: the L{OutageLog} its routers share.
    """

    def __init__(self, config, backends, tokens, clock=None):
        """
        @param clock: what the v1.0 rate limits count time by (the
            reactor, by default).
        """
        Resource.__init__(self)
        if clock is None:
            from twisted.internet import reactor as clock
        self.versions = VersionsRoot(config, backends, tokens)
        self.putChild(b"v1.0", V10Router(config, backends, tokens, clock))
        self.identity = IdentityRouter(config, backends, tokens)
        for mount in COMPUTE_MOUNTS:
            self.putChild(mount.encode("ascii"), ComputeRouter(config, backends, tokens, mount))
        self.putChild(b"image", ImageRouter(config, backends, tokens))
        self.putChild(b"network", NetworkRouter(config, backends, tokens))
        # One log of outages for the whole site: a database outage is one
        # line, whichever APIs the failing requests went to.
        self.outages = OutageLog("OpenStack API")
        for router in (self.versions, self.identity, *self.children.values()):
            router.outages = self.outages

    def getChild(self, name, request):
        if name == b"":
            return self.versions
        # The routers match the whole path: hand the segment back.
        request.postpath.insert(0, request.prepath.pop())
        if name in IDENTITY_MOUNTS:
            return self.identity
        return self.versions

    def render(self, request):
        return self.versions.render(request)


def openstackSite(config, backends, tokens, clock=None):
    """
    @param backends: the service APIs (L{nova.api.ec2.resource.Backends},
        shared with the EC2 API).
    @param tokens: the L{nova.db.tokens.TokenStore}.
    @return: the L{Site}, its requests' bodies bounded by
        C{--ec2_max_request_bytes}.
    """
    from nova.api.ec2.resource import boundedRequestFactory

    root = OpenStackRoot(config, backends, tokens, clock)
    site = Site(root, requestFactory=boundedRequestFactory(config.ec2_max_request_bytes))
    site.noisy = False
    return site
