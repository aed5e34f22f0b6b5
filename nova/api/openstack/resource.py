# -*- test-case-name: tests.api.openstack.test_compute,tests.api.openstack.test_outage -*-
"""
The OpenStack API's small router: one C{twisted.web} leaf resource per
API (identity, compute, image) with a table of routes.

A route is a method, a path pattern (C{servers/{id}/action}) and an
C{async} handler.  Every request goes through the same steps in one
coroutine whose failure, whatever it is, is turned into an OpenStack
fault document by one errback (L{Router.render}):

  1. the path after the API's mount point is matched against the table
     (unknown path: C{itemNotFound}; known path, other method:
     C{methodNotAllowed} with C{Allow});
  2. unless the route is public, the C{X-Auth-Token} header is looked up
     in the token store and the request context made by the auth manager
     (L{nova.auth.manager.AuthManager.contextFor}); unknown or expired
     tokens are C{unauthorized} (401);
  3. the API's C{prepare} hook runs (the compute API checks the
     microversion headers there);
  4. the JSON body, if any, is decoded (malformed: C{badRequest}; larger
     than C{--ec2_max_request_bytes}: C{overLimit});
  5. the handler runs with a L{Call} and returns a L{Response}.

A request that fails because the database or the message broker cannot
be reached answers C{serviceUnavailable} (503, L{faults.outageFault}) and
is logged once per outage by the router's L{OutageLog} (shared by the
site's routers); the first authenticated request that succeeds afterwards
logs the end of the outage.
"""

import json
import re
from urllib.parse import parse_qs

import attr
from twisted.internet.defer import ensureDeferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from nova.api.openstack import faults
from nova.api.web import writeResponse
from nova.auth import interfaces as authInterfaces
from nova.context import newRequestId
from nova.util.outage import OutageLog

log = Logger()

JSON = b"application/json"


@attr.s
class Response:
    """
    What a handler answers.

    @ivar body: a JSON-able value, or L{None} for an empty body.
    @ivar status: the HTTP status.
    @ivar headers: extra headers (L{str} to L{str}).
    """

    body = attr.ib(default=None)
    status = attr.ib(default=200)
    headers = attr.ib(factory=dict)


@attr.s
class Call:
    """
    One request, as a handler sees it.

    @ivar request: the L{twisted.web.server.Request}.
    @ivar api: the L{Router} serving it.
    @ivar args: the path's variables (L{str} to L{str}).
    @ivar query: the query string (L{str} to a L{list} of L{str}).
    @ivar context: the L{nova.context.RequestContext}, or L{None} on
        public routes.
    @ivar token: the L{nova.db.tokens.TokenRecord} of the request's
        token, or L{None}.
    @ivar body: the decoded JSON body, or L{None}.
    """

    request = attr.ib()
    api = attr.ib()
    args = attr.ib(factory=dict)
    query = attr.ib(factory=dict)
    context = attr.ib(default=None)
    token = attr.ib(default=None)
    body = attr.ib(default=None)

    @property
    def backends(self):
        return self.api.backends

    def queryValue(self, name, default=None):
        """
        @return: the last value of query parameter C{name}, or C{default}.
        """
        values = self.query.get(name)
        return values[-1] if values else default

    def baseURL(self):
        """
        @return: C{http://<osapi_host>:<port>}, the port being the one the
            request came in on (C{--osapi_port}, or the one chosen for a
            port of 0).
        """
        return self.api.baseURL(self.request)


@attr.s(frozen=True)
class Route:
    method = attr.ib()
    pattern = attr.ib()
    handler = attr.ib()
    public = attr.ib(default=False)

    regex = attr.ib(init=False)

    @regex.default
    def _compile(self):
        parts = []
        for segment in filter(None, self.pattern.split("/")):
            if segment.startswith("{") and segment.endswith("}"):
                parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        return re.compile(r"\A" + "/".join(parts) + r"/?\Z")


