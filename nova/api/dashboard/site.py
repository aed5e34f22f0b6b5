# -*- test-case-name: tests.api.dashboard.test_site,tests.api.dashboard.test_outage -*-
"""
The web dashboard: server-rendered HTML pages (Jinja2, autoescaped) over
the service APIs the EC2 and OpenStack APIs use (L{Backends}), never over
HTTP and never over the database.

A user logs in with the user name and secret key, then works in one
project at a time under C{<dashboard_path>/p/<project>/...}: every request
builds the user's L{nova.context.RequestContext} in that project with
L{nova.auth.manager.AuthManager.contextFor} (so a project the user does
not belong to answers 403), and every action asks L{nova.auth.policy}
first, exactly as the EC2 API does: buttons the role map forbids are not
shown, and a forbidden form posted anyway is refused with 403.

Every form carries the session's CSRF token; a POST without it (or with
another) is refused with 403 before anything happens.  The session cookie
is C{HttpOnly} and C{SameSite=Strict}; sessions expire
C{--dashboard_session_ttl} seconds after their last request
(L{nova.api.dashboard.sessions}).

Routes are a table (L{ROUTES}) from method and path pattern to a handler
method of L{Dashboard}; C{*} in a pattern is one segment, handed to the
handler as an argument.

While the database or the message broker cannot be reached
(L{nova.util.outage.outageOf}), pages answer 503 "Service unavailable"
with C{Retry-After} and no traceback; the dashboard's L{OutageLog} logs
the outage once, and its end once a page was served again.
"""

import base64
import hmac
import json
import os
import re
import secrets
from datetime import datetime, timezone

import attr
from jinja2 import Environment, PackageLoader, select_autoescape
from twisted.internet.defer import ensureDeferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import NoResource, Resource
from twisted.web.server import NOT_DONE_YET
from twisted.web.static import File

from nova.auth import interfaces as authInterfaces
from nova.auth.interfaces import ALLOWED_ROLES
from nova.auth.policy import allowed
from nova.compute import states
from nova.config import ConfigError
from nova.exception import NovaError
from nova.util.outage import OutageLog

log = Logger()

#: The directory of the dashboard's own CSS and JavaScript, and of the
#: vendored noVNC (C{static/novnc}, unpacked by C{tools/vendor-novnc.sh}).
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")

COOKIE = b"nova_dashboard"
LOGIN_COOKIE = b"nova_dashboard_login"

#: Longest form body read (bytes); user data and imported keys fit.
MAX_FORM_BYTES = 256 * 1024

#: What a page says while the database or the message broker cannot be
#: reached (the cause is logged, not shown).
UNAVAILABLE_MESSAGE = (
    "The cloud is temporarily unavailable. Please try again in a few moments."
)

#: Seconds a browser or script is told to wait (C{Retry-After}) before it
#: tries again during such an outage.
OUTAGE_RETRY_AFTER = 5

_SECURITY_HEADERS = {
    b"Content-Security-Policy": (
        b"default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; "
        b"style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'"
    ),
    b"X-Frame-Options": b"DENY",
    b"X-Content-Type-Options": b"nosniff",
    b"Referrer-Policy": b"same-origin",
    b"Cache-Control": b"no-store",
}


class Refused(NovaError):
    """The dashboard refuses the request."""

    code = "Refused"
    httpStatus = 403


class InvalidForm(NovaError):
    """A form's field is missing or malformed."""

    code = "InvalidForm"
    httpStatus = 400


class PageNotFound(NovaError):
    """No such page."""

    code = "PageNotFound"
    httpStatus = 404


@attr.s(frozen=True)
class Response:
    """
    What a handler answers.

    @ivar body: L{bytes}.
    @ivar headers: a L{dict} of extra headers (L{bytes} to L{bytes}).
    """

    status = attr.ib(default=200)
    body = attr.ib(default=b"")
    contentType = attr.ib(default=b"text/html; charset=utf-8")
    headers = attr.ib(factory=dict)


def redirect(location, status=303):
    """
    @return: a L{Response} sending the browser to C{location} (a path).
    """
    return Response(status, b"", headers={b"Location": location.encode("utf-8")})


@attr.s
class Call:
    """
    One request as handlers see it.

    @ivar session: the L{nova.api.dashboard.sessions.Session}, or L{None}
        on the login pages.
    @ivar context: the user's L{nova.context.RequestContext} in
        C{project}, or L{None} outside a project.
    @ivar form: the POSTed form, L{str} to L{str} (the last value of
        each field) or to a L{list} for fields listed in C{multi}.
    """

    request = attr.ib()
    session = attr.ib()
    project = attr.ib(default=None)
    context = attr.ib(default=None)
    form = attr.ib(factory=dict)
    multi = attr.ib(factory=dict)
    flash = attr.ib(default=())

    def can(self, action):
        """
        @return: whether the role map lets the user do C{action} (an EC2
            action name) in this project.
        """
        return allowed(self.context, action)

    def check(self, action):
        """
        @raise Refused: unless L{can}.
        """
        if not self.can(action):
            raise Refused(f"User {self.context.userId} is not authorized to perform {action}.")

    def field(self, name, required=True):
        value = self.form.get(name, "").strip()
        if required and not value:
            raise InvalidForm(f"The field {name} is required.")
        return value


