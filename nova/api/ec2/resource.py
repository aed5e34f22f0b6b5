# -*- test-case-name: tests.api.ec2.test_resource -*-
"""
The twisted.web resource that serves an EC2-style Query API: the EC2 API at
C{/services/Cloud} and the admin API at C{/services/Admin}.

Every request goes through the same steps, in one coroutine whose failure,
whatever it is, is turned into an EC2 error document by one errback
(L{EC2Resource.render}):

  1. the parameters are read from the query string and the form body
     (L{nova.api.ec2.request.requestParameters});
  2. the authenticator checks the signature and names the user and project
     (L{nova.api.ec2.interfaces.IEC2Authenticator}); a wrong signature is
     EC2's C{AuthFailure} (HTTP 401);
  3. the C{Action} is looked up in the API's action table (unknown:
     C{InvalidAction});
  4. the API's C{authorize} decides whether the context may run it
     (C{UnauthorizedOperation});
  5. the parameters are checked and converted against the action's input
     shape (L{nova.api.ec2.request.convertInput}) and by the API's
     C{checkParameters} (the EC2 API's resource ids); C{DryRun=true} stops
     here with C{DryRunOperation};
  6. the action runs with an L{ActionCall} and returns (or fires with) a
     L{dict} shaped as boto3's output for the action;
  7. the result is written against the output shape
     (L{nova.api.ec2.serializer.serializeResponse}).

The client's address (for the lockout of failed signatures, the logs and
the context) is the peer's, or the one a trusted proxy names in
C{X-Forwarded-For} (L{nova.util.addresses.clientAddress}).  While the
database or the message broker is unreachable requests fail with
C{Unavailable} (503); the resource's L{OutageLog} logs the first such
failure and the next success, not every request.
"""

import inspect

import attr
from twisted.internet.defer import ensureDeferred
from twisted.internet.threads import deferToThread
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from nova.api.ec2.errors import (
    AuthFailure,
    DryRunOperation,
    InvalidAction,
    InvalidRequest,
    MalformedQueryString,
    MissingAction,
    RequestTooLarge,
    ServiceNotConfigured,
    UnauthorizedOperation,
    describeFailure,
)
from nova.api.ec2.model import ModelError
from nova.api.ec2.request import (
    RESERVED_PARAMETERS,
    Limits,
    convertInput,
    parameterTree,
    requestParameters,
)
from nova.api.ec2.serializer import serializeError, serializeResponse
from nova.api.web import writeResponse
from nova.auth.signer import SignatureDoesNotMatch, partsFromTwistedRequest
from nova.context import newRequestId
from nova.util.addresses import clientAddress, parseTrustedProxies
from nova.util.outage import OutageLog

log = Logger()

CONTENT_TYPE = b"text/xml;charset=UTF-8"


def _service(name, service):
    """
    @return: a property reading the optional backend C{name} (stored as
        C{_name}) that raises L{ServiceNotConfigured} naming C{service}
        when it is L{None}.
    """
    private = "_" + name

    def get(self):
        value = getattr(self, private)
        if value is None:
            raise ServiceNotConfigured(service)
        return value

    return property(get, doc=f"The {service} backend; see L{{Backends}}.")