def route(method, pattern, public=False):
    """
    Mark a method of a L{Router} subclass as the handler of C{method} on
    C{pattern} (relative to the API's mount point; C{{name}} matches one
    segment).  A method may carry several routes.
    """

    def mark(function):
        routes = list(getattr(function, "routes", ()))
        routes.append((method, pattern, public))
        function.routes = routes
        return function

    return mark


def header(request, name):
    """
    @return: the value of the request's header C{name} as L{str}
        (latin-1), stripped, or L{None}.
    """
    value = request.getHeader(name.encode("ascii") if isinstance(name, str) else name)
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value.strip()


def baseURL(config, request):
    """
    @return: C{http://<osapi_host>:<port>} for C{request} (see
        L{Call.baseURL}).
    """
    port = request.getHost().port
    return f"http://{config.osapi_host}:{port}"


class Router(Resource):
    """
    A leaf resource dispatching on its own routes (the methods marked
    with L{route}).

    @ivar backends: the service APIs (see
        L{nova.api.ec2.resource.Backends}).
    @ivar tokens: the L{nova.db.tokens.TokenStore}.
    @ivar config: the L{nova.config.Config}.
    @ivar outages: the L{OutageLog} of the requests that fail because the
        database or the message broker cannot be reached (one of its own;
        the site gives its routers one they share).
    """

    isLeaf = True

    def __init__(self, config, backends, tokens):
        Resource.__init__(self)
        self.config = config
        self.backends = backends
        self.tokens = tokens
        self.outages = OutageLog("OpenStack API")
        self.routes = []
        for name in dir(type(self)):
            function = getattr(type(self), name, None)
            for method, pattern, public in getattr(function, "routes", ()):
                self.routes.append(Route(method, pattern, getattr(self, name), public))
        # Literal segments win over variables: servers/detail before servers/{id}.
        self.routes.sort(key=lambda r: r.pattern.count("{"))

    def baseURL(self, request):
        return baseURL(self.config, request)

    # hooks

    def prepare(self, call):
        """
        Called before the handler (with a context on protected routes);
        may raise a L{faults.Fault}.

        @return: a L{dict} of headers every answer of this API carries.
        """
        return {}

    # dispatch

    def _match(self, path, method):
        allowed = []
        for candidate in self.routes:
            found = candidate.regex.match(path)
            if found is None:
                continue
            if candidate.method == method or (method == "HEAD" and candidate.method == "GET"):
                return candidate, found.groupdict(), allowed
            allowed.append(candidate.method)
        return None, None, allowed

    def render(self, request):
        lost = []
        request.notifyFinish().addErrback(lambda _: lost.append(True))
        requestId = "req-" + newRequestId()
        extra = {"x-openstack-request-id": requestId}

        def written(response):
            headers = dict(extra)
            headers.update(response.headers)
            self.write(request, response.status, response.body, headers, lost)

        def failed(failure):
            # An outage's failures are logged once, by the outage log.
            self.outages.failed(failure)
            fault = faults.faultFor(failure.value)
            if fault is None:
                log.failure(
                    "OpenStack API request {method} {uri} failed",
                    failure,
                    method=request.method.decode("ascii", "replace"),
                    uri=request.uri.decode("ascii", "replace"),
                )
                fault = faults.ComputeFault(
                    "Unexpected API Error. The error is logged; report it with the "
                    f"request id {requestId}."
                )
            headers = dict(extra)
            headers.update(fault.headers)
            self.write(request, fault.status, self.faultBody(fault), headers, lost)

        d = ensureDeferred(self._handle(request, requestId, extra))
        d.addCallbacks(written, failed)
        d.addErrback(lambda f: log.failure("writing an OpenStack API answer failed", f))
        return NOT_DONE_YET

    async def _handle(self, request, requestId, extra):
        path = self.routedPath(
            request, "/".join(segment.decode("utf-8", "replace") for segment in request.postpath)
        )
        method = request.method.decode("ascii", "replace").upper()
        matched, args, allowed = self._match(path, method)
        if matched is None:
            if allowed:
                raise faults.MethodNotAllowed(
                    f"The method {method} is not allowed for this resource.",
                    {"Allow": ", ".join(sorted(set(allowed)))},
                )
            raise faults.ItemNotFound("The resource could not be found.")
        query = parse_qs(
            request.uri.partition(b"?")[2].decode("utf-8", "replace"), keep_blank_values=True
        )
        call = Call(request, self, args, query)
        if not matched.public:
            call.token, call.context = await self.authenticate(request, requestId)
        extra.update(self.prepare(call))
        call.body = self._body(request, method)
        await self.admit(call, method, path)
        response = await matched.handler(call)
        if response is None:
            response = Response(None, 204)
        if call.token is not None and response.status < 400:
            # The token store answered and so did the handler's services:
            # an outage being counted is over.  (Public routes, such as
            # the version documents, may reach nothing.)
            self.outages.succeeded()
        if method == "HEAD":
            response = Response(None, response.status, response.headers)
        return response

    def _body(self, request, method):
        if getattr(request, "bodyTooLarge", False):
            raise faults.OverLimit("Request is too large.")
        if method not in ("POST", "PUT", "PATCH"):
            return None
        request.content.seek(0)
        data = request.content.read()
        if not data.strip():
            return None
        return self.decode(request, data)

    def decode(self, request, data):
        """
        @return: the request body C{data} (non-empty L{bytes}) decoded.
        @raise faults.BadRequest: if it is malformed.
        """
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise faults.BadRequest("Malformed request body: not JSON.") from None

    def routedPath(self, request, path):
        """
        @return: the part of C{path} (after the mount point) the routes
            match; this API takes it as it is.
        """
        return path

    async def admit(self, call, method, path):
        """
        Called before the handler; may raise a L{faults.Fault} (the v1.0
        API's rate limits do).
        """

    def faultBody(self, fault):
        """
        @return: the document answering C{fault}.
        """
        return fault.body()

    def write(self, request, status, body, headers, lost):
        """
        Answer C{request} with C{body} (a JSON-able value or L{None}).
        """
        _write(request, status, body, headers, lost)

    async def authenticate(self, request, requestId):
        """
        @return: C{(token record, RequestContext)} of the request's
            C{X-Auth-Token}.
        @raise faults.Unauthorized: for a missing, unknown or expired
            token, or one whose user or project is gone.
        """
        token = header(request, "x-auth-token")
        if not token:
            raise faults.Unauthorized("The request you have made requires authentication.")
        record = await self.tokens.get(token)
        if record is None:
            raise faults.Unauthorized("The request you have made requires authentication.")
        context = await contextOfToken(self.backends.authManager, record, request, requestId)
        return record, context


async def contextOfToken(authManager, record, request, requestId):
    """
    @return: the L{nova.context.RequestContext} a token stands for.
    @raise faults.Unauthorized: if its user or project is gone, or the
        user left the project.
    """
    if record.project_id is None:
        raise faults.Unauthorized("This token is not scoped to a project.")
    try:
        return await authManager.contextFor(
            record.user_id,
            record.project_id,
            requestId=requestId,
            remoteAddress=getattr(request.getClientAddress(), "host", None),
        )
    except (authInterfaces.UserNotFound, authInterfaces.NotProjectMember):
        raise faults.Unauthorized("The user or project of this token is gone.") from None


def _write(request, status, body, headers, lost):
    if lost:
        return
    for name, value in headers.items():
        request.setHeader(name.encode("latin-1"), str(value).encode("latin-1"))
    if body is None:
        request.setResponseCode(status)
        request.setHeader(b"content-length", b"0")
        request.finish()
        return
    data = json.dumps(body, separators=(",", ":")).encode("utf-8")
    writeResponse(request, status, JSON, data, lost)