#: (method, pattern, handler name, needs a project).  Patterns are
#: matched in order; C{*} matches one segment.
ROUTES = (
    ("GET", "", "home"),
    ("GET", "projects", "projects"),
    ("POST", "logout", "logout"),
    ("GET", "p/*", "projectHome"),
    ("GET", "p/*/instances", "instances"),
    ("GET", "p/*/instances.json", "instancesJSON"),
    ("POST", "p/*/instances", "launch"),
    ("GET", "p/*/instances/*", "instance"),
    ("GET", "p/*/instances/*/console", "console"),
    ("GET", "p/*/instances/*/vnc", "vnc"),
    ("POST", "p/*/instances/*/*", "instanceAction"),
    ("GET", "p/*/images", "images"),
    ("GET", "p/*/images.json", "imagesJSON"),
    ("POST", "p/*/images", "registerImage"),
    ("POST", "p/*/images/*/*", "imageAction"),
    ("GET", "p/*/keypairs", "keyPairs"),
    ("POST", "p/*/keypairs", "createKeyPair"),
    ("POST", "p/*/keypairs/import", "importKeyPair"),
    ("POST", "p/*/keypairs/*/delete", "deleteKeyPair"),
    ("GET", "p/*/security-groups", "securityGroups"),
    ("POST", "p/*/security-groups", "createSecurityGroup"),
    ("POST", "p/*/security-groups/*/delete", "deleteSecurityGroup"),
    ("POST", "p/*/security-groups/*/rules", "addRule"),
    ("POST", "p/*/security-groups/*/revoke", "revokeRule"),
    ("GET", "p/*/addresses", "addresses"),
    ("GET", "p/*/addresses.json", "addressesJSON"),
    ("POST", "p/*/addresses", "allocateAddress"),
    ("POST", "p/*/addresses/*/*", "addressAction"),
    ("GET", "p/*/volumes", "volumes"),
    ("GET", "p/*/volumes.json", "volumesJSON"),
    ("POST", "p/*/volumes", "createVolume"),
    ("POST", "p/*/volumes/*/*", "volumeAction"),
    ("POST", "p/*/snapshots/*/delete", "deleteSnapshot"),
    ("GET", "p/*/quotas", "quotas"),
    ("GET", "p/*/admin", "admin"),
    ("POST", "p/*/admin/*", "adminAction"),
)



#: The states in which the pages offer each instance action, from the state
#: machine of L{nova.compute.states}: its button is shown only there (and
#: the compute API refuses the action in other states anyway).
ACTION_STATES = {
    "reboot": states.REBOOT.allowed,
    "stop": states.STOP.allowed,
    "start": states.START.allowed,
    "pause": states.PAUSE.allowed,
    "unpause": states.UNPAUSE.allowed,
    "suspend": states.SUSPEND.allowed,
    "resume": states.RESUME.allowed,
    "rescue": states.RESCUE.allowed,
    "unrescue": states.UNRESCUE.allowed,
    "resize": states.RESIZE.allowed,
    "confirm-resize": states.CONFIRM_RESIZE.allowed,
    "revert-resize": states.REVERT_RESIZE.allowed,
    "snapshot": frozenset({states.RUNNING, states.STOPPED, states.PAUSED, states.SUSPENDED}),
    "lock": states.LIVE,
    "unlock": states.LIVE,
    "terminate": states.TERMINATE.allowed,
}


#: Volume and snapshot states of work under way.
_VOLUME_BUSY = frozenset({"creating", "attaching", "detaching", "deleting", "pending"})


def matchRoute(method, segments, routes=ROUTES):
    """
    @param segments: the path below the dashboard, as a L{list} of L{str}.
    @return: C{(handler name, arguments)}, or L{None}.
    @raise PageNotFound: never; L{None} means no route.
    """
    for routeMethod, pattern, name in routes:
        parts = pattern.split("/") if pattern else []
        if len(parts) != len(segments):
            continue
        args = []
        for part, segment in zip(parts, segments):
            if part == "*":
                if not segment:
                    break
                args.append(segment)
            elif part != segment:
                break
        else:
            if routeMethod == method or (routeMethod == "GET" and method == "HEAD"):
                return name, args
    return None