@attr.s(frozen=True)
class Backends:
    """
    What actions act on: built once by C{apiServices} and handed to every
    action as C{call.backends}.

    The services (C{authManager} and those below it) are optional: a
    nova-api may be built without some.  Reading one that is missing
    raises L{ServiceNotConfigured}, which answers the request with EC2's
    C{Unsupported} (not an internal error), so no action checks for
    L{None} itself; L{configured} tells whether one is there.

    Actions never reach the database: every read and write goes through
    a service API that takes the request context and keeps to its
    project.  The keyword C{db} is only for harnesses that give no tag or
    host API: those are then built over it (and the key pair API over
    C{authManager}'s key pairs); C{apiServices} passes every API and no
    database.

    @ivar config: the L{nova.config.Config}.
    @ivar rpc: the L{nova.rpc.interfaces.IRPC}.
    @ivar clock: an L{IReactorTime}; actions read the time from it.
    @ivar authManager: the auth manager (users, projects, roles).
    @ivar runInThread: called as C{runInThread(f, *args)}, runs blocking
        or CPU-heavy work in a thread and returns a L{Deferred} of its
        result (L{deferToThread} unless tests give another).
    @ivar compute: the L{nova.compute.api.ComputeAPI}.
    @ivar volumes: the L{nova.volume.api.VolumeAPI}.
    @ivar network: the network API (fixed and floating addresses).
    @ivar securityGroups: the security group API.
    @ivar images: the image API.
    @ivar keyPairs: the L{nova.compute.keypairs.KeyPairAPI}; by default
        the one over C{authManager}'s key pairs.
    @ivar tags: the L{nova.tags.TagAPI}.
    @ivar hosts: the L{nova.hosts.HostAPI} (availability zones, hosts).
    """

    config = attr.ib()
    _db = attr.ib(default=None, kw_only=True, repr=False)
    rpc = attr.ib()
    clock = attr.ib()
    _authManager = attr.ib(default=None)
    runInThread = attr.ib(default=deferToThread)
    _compute = attr.ib(default=None)
    _volumes = attr.ib(default=None)
    _network = attr.ib(default=None)
    _securityGroups = attr.ib(default=None)
    _images = attr.ib(default=None)
    _keyPairs = attr.ib(
        default=attr.Factory(lambda self: self._defaultKeyPairs(), takes_self=True)
    )
    _tags = attr.ib(default=attr.Factory(lambda self: self._defaultTags(), takes_self=True))
    _hosts = attr.ib(default=attr.Factory(lambda self: self._defaultHosts(), takes_self=True))

    authManager = _service("authManager", "auth")
    compute = _service("compute", "compute")
    volumes = _service("volumes", "volume")
    network = _service("network", "network")
    securityGroups = _service("securityGroups", "security group")
    images = _service("images", "image")
    keyPairs = _service("keyPairs", "key pair")
    tags = _service("tags", "tag")
    hosts = _service("hosts", "host")

    def _defaultKeyPairs(self):
        if getattr(self._authManager, "keyPairs", None) is None:
            return None
        from nova.compute.keypairs import KeyPairAPI

        return KeyPairAPI(self._authManager.keyPairs)

    def _defaultTags(self):
        if self._db is None:
            return None
        from nova.tags import TagAPI

        return TagAPI(self._db, self._compute)

    def _defaultHosts(self):
        if self._db is None or self.config is None:
            return None
        from nova.hosts import HostAPI

        return HostAPI(self._db, self.clock, self.config.service_down_time)

    def configured(self, name):
        """
        @param name: an optional backend's attribute (C{"images"}).
        @return: whether this nova-api has it.
        """
        return getattr(self, "_" + name) is not None


@attr.s(frozen=True)
class ActionCall:
    """
    One call of an action: what the action function receives.

    @ivar action: the action's name (C{DescribeKeyPairs}).
    @ivar params: the parameters, converted: a L{dict} shaped as boto3's
        input for the action (C{{"KeyNames": ["a"], "Filters": [{"Name":
        "key-name", "Values": ["a*"]}]}}); members not given are absent.
    @ivar context: the caller's L{nova.context.RequestContext}.
    @ivar version: the C{Version} the client asked for.
    @ivar backends: the L{Backends}.
    """

    action = attr.ib()
    params = attr.ib()
    context = attr.ib()
    version = attr.ib()
    backends = attr.ib()


def anyMember(context, action):
    """
    An C{authorize} function that lets every authenticated member of a
    project run every action.
    """
    return True


def superusersOnly(context, action):
    """
    An C{authorize} function for the admin API: superusers only.
    """
    return bool(context.isAdmin)


