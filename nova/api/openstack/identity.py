# -*- test-case-name: tests.api.openstack.test_identity -*-
"""
The small identity endpoint today's OpenStack clients log in with:
Keystone's v3 password and application credential authentication
(C{POST /v3/auth/tokens}) and its v2.0 password form (C{POST
/v2.0/tokens}) for older clients, with the version documents they
discover first.

Nova's users and projects are the identity: the user name is the user
name, the password is the user's secret key (the one that signs EC2
requests), the project is a Nova project the user is a member of (any
project, for superusers).  There is one domain, C{Default} (id
C{default}).  An application credential is the EC2 key pair itself: its
id (or name) is the access key, its secret the secret key; an access key
written C{access:project} is bound to that project, as in EC2.  Wrong
passwords and secrets are counted like wrong EC2 signatures, and a
locked access key cannot log in either.

A token is random, kept (as its SHA-256) in the C{auth_tokens} table
for C{--auth_token_ttl} seconds, and names the user and project; the
catalog it comes with lists the compute API (C{/v2.1}), the image API
(C{/image}), the network API's floating address subset (C{/network}),
the identity API itself, and the EC2 and S3 APIs.
"""

import hmac
from http import HTTPStatus

from nova.api.openstack import faults
from nova.api.openstack.resource import Response, Router, contextOfToken, header, route
from nova.auth import interfaces as authInterfaces
from nova.auth import signer

#: The C{POST /v3/auth/tokens} methods: the password and application
#: credentials.
PASSWORD = "password"
APPLICATION_CREDENTIAL = "application_credential"

DOMAIN = {"id": "default", "name": "Default"}

REGION = "RegionOne"

#: The identity API version this endpoint speaks.
V3_VERSION = "v3.14"
V3_UPDATED = "2020-04-07T00:00:00Z"