def _age(created, now):
    if created is None:
        return ""
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    seconds = max(0, int((now - created).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


class Dashboard:
    """
    The dashboard's handlers, over the service APIs.

    @ivar config: the L{nova.config.Config}.
    @ivar backends: the L{nova.api.ec2.resource.Backends} of nova-api.
    @ivar authManager: the L{nova.auth.manager.AuthManager}.
    @ivar sessions: the L{nova.api.dashboard.sessions.SessionStore}.
    @ivar clock: an L{IReactorTime}.
    @ivar basePath: the dashboard's URL path (C{/dashboard}).
    @ivar outages: the L{OutageLog} of the pages that failed because the
        database or the message broker cannot be reached.
    """

    def __init__(self, config, backends, authManager, sessions, clock, staticPath=STATIC):
        self.config = config
        self.outages = OutageLog("Dashboard")
        self.backends = backends
        self.authManager = authManager
        self.sessions = sessions
        self.clock = clock
        self.staticPath = staticPath
        stripped = config.dashboard_path.strip("/")
        self.basePath = "/" + stripped if stripped else ""
        self.templates = Environment(
            loader=PackageLoader("nova.api.dashboard", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def hasNoVNC(self):
        """
        @return: whether the vendored noVNC client is there.
        """
        return os.path.isfile(os.path.join(self.staticPath, "novnc", "core", "rfb.js"))

    # -- plumbing ----------------------------------------------------------

    def url(self, *parts):
        return "/".join([self.basePath, *parts])

    def page(self, call, template, status=200, **values):
        context = call.context
        values.update(
            base=self.basePath,
            static=self.url("static"),
            user=call.session.userName if call.session else None,
            csrf=call.session.csrfToken if call.session else None,
            project=call.project,
            projectURL=self.url("p", call.project) if call.project else None,
            isAdmin=bool(context and context.isAdmin),
            roles=sorted(context.roles) if context else (),
            can=call.can if context else (lambda action: False),
            flash=call.flash,
        )
        body = self.templates.get_template(template).render(**values)
        return Response(status, body.encode("utf-8"))

    def _errorPage(self, call, status, message):
        return self.page(call, "error.html", status=status, message=message)

    def unavailable(self, call, asJSON=False):
        """
        @param asJSON: whether the request was a page's poll (a C{JSON}
            route), answered in JSON.
        @return: the 503 answering a request that failed because the
            database or the message broker cannot be reached.
        """
        if asJSON:
            response = self._json({"error": UNAVAILABLE_MESSAGE}, 503)
        else:
            response = self.page(
                call, "error.html", status=503, message=UNAVAILABLE_MESSAGE,
                heading="Service unavailable",
            )
        return attr.evolve(
            response, headers={b"Retry-After": str(OUTAGE_RETRY_AFTER).encode("ascii")}
        )

    async def _readSession(self, request):
        sessionId = request.getCookie(COOKIE)
        if not sessionId:
            return None
        return await self.sessions.get(sessionId.decode("ascii", "replace"))

    def _setCookie(self, request, name, value, maxAge):
        request.addCookie(
            name,
            value,
            path=self.basePath or "/",
            max_age=str(maxAge),
            httpOnly=True,
            secure=self.config.dashboard_secure_cookies,
            sameSite="strict",
        )

    def _readForm(self, request):
        form, multi = {}, {}
        for key, values in (request.args or {}).items():
            name = key.decode("utf-8", "replace")
            decoded = [v.decode("utf-8", "replace") for v in values]
            multi[name] = decoded
            form[name] = decoded[-1] if decoded else ""
        return form, multi

    async def handle(self, request, segments):
        """
        Answer one request.

        @param segments: the path below the dashboard (L{str}s).
        @return: a L{Response}.
        """
        method = request.method.decode("ascii", "replace")
        call = Call(request, None)
        if segments == ["login"]:
            if method in ("GET", "HEAD"):
                return self.loginPage(call)
            if method == "POST":
                response = await self.login(call)
                if response.status < 400:
                    # Logged in: the user was read.
                    self.outages.succeeded()
                return response
            return self._errorPage(call, 405, "Method not allowed.")
        route = matchRoute(method, segments)
        if route is None:
            if matchRoute("GET", segments) or matchRoute("POST", segments):
                return self._errorPage(call, 405, "Method not allowed.")
            return self._errorPage(call, 404, "No such page.")
        name, args = route
        call.session = await self._readSession(request)
        if call.session is None:
            if name.endswith("JSON"):
                return self._json({"error": "Your session has ended: log in again."}, 401)
            if method == "POST":
                return self._errorPage(call, 403, "Your session has ended: log in again.")
            return redirect(self.url("login"))
        if method == "POST":
            call.form, call.multi = self._readForm(request)
            if not call.session.checkToken(call.form.get("_csrf")):
                return self._errorPage(call, 403, "The form's CSRF token is missing or wrong.")
        elif not name.endswith("JSON"):
            # Messages are for the next page a person sees, not for polls.
            call.session, call.flash = await self.sessions.popFlash(call.session)
        if segments[:1] == ["p"]:
            call.project = args.pop(0)
            try:
                call.context = await self.authManager.contextFor(
                    call.session.userName,
                    call.project,
                    remoteAddress=getattr(request.getClientAddress(), "host", None),
                )
            except (authInterfaces.NotProjectMember, authInterfaces.ProjectNotFound):
                project, call.project = call.project, None
                return self._errorPage(
                    call, 403, f"You are not a member of a project named {project}."
                )
            except authInterfaces.UserNotFound:
                # The user was deleted since logging in.
                await self.sessions.end(call.session.sessionId)
                call.session = None
                return self._errorPage(call, 403, "Your session has ended: log in again.")
        try:
            response = await getattr(self, name)(call, *args)
        except NovaError as e:
            if self.outages.failed(Failure()):
                return self.unavailable(call, name.endswith("JSON"))
            status = getattr(e, "httpStatus", None) or 400
            if status >= 500:
                log.failure("dashboard {method} {path} failed", Failure(), method=method,
                            path="/".join(segments))
            if name.endswith("JSON"):
                return self._json({"error": str(e) or e.__doc__}, status)
            return self._errorPage(call, status if status < 500 else 500, str(e) or e.__doc__)
        if response.status < 400:
            self.outages.succeeded()
        return response

    async def _done(self, call, page, message):
        """
        After a successful action: keep C{message} for the next page and
        go to C{page} (of the project).
        """
        if message:
            await self.sessions.addFlash(call.session, "notice", message)
        return redirect(self.url("p", call.project, page))

    def _json(self, value, status=200):
        return Response(
            status, json.dumps(value).encode("utf-8"), b"application/json"
        )

    # -- login -------------------------------------------------------------

    def loginPage(self, call, status=200, message=None):
        token = secrets.token_urlsafe(24)
        self._setCookie(call.request, LOGIN_COOKIE, token, 600)
        return self.page(call, "login.html", status=status, loginToken=token, message=message)

    async def login(self, call):
        request = call.request
        form, _ = self._readForm(request)
        expected = request.getCookie(LOGIN_COOKIE) or b""
        given = form.get("_csrf", "").encode("utf-8")
        if not expected or not hmac.compare_digest(expected, given):
            return self._errorPage(call, 403, "The form's CSRF token is missing or wrong.")
        userName, secret = form.get("user", "").strip(), form.get("secret", "")
        refused = "Wrong user name or secret key."
        try:
            user = await self.authManager.getUser(userName) if userName else None
        except authInterfaces.UserNotFound:
            user = None
        if user is None:
            return self.loginPage(call, 403, refused)
        remote = getattr(request.getClientAddress(), "host", None)
        if await self.authManager._isLocked(user.accessKey, remote):
            log.warn("dashboard login of {user} refused: its access key is locked", user=user.name)
            return self.loginPage(call, 403, refused)
        if not hmac.compare_digest(secret.encode("utf-8"), user.secretKey.encode("utf-8")):
            await self.authManager.recordFailedSignature(user.accessKey, remote)
            log.warn("dashboard login of {user} from {remote} failed: wrong secret key",
                     user=user.name, remote=remote)
            return self.loginPage(call, 403, refused)
        session = await self.sessions.create(user.name)
        self._setCookie(request, COOKIE, session.sessionId, self.config.dashboard_session_ttl)
        self._setCookie(request, LOGIN_COOKIE, "", 0)
        return redirect(self.url("projects"))

    async def logout(self, call):
        await self.sessions.end(call.session.sessionId)
        self._setCookie(call.request, COOKIE, "", 0)
        return redirect(self.url("login"))

    # -- projects ----------------------------------------------------------

    async def _myProjects(self, call):
        user = await self.authManager.getUser(call.session.userName)
        if await self.authManager.isSuperuser(user):
            projects = await self.authManager.getProjects()
        else:
            projects = await self.authManager.getProjects(user.name)
        return sorted(projects, key=lambda p: p.name)

    async def home(self, call):
        return redirect(self.url("projects"))

    async def projects(self, call):
        projects = await self._myProjects(call)
        return self.page(call, "projects.html", projects=projects)

    async def projectHome(self, call):
        return redirect(self.url("p", call.project, "instances"))

    # -- instances ---------------------------------------------------------

    async def _instanceViews(self, call):
        backends = self.backends
        instances = await backends.compute.describeInstances(call.context)
        if call.context.isAdmin:
            instances = [i for i in instances if i.project_id == call.project]
        floating = await backends.network.floatingIpsByInstance(call.context)
        now = datetime.fromtimestamp(self.clock.seconds(), timezone.utc)
        views = []
        return [self._instanceView(call, i, floating.get(i.id), now) for i in instances]

    def _instanceView(self, call, instance, floating, now):
        addresses = [a for a in (instance.fixed_ip, floating) if a]
        return {
            "id": instance.ec2Id,
            "name": instance.display_name or "",
            "state": instance.state,
            "busy": instance.state in states.TRANSITIONAL,
            "locked": bool(instance.locked),
            "type": instance.instance_type,
            "oldType": instance.old_instance_type,
            "image": instance.image_id,
            "addresses": addresses,
            "host": instance.host if call.context.isAdmin else None,
            "keyName": instance.key_name,
            "age": _age(instance.created_at, now),
        }

    async def instances(self, call):
        call.check("DescribeInstances")
        views = await self._instanceViews(call)
        images = types = keyPairs = groups = ()
        if call.can("RunInstances"):
            images = [
                i for i in await self.backends.images.describeImages(call.context)
                if i.image_type == "machine" and i.state == "available"
            ]
            types = await self.backends.compute.describeInstanceTypes(call.context)
            keyPairs = await self.backends.keyPairs.describeKeyPairs(call.context)
            groups = await self.backends.securityGroups.describe(call.context)
        return self.page(
            call,
            "instances.html",
            instances=views,
            images=images,
            types=types,
            keyPairs=keyPairs,
            groups=groups,
            defaultType=self.config.default_instance_type,
            when=self._when,
        )

    @staticmethod
    def _when(action):
        """
        @return: the states (space-separated) in which the pages offer
            C{action} on an instance.
        """
        return " ".join(sorted(ACTION_STATES[action]))

    async def instance(self, call, instanceId):
        """
        One instance: what it is, and every action its state and the role
        map allow.
        """
        call.check("DescribeInstances")
        compute = self.backends.compute
        record = await compute.getInstance(call.context, instanceId)
        if record.project_id != call.project:
            raise PageNotFound(f"The instance ID '{instanceId}' does not exist")
        floating = await self.backends.network.floatingIpsByInstance(call.context)
        now = datetime.fromtimestamp(self.clock.seconds(), timezone.utc)
        view = self._instanceView(call, record, floating.get(record.id), now)
        types = ()
        if call.can("ModifyInstanceAttribute"):
            types = [
                t for t in await compute.describeInstanceTypes(call.context)
                if t.name != record.instance_type
            ]
        return self.page(call, "instance.html", i=view, types=types, when=self._when)

    async def instancesJSON(self, call):
        call.check("DescribeInstances")
        return self._json({"instances": await self._instanceViews(call)})

    async def launch(self, call):
        call.check("RunInstances")
        imageId = call.field("image")
        try:
            count = int(call.form.get("count") or 1)
        except ValueError:
            raise InvalidForm("The count must be a whole number.") from None
        if not 1 <= count <= 100:
            raise InvalidForm("The count must be between 1 and 100.")
        backends = self.backends
        launch = await backends.images.checkLaunch(call.context, imageId)
        keyName = call.form.get("keypair") or None
        keyData = None
        if keyName:
            keyData = (await backends.keyPairs.getKeyPair(call.context, keyName)).public_key
        groups = [g for g in call.multi.get("groups", ()) if g] or ["default"]
        await backends.securityGroups.ensureDefault(call.context)
        userData = call.form.get("userdata") or None
        if userData is not None:
            userData = base64.b64encode(userData.encode("utf-8")).decode("ascii")
        reservationId, instances, _ = await backends.compute.runInstances(
            call.context,
            imageId,
            count,
            count,
            instanceType=call.form.get("type") or None,
            keyName=keyName,
            keyData=keyData,
            userData=userData,
            securityGroups=groups,
            kernelId=launch.kernelId,
            ramdiskId=launch.ramdiskId,
        )
        ids = ", ".join(i.ec2Id for i in instances)
        return await self._done(call, "instances", f"Launched {ids} ({reservationId}).")

    #: Actions on instances: the EC2 action name the role map knows it by,
    #: the compute API's method, the message, and whether the method takes
    #: a list of instances (else one).  Pausing, suspending and locking
    #: are for administrators (the role map names no role for them).
    _INSTANCE_ACTIONS = {
        "reboot": ("RebootInstances", "rebootInstances", "Rebooting {id}.", True),
        "stop": ("StopInstances", "stopInstances", "Stopping {id}.", True),
        "start": ("StartInstances", "startInstances", "Starting {id}.", True),
        "terminate": ("TerminateInstances", "terminateInstances", "Terminating {id}.", True),
        "pause": ("PauseInstance", "pauseInstance", "Pausing {id}.", False),
        "unpause": ("UnpauseInstance", "unpauseInstance", "Unpausing {id}.", False),
        "suspend": ("SuspendInstance", "suspendInstance", "Suspending {id}.", False),
        "resume": ("ResumeInstance", "resumeInstance", "Resuming {id}.", False),
        "rescue": ("RescueInstance", "rescueInstance", "Rescuing {id}.", False),
        "unrescue": ("UnrescueInstance", "unrescueInstance", "Unrescuing {id}.", False),
        "confirm-resize": (
            "ModifyInstanceAttribute", "confirmResize", "Confirmed the resize of {id}.", False
        ),
        "revert-resize": (
            "ModifyInstanceAttribute", "revertResize", "Reverting the resize of {id}.", False
        ),
        "lock": ("LockInstance", "lockInstance", "Locked {id}.", False),
        "unlock": ("UnlockInstance", "unlockInstance", "Unlocked {id}.", False),
    }

    async def instanceAction(self, call, instanceId, action):
        compute = self.backends.compute
        # Back to the page the form was on: the instance's own, or the list.
        page = "instances/" + instanceId if call.form.get("back") == "instance" else "instances"
        if action == "snapshot":
            call.check("CreateImage")
            name = call.field("name")
            imageId = await compute.createImage(call.context, instanceId, name)
            return await self._done(call, "images", f"Snapshot {imageId} of {instanceId} started.")
        if action == "resize":
            call.check("ModifyInstanceAttribute")
            typeName = call.field("type")
            await compute.resizeInstance(call.context, instanceId, typeName)
            return await self._done(call, page, f"Resizing {instanceId} to {typeName}.")
        if action not in self._INSTANCE_ACTIONS:
            raise PageNotFound(f"No instance action {action}.")
        policyAction, method, message, many = self._INSTANCE_ACTIONS[action]
        call.check(policyAction)
        await getattr(compute, method)(call.context, [instanceId] if many else instanceId)
        return await self._done(call, page, message.format(id=instanceId))

    async def console(self, call, instanceId):
        call.check("GetConsoleOutput")
        result = await self.backends.compute.getConsoleOutput(call.context, instanceId)
        return self.page(call, "console.html", instanceId=result["instanceId"],
                         output=result["output"], timestamp=result["timestamp"])

    async def vnc(self, call, instanceId):
        call.check("GetConsoleOutput")
        instance = await self.backends.compute.getInstance(call.context, instanceId)
        url = password = error = None
        getVncConsole = getattr(self.backends.compute, "getVncConsole", None)
        if getVncConsole is None:
            error = "This cloud's compute service offers no VNC consoles."
        else:
            try:
                console = await getVncConsole(call.context, instance.ec2Id)
            except NovaError as e:
                error = str(e) or e.__doc__
            else:
                url, password = console["url"], console.get("password")
        if url is not None and not self.hasNoVNC():
            url, error = None, "The noVNC client is not installed on this server (make novnc)."
        return self.page(
            call, "vnc.html", instanceId=instance.ec2Id, url=url, password=password, error=error
        )

    # -- images ------------------------------------------------------------

    async def images(self, call):
        call.check("DescribeImages")
        images = await self.backends.images.describeImages(call.context)
        return self.page(call, "images.html", images=images)

    async def imagesJSON(self, call):
        call.check("DescribeImages")
        images = await self.backends.images.describeImages(call.context)
        return self._json(
            {
                "images": [
                    {
                        "id": i.ec2_id,
                        "state": i.state,
                        "busy": i.state == "pending",
                        "visibility": "public" if i.is_public else "private",
                    }
                    for i in images
                ]
            }
        )

    async def registerImage(self, call):
        call.check("RegisterImage")
        location = call.field("location")
        record = await self.backends.images.registerImage(
            call.context, location, name=call.form.get("name") or None
        )
        return await self._done(call, "images", f"Registered {record.ec2_id}.")

    async def imageAction(self, call, imageId, action):
        images = self.backends.images
        if action in ("public", "private"):
            call.check("ModifyImageAttribute")
            await images.setPublic(call.context, imageId, action == "public")
            return await self._done(call, "images", f"{imageId} is now {action}.")
        if action == "deregister":
            call.check("DeregisterImage")
            await images.deregisterImage(call.context, imageId)
            return await self._done(call, "images", f"Deregistered {imageId}.")
        raise PageNotFound(f"No image action {action}.")

    # -- key pairs ---------------------------------------------------------

    async def keyPairs(self, call):
        call.check("DescribeKeyPairs")
        keyPairs = await self.backends.keyPairs.describeKeyPairs(call.context)
        return self.page(call, "keypairs.html", keyPairs=keyPairs)

    async def createKeyPair(self, call):
        call.check("CreateKeyPair")
        name = call.field("name")
        keyType = call.form.get("type") or "rsa"
        created = await self.backends.keyPairs.createKeyPair(call.context, name, keyType)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in created.name)
        return Response(
            200,
            created.privateKey.encode("ascii") if isinstance(created.privateKey, str)
            else created.privateKey,
            b"application/x-pem-file",
            {b"Content-Disposition": f'attachment; filename="{safe}.pem"'.encode("ascii")},
        )

    async def importKeyPair(self, call):
        call.check("ImportKeyPair")
        name = call.field("name")
        record = await self.backends.keyPairs.importKeyPair(
            call.context, name, call.field("publicKey").encode("utf-8")
        )
        return await self._done(call, "keypairs", f"Imported {record.name} ({record.fingerprint}).")

    async def deleteKeyPair(self, call, name):
        call.check("DeleteKeyPair")
        await self.backends.keyPairs.deleteKeyPair(call.context, name)
        return await self._done(call, "keypairs", f"Deleted key pair {name}.")

    # -- security groups ---------------------------------------------------

    async def securityGroups(self, call):
        call.check("DescribeSecurityGroups")
        groups = await self.backends.securityGroups.describe(call.context)
        names = {g.id: g.name for g in groups}
        return self.page(call, "security_groups.html", groups=groups, names=names)

    async def createSecurityGroup(self, call):
        call.check("CreateSecurityGroup")
        name = call.field("name")
        await self.backends.securityGroups.create(
            call.context, name, call.form.get("description") or name
        )
        return await self._done(call, "security-groups", f"Created security group {name}.")

    async def deleteSecurityGroup(self, call, name):
        call.check("DeleteSecurityGroup")
        await self.backends.securityGroups.delete(call.context, groupName=name)
        return await self._done(call, "security-groups", f"Deleted security group {name}.")

    def _permission(self, call):
        permission = {
            "protocol": call.field("protocol"),
            "fromPort": call.form.get("fromPort") or None,
            "toPort": call.form.get("toPort") or None,
        }
        source = call.form.get("sourceGroup")
        if source:
            permission["groups"] = [{"groupName": source}]
        else:
            permission["cidrs"] = [call.form.get("cidr") or "0.0.0.0/0"]
        for key in ("fromPort", "toPort"):
            if permission[key] is not None:
                try:
                    permission[key] = int(permission[key])
                except ValueError:
                    raise InvalidForm(f"The port {permission[key]!r} is not a number.") from None
        return permission

    async def addRule(self, call, name):
        call.check("AuthorizeSecurityGroupIngress")
        await self.backends.securityGroups.authorizeIngress(
            call.context, [self._permission(call)], groupName=name
        )
        return await self._done(call, "security-groups", f"Added a rule to {name}.")

    async def revokeRule(self, call, name):
        call.check("RevokeSecurityGroupIngress")
        await self.backends.securityGroups.revokeIngress(
            call.context, [self._permission(call)], groupName=name
        )
        return await self._done(call, "security-groups", f"Removed a rule from {name}.")

    # -- floating addresses ------------------------------------------------

    async def _addressViews(self, call):
        records = await self.backends.network.describeFloatingIps(call.context)
        if call.context.isAdmin:
            records = [r for r in records if r.project_id == call.project]
        byId = {}
        for instance in await self.backends.compute.describeInstances(call.context):
            byId[instance.id] = instance.ec2Id
        return [
            {
                "id": r.address,
                "recordId": r.id,
                "state": "associated" if r.instance_id else "available",
                "instance": byId.get(r.instance_id, "") if r.instance_id else "",
                "fixed": r.fixed_address or "",
            }
            for r in records
        ]

    async def addresses(self, call):
        call.check("DescribeAddresses")
        views = await self._addressViews(call)
        instances = await self._instanceViews(call)
        return self.page(
            call,
            "addresses.html",
            addresses=views,
            instances=[i for i in instances if i["state"] == "running"],
        )

    async def addressesJSON(self, call):
        call.check("DescribeAddresses")
        return self._json({"addresses": await self._addressViews(call)})

    async def allocateAddress(self, call):
        call.check("AllocateAddress")
        address = await self.backends.network.allocateFloatingIp(call.context)
        return await self._done(call, "addresses", f"Allocated {address}.")

    async def addressAction(self, call, address, action):
        network = self.backends.network
        if action == "associate":
            call.check("AssociateAddress")
            instance = await self.backends.compute.getInstance(
                call.context, call.field("instance")
            )
            await network.associateFloatingIp(call.context, address, instance.id)
            message = f"Associated {address} with {instance.ec2Id}."
        elif action == "disassociate":
            call.check("DisassociateAddress")
            await network.disassociateFloatingIp(call.context, address)
            message = f"Disassociated {address}."
        elif action == "release":
            call.check("ReleaseAddress")
            await network.releaseFloatingIp(call.context, address)
            message = f"Released {address}."
        else:
            raise PageNotFound(f"No address action {action}.")
        return await self._done(call, "addresses", message)

    # -- volumes and snapshots ---------------------------------------------

    async def _volumeRecords(self, call):
        volumes = await self.backends.volumes.describeVolumes(call.context)
        snapshots = await self.backends.volumes.describeSnapshots(call.context)
        if call.context.isAdmin:
            volumes = [v for v in volumes if v.project_id == call.project]
            snapshots = [s for s in snapshots if s.project_id == call.project]
        return volumes, snapshots

    async def volumesJSON(self, call):
        call.check("DescribeVolumes")
        volumes, snapshots = await self._volumeRecords(call)
        return self._json(
            {
                "volumes": [
                    {
                        "id": v.ec2Id,
                        "state": v.status,
                        "busy": v.status in _VOLUME_BUSY,
                        "attached": (
                            f"{v.instanceEc2Id} {v.mountpoint or ''}".strip()
                            if v.instance_id else ""
                        ),
                    }
                    for v in volumes
                ],
                "snapshots": [
                    {"id": s.ec2Id, "state": s.status, "busy": s.status in _VOLUME_BUSY}
                    for s in snapshots
                ],
            }
        )

    async def volumes(self, call):
        call.check("DescribeVolumes")
        volumes, snapshots = await self._volumeRecords(call)
        instances = [i for i in await self._instanceViews(call) if i["state"] == "running"]
        return self.page(
            call,
            "volumes.html",
            volumes=volumes,
            snapshots=snapshots,
            instances=instances,
            busy=_VOLUME_BUSY,
        )

    async def createVolume(self, call):
        call.check("CreateVolume")
        snapshotId = call.form.get("snapshot") or None
        size = call.form.get("size") or None
        if snapshotId is None and size is None:
            raise InvalidForm("Give a size or a snapshot.")
        record = await self.backends.volumes.createVolume(
            call.context, size=size, snapshotId=snapshotId,
            displayName=call.form.get("name") or None,
        )
        return await self._done(call, "volumes", f"Creating {record.ec2Id}.")

    async def volumeAction(self, call, volumeId, action):
        volumes = self.backends.volumes
        if action == "attach":
            call.check("AttachVolume")
            await volumes.attachVolume(
                call.context, volumeId, call.field("instance"), call.field("device")
            )
            message = f"Attaching {volumeId}."
        elif action == "detach":
            call.check("DetachVolume")
            await volumes.detachVolume(call.context, volumeId)
            message = f"Detaching {volumeId}."
        elif action == "delete":
            call.check("DeleteVolume")
            await volumes.deleteVolume(call.context, volumeId)
            message = f"Deleting {volumeId}."
        elif action == "snapshot":
            call.check("CreateSnapshot")
            record = await volumes.createSnapshot(
                call.context, volumeId, displayName=call.form.get("name") or None
            )
            message = f"Creating snapshot {record.ec2Id} of {volumeId}."
        else:
            raise PageNotFound(f"No volume action {action}.")
        return await self._done(call, "volumes", message)

    async def deleteSnapshot(self, call, snapshotId):
        call.check("DeleteSnapshot")
        await self.backends.volumes.deleteSnapshot(call.context, snapshotId)
        return await self._done(call, "volumes", f"Deleting snapshot {snapshotId}.")

    # -- quotas --------------------------------------------------------------

    async def quotas(self, call):
        call.check("DescribeAccountAttributes")
        backends = self.backends
        limits = await backends.compute.quotas.getQuota(call.project)
        instances = [
            i for i in await backends.compute.describeInstances(call.context)
            if i.project_id == call.project and i.state not in ("terminated", "shutting-down")
        ]
        volumes = [
            v for v in await backends.volumes.describeVolumes(call.context)
            if v.project_id == call.project
        ]
        floating = [
            f for f in await backends.network.describeFloatingIps(call.context)
            if f.project_id == call.project
        ]
        used = {
            "instances": len(instances),
            "cores": sum(i.vcpus or 0 for i in instances),
            "ram": sum(i.memory_mb or 0 for i in instances),
            "volumes": len(volumes),
            "gigabytes": sum(v.size or 0 for v in volumes),
            "floating_ips": len(floating),
        }
        rows = []
        for resource, count in used.items():
            limit = limits.get(resource)
            percent = None
            if limit is not None and limit >= 0:
                percent = 100 if limit == 0 else min(100, round(100 * count / limit))
            rows.append({"resource": resource, "used": count, "limit": limit, "percent": percent})
        return self.page(call, "quotas.html", rows=rows)

    # -- administration ----------------------------------------------------

    async def admin(self, call, created=None):
        if not call.context.isAdmin:
            raise Refused("Only the cloud's administrators may see this page.")
        authManager = self.authManager
        users = []
        for user in sorted(await authManager.getUsers(), key=lambda u: u.name):
            roles = await authManager.getUserRoles(user.name)
            users.append({"name": user.name, "admin": user.isAdmin, "roles": sorted(roles)})
        projects = []
        for project in sorted(await authManager.getProjects(), key=lambda p: p.name):
            members = []
            for member in project.memberIds:
                roles = await authManager.getUserRoles(member, project.name)
                members.append({"name": member, "roles": sorted(roles)})
            projects.append({"project": project, "members": members})
        zones = await self.backends.hosts.describeAvailabilityZones(call.context)
        services = [status for zone in zones for status in zone.services]
        hosts = await self.backends.hosts.describeHosts(call.context)
        return self.page(
            call,
            "admin.html",
            users=users,
            projects=projects,
            services=services,
            hosts=hosts,
            allRoles=ALLOWED_ROLES,
            created=created,
        )

    async def adminAction(self, call, action):
        """
        Users, projects, memberships and roles (administrators only), as
        C{nova-manage user/project/role} do.
        """
        if not call.context.isAdmin:
            raise Refused("Only the cloud's administrators may do this.")
        authManager = self.authManager
        form = call.form
        if action == "create-user":
            user = await authManager.createUser(
                call.field("name"), admin=form.get("admin") == "on"
            )
            # The keys are shown once, on this answer, and kept nowhere else.
            return await self.admin(call, created=user)
        if action == "delete-user":
            name = call.field("name")
            if name == call.session.userName:
                raise InvalidForm("You cannot delete yourself.")
            await authManager.deleteUser(name)
            message = f"Deleted user {name}."
        elif action == "create-project":
            name = call.field("name")
            await authManager.createProject(
                name, call.field("manager"), form.get("description") or None
            )
            message = f"Created project {name}."
        elif action == "delete-project":
            name = call.field("name")
            await authManager.deleteProject(name)
            message = f"Deleted project {name}."
        elif action in ("add-member", "remove-member"):
            user, project = call.field("user"), call.field("project")
            if action == "add-member":
                await authManager.addToProject(user, project)
                message = f"Added {user} to {project}."
            else:
                await authManager.removeFromProject(user, project)
                message = f"Removed {user} from {project}."
        elif action in ("grant-role", "revoke-role"):
            user, role = call.field("user"), call.field("role")
            project = form.get("project") or None
            where = f" in {project}" if project else " globally"
            if action == "grant-role":
                await authManager.addRole(user, role, project)
                message = f"Granted {role} to {user}{where}."
            else:
                await authManager.removeRole(user, role, project)
                message = f"Revoked {role} from {user}{where}."
        else:
            raise PageNotFound(f"No administration action {action}.")
        return await self._done(call, "admin", message)


class _Page(Resource):
    """
    Every dashboard page: hands the request to L{Dashboard.handle} and
    writes its L{Response}.
    """

    isLeaf = True

    def __init__(self, dashboard, segments):
        super().__init__()
        self.dashboard = dashboard
        self.segments = segments

    def render(self, request):
        segments = [
            s.decode("utf-8", "replace") for s in self.segments + list(request.postpath)
        ]
        while segments and segments[-1] == "":
            segments.pop()
        finished = []
        request.notifyFinish().addBoth(finished.append)
        if int(request.getHeader(b"content-length") or 0) > MAX_FORM_BYTES:
            self._write(request, self.dashboard._errorPage(Call(request, None), 413,
                                                           "The form is too large."))
            return NOT_DONE_YET
        d = ensureDeferred(self.dashboard.handle(request, segments))

        def failed(failure):
            if self.dashboard.outages.failed(failure):
                # Reading the session or the user's roles found the
                # database or the broker out: logged once per outage.
                route = matchRoute(request.method.decode("ascii", "replace"), segments)
                asJSON = route is not None and route[0].endswith("JSON")
                return self.dashboard.unavailable(Call(request, None), asJSON)
            log.failure("dashboard request {path} failed", failure, path="/".join(segments))
            if failure.check(NovaError):
                # A back-end (the session cache, the auth driver) failed.
                return self.dashboard._errorPage(
                    Call(request, None), 503, str(failure.value) or failure.value.__doc__
                )
            return Response(500, b"<!doctype html><title>Error</title>"
                            b"<p>The dashboard failed to answer; the logs say why.</p>")

        d.addErrback(failed)
        d.addCallback(lambda response: None if finished else self._write(request, response))
        return NOT_DONE_YET

    def _write(self, request, response):
        request.setResponseCode(response.status)
        request.setHeader(b"Content-Type", response.contentType)
        for name, value in _SECURITY_HEADERS.items():
            request.setHeader(name, value)
        for name, value in response.headers.items():
            request.setHeader(name, value)
        request.setHeader(b"Content-Length", str(len(response.body)).encode("ascii"))
        if request.method != b"HEAD":
            request.write(response.body)
        request.finish()


class _Static(File):
    """
    The dashboard's files: JavaScript modules with their MIME type, no
    directory listings.
    """

    contentTypes = dict(File.contentTypes, **{".js": "text/javascript", ".mjs": "text/javascript"})

    def directoryListing(self):
        return NoResource("No such file.")


class DashboardResource(Resource):
    """
    The dashboard's URL space: C{static/} (files) and every page.
    """

    def __init__(self, dashboard):
        super().__init__()
        self.dashboard = dashboard
        self.putChild(b"static", _Static(dashboard.staticPath))

    def getChild(self, name, request):
        return _Page(self.dashboard, [name])

    def render(self, request):
        return _Page(self.dashboard, []).render(request)


_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")


def checkPath(path):
    """
    @raise ConfigError: unless C{path} is a usable C{--dashboard_path}.
    """
    segments = [s for s in path.strip("/").split("/") if s] if path.startswith("/") else None
    if segments is None or any(
        not _SEGMENT.match(s) or s in (".", "..") for s in segments
    ) or "//" in path:
        raise ConfigError(
            f"--dashboard_path={path!r}: give a path such as /dashboard (segments of "
            "letters, digits, '-', '_' and '.'), or / for the whole port"
        )


#: First path segments the OpenStack API's port uses: the dashboard cannot
#: take them when it shares that port.
API_SEGMENTS = frozenset(
    {"v1.0", "v1.1", "v2", "v2.0", "v2.1", "v3", "image", "websockify", "compute"}
)


def checkFlags(config):
    """
    Check the dashboard's flags before anything starts.

    @raise ConfigError: for an unusable C{--dashboard_path}, or one that
        cannot share the OpenStack API's port when C{--dashboard_port} is 0.
    """
    checkPath(config.dashboard_path)
    if config.dashboard_port == 0:
        segments = [s for s in config.dashboard_path.strip("/").split("/") if s]
        if not segments:
            raise ConfigError(
                "--dashboard_path=/ needs a port of its own: set --dashboard_port too"
            )
        if segments[0] in API_SEGMENTS:
            raise ConfigError(
                f"--dashboard_path={config.dashboard_path!r} is taken by the OpenStack API "
                "on its port: choose another path, or set --dashboard_port"
            )


def dashboardResource(config, backends, authManager, clock, staticPath=STATIC, sessions=None):
    """
    Build the dashboard over nova-api's service APIs.

    @param sessions: the L{nova.api.dashboard.sessions.SessionStore}; by
        default one in C{authManager}'s cache, lasting
        C{--dashboard_session_ttl} idle seconds.
    @return: the L{DashboardResource} to mount at C{--dashboard_path}.
    """
    from nova.api.dashboard.sessions import SessionStore

    checkPath(config.dashboard_path)
    if sessions is None:
        sessions = SessionStore(authManager.cache, config.dashboard_session_ttl)
    return DashboardResource(
        Dashboard(config, backends, authManager, sessions, clock, staticPath)
    )


class _Redirect(Resource):
    isLeaf = True

    def __init__(self, location):
        super().__init__()
        self.location = location

    def render(self, request):
        request.redirect(self.location)
        return b""


def mountDashboard(root, config, resource):
    """
    Put the dashboard's C{resource} at C{--dashboard_path} under C{root}
    (the OpenStack API's root, when they share a port).

    @raise ConfigError: for the path C{/}, or one whose first segment the
        API under C{root} uses.
    """
    segments = [s.encode("ascii") for s in config.dashboard_path.strip("/").split("/") if s]
    if not segments:
        raise ConfigError(
            "--dashboard_path=/ needs a port of its own: set --dashboard_port too"
        )
    parent = root
    for index, segment in enumerate(segments[:-1]):
        child = parent.children.get(segment)
        if child is None:
            child = Resource()
            parent.putChild(segment, child)
        elif index == 0 and parent is root:
            raise ConfigError(f"--dashboard_path={config.dashboard_path!r} is taken by the API")
        parent = child
    if segments[-1] in parent.children:
        raise ConfigError(f"--dashboard_path={config.dashboard_path!r} is taken by the API")
    parent.putChild(segments[-1], resource)


def dashboardSite(config, backends, authManager, clock, staticPath=STATIC, sessions=None):
    """
    @param sessions: as L{dashboardResource}'s.
    @return: the L{Resource} tree of a port of the dashboard's own: the
        dashboard at C{--dashboard_path}, and C{/} sending browsers there.
    """
    resource = dashboardResource(config, backends, authManager, clock, staticPath, sessions)
    if not config.dashboard_path.strip("/"):
        return resource
    root = Resource()
    mountDashboard(root, config, resource)
    root.putChild(b"", _Redirect(("/" + config.dashboard_path.strip("/") + "/").encode("ascii")))
    return root