class EC2API:
    """
    One Query API: its model, its action table and its authorization.

    @ivar name: a name for logs (C{"EC2"}, C{"Admin"}).
    @ivar model: the L{nova.api.ec2.model.APIModel}.
    @ivar actions: a mapping from action name to action function.
    @ivar authorize: called as C{authorize(context, actionName)}; true if
        the context may run the action.
    @ivar backends: the L{Backends} handed to actions.
    @ivar dryRun: whether C{DryRun=true} stops a request with
        C{DryRunOperation} (EC2's rule).
    @ivar checkParameters: L{None}, or called as C{checkParameters(action,
        params)} with the converted parameters before the action runs; it
        raises to refuse them (the EC2 API checks resource ids there:
        L{nova.api.ec2.ids.checkIdParameters}).
    """

    def __init__(self, name, model, actions, authorize, backends, dryRun=True,
                 checkParameters=None):
        """
        @raise ModelError: if an action in the table is not in the model or
            is not callable.
        """
        for actionName, function in actions.items():
            if not model.hasOperation(actionName):
                raise ModelError(f"{name} action {actionName} is not in the model")
            if not callable(function):
                raise ModelError(f"{name} action {actionName} is not callable")
        self.name = name
        self.model = model
        self.actions = dict(actions)
        self.authorize = authorize
        self.backends = backends
        self.dryRun = dryRun
        self.checkParameters = checkParameters


@attr.s
class _State:
    """
    What the error mapper needs to know about a request in progress.
    """

    requestId = attr.ib()
    action = attr.ib(default=None)
    version = attr.ib(default=None)


class EC2Resource(Resource):
    """
    Serves one L{EC2API} over GET and POST.
    """

    isLeaf = True

    def __init__(self, api, authenticator, limits=None, weakSignatures=False,
                 trustedProxies=None, outages=None):
        """
        @param api: the L{EC2API}.
        @param authenticator: an L{IEC2Authenticator}.
        @param limits: the L{nova.api.ec2.request.Limits}; defaults apply
            if L{None}.
        @param weakSignatures: whether requests signed with signature
            version 0 or 1 are accepted (C{--ec2_weak_signatures}).
        @param trustedProxies: C{--metadata_trusted_proxies} (text or
            addresses): peers whose C{X-Forwarded-For} names the client
            (L{nova.util.addresses.clientAddress}); L{None}: the flag of
            the API's backends' configuration, if there is one.
        @param outages: the L{OutageLog} (one of its own if L{None}).
        """
        Resource.__init__(self)
        self.api = api
        self.authenticator = authenticator
        self.limits = limits if limits is not None else Limits()
        self.weakSignatures = weakSignatures
        if trustedProxies is None:
            config = getattr(getattr(api, "backends", None), "config", None)
            trustedProxies = getattr(config, "metadata_trusted_proxies", ())
        self.trustedProxies = parseTrustedProxies(trustedProxies)
        self.outages = outages if outages is not None else OutageLog(api.name)

    def render(self, request):
        state = _State(requestId=newRequestId())
        lost = []
        request.notifyFinish().addErrback(lost.append)
        d = ensureDeferred(self._handle(request, state))

        def succeeded(body):
            self.outages.succeeded()
            return 200, body

        def failed(failure):
            status, code, message, unexpected = describeFailure(failure)
            if self.outages.failed(failure):
                unexpected = False
            if unexpected:
                log.failure(
                    "{api} {action} request {requestId} failed",
                    failure,
                    api=self.api.name,
                    action=state.action,
                    requestId=state.requestId,
                )
            return status, serializeError(code, message, state.requestId)

        def send(result):
            status, body = result
            writeResponse(request, status, CONTENT_TYPE, body, lost)

        d.addCallbacks(succeeded, failed)
        d.addCallback(send)
        d.addErrback(lambda failure: log.failure("writing a response failed", failure))
        return NOT_DONE_YET

    async def _handle(self, request, state):
        """
        Run one request.

        @return: the response body (L{bytes}); any failure is an error
            answer.
        """
        limits = self.limits
        method = request.method.decode("ascii", "replace")
        if method not in ("GET", "POST"):
            raise InvalidRequest(
                f"The HTTP method {method[:20]} is not supported; use GET or POST.", 405
            )
        if getattr(request, "bodyTooLarge", False):
            raise RequestTooLarge(limits.maxBytes)
        body = b""
        if request.content is not None:
            request.content.seek(0)
            body = request.content.read(limits.maxBytes + 1)
        query = request.uri.partition(b"?")[2]
        contentType = request.getHeader(b"content-type")
        if contentType is not None:
            contentType = contentType.decode("latin-1")
        params = requestParameters(method, query, contentType, body, limits)
        _checkAuthenticationText(request, params)
        state.version = params.get("Version") or self.api.model.apiVersion

        parts = partsFromTwistedRequest(request, body)
        remoteAddress = clientAddress(request, self.trustedProxies)
        options = {"weakSignatures": True} if self.weakSignatures else {}
        try:
            context, _ = await self.authenticator.authenticateEC2(
                parts, params, remoteAddress=remoteAddress, requestId=state.requestId,
                **options,
            )
        except SignatureDoesNotMatch:
            # EC2 answers a wrong signature with AuthFailure (401), not
            # with S3's SignatureDoesNotMatch.
            raise AuthFailure() from None
        state.requestId = context.requestId

        actionName = params.get("Action")
        if not actionName:
            raise MissingAction()
        function = self.api.actions.get(actionName)
        if function is None:
            raise InvalidAction(actionName[:100])
        state.action = actionName
        if not self.api.authorize(context, actionName):
            raise UnauthorizedOperation()

        model = self.api.model
        inputShape = model.inputShape(actionName)
        converted = convertInput(
            model, inputShape, parameterTree(model.renameLegacy(actionName, params), limits)
        )
        if self.api.checkParameters is not None:
            self.api.checkParameters(actionName, converted)
        if self.api.dryRun and converted.get("DryRun") is True:
            raise DryRunOperation()

        call = ActionCall(
            action=actionName,
            params=converted,
            context=context,
            version=state.version,
            backends=self.api.backends,
        )
        result = function(call)
        if inspect.isawaitable(result):
            result = await result
        return serializeResponse(
            actionName, model.outputShape(actionName), result, context.requestId,
            state.version,
        )