def isoformat(when):
    """
    @param when: a naive UTC L{datetime}.
    @return: Keystone's C{2011-01-01T00:00:00.000000Z}.
    """
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def v3VersionEntry(base):
    return {
        "id": V3_VERSION,
        "status": "stable",
        "updated": V3_UPDATED,
        "links": [{"rel": "self", "href": f"{base}/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
        ],
    }


def v2VersionEntry(base):
    return {
        "id": "v2.0",
        "status": "deprecated",
        "updated": "2016-08-04T00:00:00Z",
        "links": [{"rel": "self", "href": f"{base}/v2.0/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v2.0+json"}
        ],
    }


def catalogEntries(config, base):
    """
    @param base: C{http://<osapi_host>:<port>}.
    @return: C{(type, name, url)} of each service in the catalog.
    """
    ec2 = f"{config.ec2_scheme}://{config.ec2_host}:{config.ec2_port}{config.ec2_path}"
    s3 = f"http://{config.s3_host}:{config.s3_port}"
    return [
        ("compute", "nova", f"{base}/v2.1"),
        ("image", "glance", f"{base}/image"),
        ("network", "neutron", f"{base}/network"),
        ("identity", "keystone", f"{base}/v3"),
        ("ec2", "ec2", ec2),
        ("s3", "s3", s3),
    ]


def v3Catalog(config, base):
    catalog = []
    for kind, name, url in catalogEntries(config, base):
        endpoints = [
            {
                "id": f"{name}-{interface}",
                "interface": interface,
                "region": REGION,
                "region_id": REGION,
                "url": url,
            }
            for interface in ("public", "internal", "admin")
        ]
        catalog.append({"id": name, "type": kind, "name": name, "endpoints": endpoints})
    return catalog


def v2Catalog(config, base):
    return [
        {
            "type": kind,
            "name": name,
            "endpoints": [
                {
                    "id": name,
                    "region": REGION,
                    "publicURL": url,
                    "internalURL": url,
                    "adminURL": url,
                }
            ],
            "endpoints_links": [],
        }
        for kind, name, url in catalogEntries(config, base)
    ]


def _roles(context):
    roles = set(context.roles) if context is not None else set()
    # Keystone's default roles, so that clients' policies see a member.
    roles.add("member")
    roles.add("reader")
    if context is not None and context.isAdmin:
        roles.add("admin")
    return [{"id": role, "name": role} for role in sorted(roles)]


def _name(value, what):
    if not isinstance(value, str) or not value:
        raise faults.BadRequest(f"Expecting to find {what} in the request.")
    return value


def _refused():
    """
    @return: the one fault every failed login gets (the log says why).
    """
    return faults.Unauthorized("The request you have made requires authentication.")


def _secretMatches(given, secretKey):
    """
    @return: whether C{given} (anything a client sent) is C{secretKey},
        compared in constant time.
    """
    return isinstance(given, str) and hmac.compare_digest(
        given.encode("utf-8"), secretKey.encode("utf-8")
    )


def _requestedProject(auth):
    """
    @param auth: the C{auth} object of a C{POST /v3/auth/tokens} body.
    @return: the name of the project its C{scope} names, or L{None} when
        it names none (or is C{unscoped}).
    @raise faults.BadRequest: for a malformed scope.
    @raise faults.Unauthorized: for a scope other than a project's (a
        domain or the system), or another domain's project.
    """
    scope = auth.get("scope")
    if scope is None or scope == "unscoped":
        return None
    if not isinstance(scope, dict):
        raise faults.BadRequest("The scope must be an object.")
    if "project" not in scope:
        raise faults.Unauthorized("Only project scopes are supported.")
    project = scope["project"]
    if not isinstance(project, dict):
        raise faults.BadRequest("The project scope must be an object.")
    _checkDomain(project, "project")
    return _name(project.get("name") or project.get("id"), "project name")


def _checkDomain(thing, what):
    """
    The only domain is C{Default} (id C{default}): refuse others.
    """
    domain = thing.get("domain")
    if domain is None:
        return
    if not isinstance(domain, dict):
        raise faults.BadRequest(f"The {what} domain must be an object.")
    if domain.get("id") not in (None, DOMAIN["id"]) or domain.get("name") not in (
        None,
        DOMAIN["name"],
    ):
        raise faults.Unauthorized("The request you have made requires authentication.")


class IdentityRouter(Router):
    """
    C{/v3} and C{/v2.0}, mounted on the OpenStack site's root; C{/} (the
    versions list) is the site root's (L{nova.api.openstack.site}).
    """

    def faultBody(self, fault):
        """
        Keystone's error document, which identity clients parse (keystoneauth
        reads C{error.message}): C{{"error": {"code": 401, "title":
        "Unauthorized", "message": ...}}}.
        """
        try:
            title = HTTPStatus(fault.status).phrase
        except ValueError:
            title = fault.name
        return {"error": {"code": fault.status, "title": title, "message": fault.message}}

    # versions

    @route("GET", "v3", public=True)
    async def v3Version(self, call):
        return Response({"version": v3VersionEntry(call.baseURL())})

    @route("GET", "v2.0", public=True)
    async def v2Version(self, call):
        return Response({"version": v2VersionEntry(call.baseURL())})

    # authentication

    async def _checkSecret(self, request, user, given, what):
        """
        Check what a client sent for a user's secret key, counting a wrong
        one towards the access key's lockout (for the client's address).

        @param user: the L{nova.auth.interfaces.User}.
        @param given: the password or application credential secret sent.
        @param what: what it is, for the log.
        @return: the client's address.
        @raise faults.Unauthorized: if the access key is locked for that
            address, or C{given} is wrong.
        """
        authManager = self.backends.authManager
        remote = getattr(request.getClientAddress(), "host", None)
        if await authManager._isLocked(user.accessKey, remote):
            authManager.log.warn(
                "OpenStack API login of {user} refused: its access key is locked", user=user.name
            )
            raise _refused()
        if not _secretMatches(given, user.secretKey):
            await authManager.recordFailedSignature(user.accessKey, remote)
            authManager.log.warn(
                "OpenStack API login of {user} from {remoteAddress} failed: wrong {what}",
                user=user.name,
                remoteAddress=remote,
                what=what,
            )
            raise _refused()
        return remote

    async def _login(self, request, userName, password, projectName):
        """
        Check a user name and password (the secret key) and scope to a
        project.

        @param projectName: a project name, or L{None} for the project
            named like the user if the user may act there (else an
            unscoped token).
        @return: C{(token record, context or None)}.
        @raise faults.Unauthorized: on any failure (the reason is logged,
            not told).
        """
        authManager = self.backends.authManager
        try:
            user = await authManager.getUser(userName)
        except authInterfaces.UserNotFound:
            raise _refused() from None
        remote = await self._checkSecret(request, user, password, "password")
        defaulted = projectName is None
        if defaulted:
            projectName = user.name
        try:
            context = await authManager.contextFor(
                user, projectName, remoteAddress=remote
            )
        except (authInterfaces.NotProjectMember, authInterfaces.ProjectNotFound):
            if not defaulted:
                raise _refused() from None
            context = None
        record = await self.tokens.create(
            user.name, None if context is None else context.projectId, self.config.auth_token_ttl
        )
        return record, context

    async def _credentialUser(self, credential):
        """
        The user and access key an application credential names: by
        C{id} (the access key, perhaps C{access:project}), or by C{name}
        (the same) and C{user} (C{name} or C{id}, both the user name).

        @param credential: the C{application_credential} object of a
            C{POST /v3/auth/tokens} body.
        @return: C{(user, access key, bound project name or None)}.
        @raise faults.BadRequest: if it names neither.
        @raise faults.Unauthorized: for an unknown credential or user, or
            a name that is not the user's access key.
        """
        authManager = self.backends.authManager
        credentialId = credential.get("id")
        if credentialId is None:
            accessKey = _name(credential.get("name"), "application credential id or name")
            owner = credential.get("user")
            if not isinstance(owner, dict):
                raise faults.BadRequest(
                    "Expecting to find user in an application credential named by name."
                )
            _checkDomain(owner, "user")
            userName = _name(owner.get("name") or owner.get("id"), "user name")
        else:
            accessKey = _name(credentialId, "application credential id")
            userName = None
        try:
            access, projectName = signer.splitAccessKey(accessKey)
        except signer.AuthFailure:
            raise _refused() from None
        try:
            if userName is None:
                user = await authManager.getUserFromAccessKey(access)
            else:
                user = await authManager.getUser(userName)
        except authInterfaces.UserNotFound:
            raise _refused() from None
        if not hmac.compare_digest(access.encode("utf-8"), user.accessKey.encode("utf-8")):
            raise _refused()
        return user, accessKey, projectName

    async def _credentialProject(self, user, boundProject):
        """
        The project an application credential acts in: the one its
        access key is bound to (C{access:project}), else the one named
        like the user if the user is a member (as the access key alone
        means in EC2), else the first of the user's projects by name.

        @return: the project name, or L{None} if the user is in none.
        """
        if boundProject is not None:
            return boundProject
        projects = sorted(
            p.name for p in await self.backends.authManager.getProjects(user.name)
        )
        if user.name in projects:
            return user.name
        return projects[0] if projects else None

    async def _loginWithCredential(self, request, credential, requestedProject):
        """
        Check an application credential and scope to its project.

        @param requestedProject: the project the request's scope names,
            or L{None}; if given, it must be the credential's.
        @return: C{(token record, context, credential id)}.
        @raise faults.Unauthorized: on any failure (the reason is logged,
            not told).
        """
        authManager = self.backends.authManager
        user, accessKey, boundProject = await self._credentialUser(credential)
        remote = await self._checkSecret(
            request, user, credential.get("secret"), "application credential secret"
        )
        projectName = await self._credentialProject(user, boundProject)
        if projectName is None or requestedProject not in (None, projectName):
            authManager.log.warn(
                "OpenStack API login of {user} refused: its application credential "
                "acts in {project}, not {requested}",
                user=user.name,
                project=projectName,
                requested=requestedProject,
            )
            raise _refused()
        try:
            context = await authManager.contextFor(user, projectName, remoteAddress=remote)
        except (authInterfaces.NotProjectMember, authInterfaces.ProjectNotFound):
            raise _refused() from None
        record = await self.tokens.create(
            user.name, context.projectId, self.config.auth_token_ttl
        )
        return record, context, accessKey

    def _v3Token(self, call, record, context, userName, method=PASSWORD, credentialId=None):
        """
        @param method: how the user logged in (L{PASSWORD} or
            L{APPLICATION_CREDENTIAL}).
        @param credentialId: the application credential's id (the access
            key), for L{APPLICATION_CREDENTIAL}.
        @return: Keystone's token body.
        """
        token = {
            "methods": [method],
            "user": {"id": userName, "name": userName, "domain": DOMAIN, "password_expires_at": None},
            "audit_ids": [record.token[:22] if record.token else ""],
            "issued_at": isoformat(record.created_at),
            "expires_at": isoformat(record.expires_at),
        }
        if record.project_id is not None:
            token["project"] = {
                "id": record.project_id,
                "name": record.project_id,
                "domain": DOMAIN,
            }
            token["is_domain"] = False
            token["roles"] = _roles(context)
            token["catalog"] = v3Catalog(self.config, call.baseURL())
        if method == APPLICATION_CREDENTIAL:
            token["application_credential"] = {
                "id": credentialId,
                "name": credentialId,
                "restricted": True,
            }
        return {"token": token}

    @route("POST", "v3/auth/tokens", public=True)
    async def createToken(self, call):
        """
        Log in with the C{password} or the C{application_credential}
        method.
        """
        body = call.body
        if not isinstance(body, dict) or not isinstance(body.get("auth"), dict):
            raise faults.BadRequest("Expecting to find auth in the request body.")
        auth = body["auth"]
        identity = auth.get("identity")
        if not isinstance(identity, dict):
            raise faults.BadRequest("Expecting to find identity in auth.")
        methods = identity.get("methods")
        if not isinstance(methods, list) or not methods:
            raise faults.BadRequest("Expecting to find methods in identity.")
        if methods == [APPLICATION_CREDENTIAL]:
            credential = identity.get(APPLICATION_CREDENTIAL)
            if not isinstance(credential, dict):
                raise faults.BadRequest(
                    "Expecting to find application_credential in identity."
                )
            record, context, credentialId = await self._loginWithCredential(
                call.request, credential, _requestedProject(auth)
            )
            return Response(
                self._v3Token(
                    call, record, context, record.user_id, APPLICATION_CREDENTIAL, credentialId
                ),
                201,
                {"X-Subject-Token": record.token},
            )
        if methods != [PASSWORD]:
            raise faults.Unauthorized(
                "Only the password and application_credential methods are supported."
            )
        password = identity.get("password")
        if not isinstance(password, dict) or not isinstance(password.get("user"), dict):
            raise faults.BadRequest("Expecting to find user in password.")
        user = password["user"]
        _checkDomain(user, "user")
        userName = user.get("name") or user.get("id")
        _name(userName, "user name")
        projectName = _requestedProject(auth)
        record, context = await self._login(
            call.request, userName, user.get("password"), projectName
        )
        return Response(
            self._v3Token(call, record, context, userName),
            201,
            {"X-Subject-Token": record.token},
        )

    async def _subject(self, call):
        subject = header(call.request, "x-subject-token")
        if not subject:
            raise faults.ItemNotFound("Could not find token: no X-Subject-Token.")
        record = await self.tokens.get(subject)
        if record is None:
            raise faults.ItemNotFound("Could not find token.")
        return subject, record

    @route("GET", "v3/auth/tokens")
    async def validateToken(self, call):
        subject, record = await self._subject(call)
        if record.user_id != call.context.userId and not call.context.isAdmin:
            raise faults.Forbidden("You may validate only your own tokens.")
        context = await contextOfToken(
            self.backends.authManager, record, call.request, call.context.requestId
        ) if record.project_id is not None else None
        shown = record.__class__(
            subject, record.user_id, record.project_id, record.created_at, record.expires_at
        )
        return Response(
            self._v3Token(call, shown, context, record.user_id), 200, {"X-Subject-Token": subject}
        )

    @route("DELETE", "v3/auth/tokens")
    async def revokeToken(self, call):
        subject, record = await self._subject(call)
        if record.user_id != call.context.userId and not call.context.isAdmin:
            raise faults.Forbidden("You may revoke only your own tokens.")
        await self.tokens.delete(subject)
        return Response(None, 204)

    @route("GET", "v3/auth/catalog")
    async def catalog(self, call):
        return Response({"catalog": v3Catalog(self.config, call.baseURL())})

    @route("GET", "v3/auth/projects")
    async def authProjects(self, call):
        projects = await self.backends.authManager.getProjects(call.context.userId)
        return Response(
            {
                "projects": [
                    {
                        "id": p.name,
                        "name": p.name,
                        "domain_id": DOMAIN["id"],
                        "description": p.description,
                        "enabled": True,
                        "is_domain": False,
                        "parent_id": DOMAIN["id"],
                    }
                    for p in projects
                ]
            }
        )

    # v2.0

    @route("POST", "v2.0/tokens", public=True)
    async def createTokenV2(self, call):
        body = call.body
        if not isinstance(body, dict) or not isinstance(body.get("auth"), dict):
            raise faults.BadRequest("Expecting to find auth in the request body.")
        auth = body["auth"]
        credentials = auth.get("passwordCredentials")
        if not isinstance(credentials, dict):
            raise faults.Unauthorized("Only passwordCredentials are supported.")
        userName = _name(credentials.get("username"), "username")
        projectName = auth.get("tenantName") or auth.get("tenantId")
        if projectName is not None:
            _name(projectName, "tenantName")
        record, context = await self._login(
            call.request, userName, credentials.get("password"), projectName
        )
        access = {
            "token": {
                "id": record.token,
                "issued_at": isoformat(record.created_at),
                "expires": record.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "audit_ids": [record.token[:22]],
            },
            "user": {
                "id": userName,
                "name": userName,
                "username": userName,
                "roles": [{"name": r["name"]} for r in _roles(context)],
                "roles_links": [],
            },
            "serviceCatalog": [],
            "metadata": {"is_admin": 0, "roles": []},
        }
        if record.project_id is not None:
            access["token"]["tenant"] = {
                "id": record.project_id,
                "name": record.project_id,
                "enabled": True,
                "description": None,
            }
            access["serviceCatalog"] = v2Catalog(self.config, call.baseURL())
        return Response({"access": access}, 200)



def openrc(config, user, project):
    """
    The shell file that sets up today's OpenStack clients (the
    C{openstack} command, openstacksdk) for a user in a project:
    C{nova-manage project environment} writes it beside C{novarc}.

    @param user: the L{nova.auth.interfaces.User}; its secret key is the
        password.
    @param project: the project's name.
    @return: the text of C{openrc}.
    """
    import shlex

    q = shlex.quote
    return "\n".join(
        [
            f"# OpenStack credentials of user {user.name} in project {project}.",
            "# Load them into a shell with: . openrc",
            f"export OS_AUTH_URL={q(f'http://{config.osapi_host}:{config.osapi_port}/v3')}",
            f"export OS_USERNAME={q(user.name)}",
            f"export OS_PASSWORD={q(user.secretKey)}",
            f"export OS_PROJECT_NAME={q(project)}",
            "export OS_USER_DOMAIN_NAME=Default",
            "export OS_PROJECT_DOMAIN_NAME=Default",
            "export OS_IDENTITY_API_VERSION=3",
            f"export OS_REGION_NAME={REGION}",
            "",
        ]
    )
