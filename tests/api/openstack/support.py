# -*- test-case-name: tests.api.openstack.test_compute -*-
"""
A whole cloud behind a real listening OpenStack API, for the tests of
L{nova.api.openstack}.

L{OpenStackCloudMixin.startOpenStack} starts the cloud of
L{tests.api.ec2.cloud.CloudServerMixin} (scheduler, network, volume, two
fake compute hosts, the image service, the users of
L{tests.api.ec2.cloud}) and serves the OpenStack site
(L{nova.api.openstack.site.openstackSite}) over the same service APIs
(the EC2 API's backends) on a free port of 127.0.0.1.
"""

import json

from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred
from twisted.internet.threads import deferToThread

from nova.api.ec2.resource import boundedRequestFactory
from nova.api.openstack.site import OpenStackRoot
from tests.api.ec2.cloud import ALICE, CloudServerMixin
from tests.api.ec2.support import TrackingSite, _rawRequest


class OpenStackCloudMixin(CloudServerMixin):
    """
    For trial C{TestCase}s.  After L{startOpenStack}: everything of
    L{CloudServerMixin}, plus C{osPort} and C{authURL} (C{.../v3}).
    """

    async def startOpenStack(self, clock=None, **flags):
        """
        @param clock: what the v1.0 rate limits count time by (the
            reactor by default).
        """
        flags.setdefault("osapi_host", "127.0.0.1")
        await self.startCloud(**flags)
        root = OpenStackRoot(self.config, self.backends, self.db.tokens, clock)
        self.osSite = TrackingSite(
            root, requestFactory=boundedRequestFactory(self.config.ec2_max_request_bytes)
        )
        self.osSite.noisy = False
        self.osListening = reactor.listenTCP(0, self.osSite, interface="127.0.0.1")
        self.osPort = self.osListening.getHost().port
        self.authURL = f"http://127.0.0.1:{self.osPort}/v3"
        self.addCleanup(lambda: ensureDeferred(self._stopOpenStack()))

    async def _stopOpenStack(self):
        await self.osListening.stopListening()
        await self.osSite.closeAll()

    async def call(self, method, path, body=None, token=None, headers=None):
        """
        Send one request to the OpenStack API.

        @param body: a JSON-able value, or L{bytes} sent as they are.
        @return: C{(status, headers, decoded JSON body or None)}.
        """
        sent = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
            sent.setdefault("Content-Type", "application/json")
        if token is not None:
            sent["X-Auth-Token"] = token
        response = await deferToThread(_rawRequest, self.osPort, method, path, data, sent)
        decoded = json.loads(response.body) if response.body else None
        headers = {k.lower(): v for k, v in response.headers.items()}
        return response.status, headers, decoded

    async def login(self, user=ALICE, project=None):
        """
        @return: a token of C{user} scoped to C{project} (its own by
            default).
        """
        status, headers, body = await self.call(
            "POST", "/v3/auth/tokens", passwordAuth(user.name, user.secret, project or user.name)
        )
        self.assertEqual(status, 201, body)
        return headers["x-subject-token"]


def passwordAuth(userName, password, projectName=None):
    """
    @return: a C{POST /v3/auth/tokens} body.
    """
    auth = {
        "identity": {
            "methods": ["password"],
            "password": {
                "user": {"name": userName, "domain": {"name": "Default"}, "password": password}
            },
        }
    }
    if projectName is not None:
        auth["scope"] = {"project": {"name": projectName, "domain": {"name": "Default"}}}
    return {"auth": auth}