def _checkAuthenticationText(request, params):
    """
    Refuse authentication data that is not text: the protocol parameters
    (L{RESERVED_PARAMETERS}) and the headers a signature covers must be
    valid UTF-8 before an access key is looked up or logged.

    @raise MalformedQueryString: for such a parameter.
    @raise InvalidRequest: for such a header.
    """
    for name in RESERVED_PARAMETERS:
        value = params.get(name)
        if value is not None and not _isText(value):
            raise MalformedQueryString(f"The parameter {name} is not valid UTF-8.")
    for rawName, values in request.requestHeaders.getAllRawHeaders():
        name = rawName.lower()
        if name in (b"authorization", b"host") or name.startswith(b"x-amz-"):
            for value in values:
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    raise InvalidRequest(
                        f"The header {name.decode('latin-1')[:40]} is not valid UTF-8."
                    ) from None


def _isText(value):
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class BoundedRequest(Request):
    """
    A request that keeps at most C{maxBodyBytes} of its body: a longer
    body is counted and dropped, and C{bodyTooLarge} set, so the resource
    refuses it without holding it.  A body that goes on past
    C{abortFactor} times the limit closes the connection.

    @cvar maxBodyBytes: the largest body kept.
    """

    maxBodyBytes = Limits().maxBytes
    abortFactor = 16
    bodyTooLarge = False
    _bodyReceived = 0

    def gotLength(self, length):
        if length is not None and length > self.maxBodyBytes:
            self.bodyTooLarge = True
            length = 0
        Request.gotLength(self, length)

    def handleContentChunk(self, data):
        self._bodyReceived += len(data)
        if self._bodyReceived > self.maxBodyBytes:
            self.bodyTooLarge = True
            if self._bodyReceived > self.maxBodyBytes * self.abortFactor:
                self.channel.transport.abortConnection()
            return
        if not self.bodyTooLarge:
            Request.handleContentChunk(self, data)


def boundedRequestFactory(maxBodyBytes):
    """
    @return: a L{BoundedRequest} subclass keeping at most C{maxBodyBytes}
        of a body, for C{Site(..., requestFactory=...)}.
    """
    return type("BoundedRequest", (BoundedRequest,), {"maxBodyBytes": maxBodyBytes})
