"""
Tests for L{nova.api.openstack.identity}: logging in with Keystone's v3
password and application credential authentication and v2.0 password
authentication, tokens, version documents.
"""

from twisted.logger import globalLogPublisher
from twisted.trial.unittest import TestCase

from tests.api.ec2.cloud import ALICE, BOB, CAROL, ROOT
from tests.api.openstack.support import OpenStackCloudMixin, passwordAuth


def credentialAuth(secret, credentialId=None, name=None, user=None, projectName=None):
    """
    @return: a C{POST /v3/auth/tokens} body of the C{application_credential}
        method: by C{credentialId}, or by C{name} and C{user} (a
        C{{"name"|"id": ...}} object).
    """
    credential = {"secret": secret}
    if credentialId is not None:
        credential["id"] = credentialId
    if name is not None:
        credential["name"] = name
    if user is not None:
        credential["user"] = user
    auth = {
        "identity": {"methods": ["application_credential"], "application_credential": credential}
    }
    if projectName is not None:
        auth["scope"] = {"project": {"name": projectName, "domain": {"name": "Default"}}}
    return {"auth": auth}


class IdentityTests(OpenStackCloudMixin, TestCase):
    async def setUp(self):
        await self.startOpenStack()

    async def test_v3Token(self):
        """
        The user name and secret key, scoped to a project, give a token in
        X-Subject-Token (201) and a body with the user, project, roles and
        a catalog naming the compute, image, network, identity, EC2 and S3
        APIs.
        """
        status, headers, body = await self.call(
            "POST", "/v3/auth/tokens", passwordAuth(ALICE.name, ALICE.secret, ALICE.name)
        )
        self.assertEqual(status, 201, body)
        self.assertTrue(headers["x-subject-token"])
        token = body["token"]
        self.assertEqual(token["methods"], ["password"])
        self.assertEqual(token["user"]["name"], "alice")
        self.assertEqual(token["user"]["domain"], {"id": "default", "name": "Default"})
        self.assertEqual(token["project"]["name"], "alice")
        self.assertIn("projectmanager", [r["name"] for r in token["roles"]])
        urls = {
            entry["type"]: entry["endpoints"][0]["url"] for entry in token["catalog"]
        }
        base = f"http://127.0.0.1:{self.osPort}"
        self.assertEqual(urls["compute"], f"{base}/v2.1")
        self.assertEqual(urls["image"], f"{base}/image")
        self.assertEqual(urls["network"], f"{base}/network")
        self.assertEqual(urls["identity"], f"{base}/v3")
        self.assertIn("ec2", urls)
        self.assertIn("s3", urls)
        self.assertTrue(token["expires_at"].endswith("Z"))

    async def test_tokenExpiresAfterTTL(self):
        """
        A token is valid for --auth_token_ttl seconds (2 days by default).
        """
        token = await self.login()
        record = await self.db.tokens.get(token)
        self.assertEqual((record.expires_at - record.created_at).total_seconds(), 2 * 24 * 3600)
        self.assertEqual((record.user_id, record.project_id), ("alice", "alice"))

    async def test_wrongPassword(self):
        for body in (
            passwordAuth(ALICE.name, "wrong", ALICE.name),
            passwordAuth("nobody", "x", ALICE.name),
            passwordAuth(BOB.name, BOB.secret, "root"),
            passwordAuth(ALICE.name, ALICE.secret, "no-such-project"),
        ):
            status, _, answer = await self.call("POST", "/v3/auth/tokens", body)
            self.assertEqual(status, 401, answer)
            self.assertEqual(answer["error"]["code"], 401)

    async def test_lockout(self):
        """
        Wrong passwords count towards the access key's lockout: once it is
        locked, the right password is refused too.
        """
        for _ in range(self.config.lockout_attempts):
            status, _, _ = await self.call(
                "POST", "/v3/auth/tokens", passwordAuth(ALICE.name, "wrong", ALICE.name)
            )
            self.assertEqual(status, 401)
        status, _, body = await self.call(
            "POST", "/v3/auth/tokens", passwordAuth(ALICE.name, ALICE.secret, ALICE.name)
        )
        self.assertEqual(status, 401, body)

    async def test_memberOfOtherProject(self):
        """
        bob is a member of alice: he may scope to it; root (a superuser)
        may scope to any project.
        """
        for user, project in ((BOB, "alice"), (ROOT, "bob")):
            status, _, body = await self.call(
                "POST", "/v3/auth/tokens", passwordAuth(user.name, user.secret, project)
            )
            self.assertEqual(status, 201, body)
            self.assertEqual(body["token"]["project"]["id"], project)

    async def test_unscopedDefaultsToOwnProject(self):
        status, _, body = await self.call(
            "POST", "/v3/auth/tokens", passwordAuth(ALICE.name, ALICE.secret)
        )
        self.assertEqual(status, 201, body)
        self.assertEqual(body["token"]["project"]["name"], "alice")

    async def test_malformed(self):
        for body in (b"not json", {"auth": 1}, {"auth": {"identity": {"methods": []}}}, [1]):
            status, _, answer = await self.call("POST", "/v3/auth/tokens", body)
            self.assertEqual(status, 400, answer)
            self.assertEqual(list(answer), ["error"])
            self.assertEqual(answer["error"]["code"], 400)
            self.assertEqual(answer["error"]["title"], "Bad Request")

    async def test_otherDomain(self):
        body = passwordAuth(ALICE.name, ALICE.secret, ALICE.name)
        body["auth"]["identity"]["password"]["user"]["domain"] = {"name": "Other"}
        status, _, answer = await self.call("POST", "/v3/auth/tokens", body)
        self.assertEqual(status, 401, answer)

    async def test_validateAndRevoke(self):
        token = await self.login()
        other = await self.login()
        status, headers, body = await self.call(
            "GET", "/v3/auth/tokens", token=token, headers={"X-Subject-Token": other}
        )
        self.assertEqual(status, 200, body)
        self.assertEqual(body["token"]["project"]["name"], "alice")
        status, _, _ = await self.call(
            "DELETE", "/v3/auth/tokens", token=token, headers={"X-Subject-Token": other}
        )
        self.assertEqual(status, 204)
        status, _, body = await self.call("GET", "/v2.1/flavors", token=other)
        self.assertEqual(status, 401, body)

    async def test_v2Token(self):
        status, _, body = await self.call(
            "POST",
            "/v2.0/tokens",
            {
                "auth": {
                    "passwordCredentials": {"username": "alice", "password": ALICE.secret},
                    "tenantName": "alice",
                }
            },
        )
        self.assertEqual(status, 200, body)
        access = body["access"]
        self.assertEqual(access["token"]["tenant"]["name"], "alice")
        types = {entry["type"] for entry in access["serviceCatalog"]}
        self.assertEqual(types, {"compute", "image", "network", "identity", "ec2", "s3"})
        status, _, flavors = await self.call("GET", "/v2/flavors", token=access["token"]["id"])
        self.assertEqual(status, 200, flavors)

    async def test_versions(self):
        status, _, body = await self.call("GET", "/v3")
        self.assertEqual(status, 200)
        self.assertEqual(body["version"]["id"], "v3.14")
        self.assertEqual(body["version"]["status"], "stable")
        status, _, body = await self.call("GET", "/")
        self.assertEqual(status, 200)
        versions = {v["id"]: v for v in body["versions"]}
        self.assertEqual(
            [v["id"] for v in body["versions"]], ["v1.0", "v1.1", "v2.0", "v2.1", "v3.14"]
        )
        self.assertEqual(
            {name: v["status"] for name, v in versions.items() if name != "v3.14"},
            {"v1.0": "DEPRECATED", "v1.1": "DEPRECATED", "v2.0": "SUPPORTED", "v2.1": "CURRENT"},
        )
        self.assertEqual(
            versions["v1.1"]["links"],
            [{"rel": "self", "href": f"http://127.0.0.1:{self.osPort}/v1.1/"}],
        )

    async def test_unknownPath(self):
        status, _, body = await self.call("GET", "/nothing-here")
        self.assertEqual(status, 404)
        self.assertEqual(body["itemNotFound"]["code"], 404)

    async def test_missingOrUnknownToken(self):
        for token in (None, "bogus"):
            status, _, body = await self.call("GET", "/v2.1/servers", token=token)
            self.assertEqual(status, 401, body)
            self.assertIn("unauthorized", body)

    async def test_expiredToken(self):
        """
        Once expired, a token is refused; the store forgets it when the
        user next logs in.
        """
        record = await self.db.tokens.create("alice", "alice", ttl=-1)
        status, _, body = await self.call("GET", "/v2.1/flavors", token=record.token)
        self.assertEqual(status, 401, body)
        await self.login()
        self.assertEqual(await self.db.tokens.purgeExpired(), 0)


class ApplicationCredentialTests(OpenStackCloudMixin, TestCase):
    """
    The C{application_credential} method: the credential is the EC2 key
    pair (id or name = the access key, secret = the secret key).
    """

    async def setUp(self):
        await self.startOpenStack()

    async def test_byId(self):
        """
        The access key as id and the secret key give a token (201) of the
        application_credential method, scoped to the project named like
        the user, with the catalog; it works on the compute API.
        """
        status, headers, body = await self.call(
            "POST", "/v3/auth/tokens", credentialAuth(ALICE.secret, credentialId=ALICE.access)
        )
        self.assertEqual(status, 201, body)
        token = body["token"]
        self.assertEqual(token["methods"], ["application_credential"])
        self.assertEqual(token["user"]["name"], "alice")
        self.assertEqual(token["project"]["name"], "alice")
        self.assertEqual(token["application_credential"]["id"], ALICE.access)
        self.assertIn("projectmanager", [r["name"] for r in token["roles"]])
        self.assertIn("compute", [entry["type"] for entry in token["catalog"]])
        record = await self.db.tokens.get(headers["x-subject-token"])
        self.assertEqual((record.user_id, record.project_id), ("alice", "alice"))
        status, _, flavors = await self.call(
            "GET", "/v2.1/flavors", token=headers["x-subject-token"]
        )
        self.assertEqual(status, 200, flavors)

    async def test_byNameAndUser(self):
        """
        As Keystone allows, the credential may be named by C{name} (the
        access key) and its C{user}, by name or id.
        """
        for user in ({"name": BOB.name, "domain": {"name": "Default"}}, {"id": BOB.name}):
            status, _, body = await self.call(
                "POST", "/v3/auth/tokens", credentialAuth(BOB.secret, name=BOB.access, user=user)
            )
            self.assertEqual(status, 201, body)
            self.assertEqual(
                (body["token"]["user"]["name"], body["token"]["project"]["name"]), ("bob", "bob")
            )

    async def test_nameOfAnotherUser(self):
        """
        A name that is not the named user's access key is refused, even
        with that key's right secret.
        """
        status, _, body = await self.call(
            "POST",
            "/v3/auth/tokens",
            credentialAuth(ALICE.secret, name=ALICE.access, user={"name": BOB.name}),
        )
        self.assertEqual(status, 401, body)

    async def test_boundProject(self):
        """
        An access key bound to a project (C{access:project}, as in EC2)
        acts there; bound to a project the user is not in, it is
        refused.
        """
        status, _, body = await self.call(
            "POST",
            "/v3/auth/tokens",
            credentialAuth(BOB.secret, credentialId=f"{BOB.access}:alice"),
        )
        self.assertEqual(status, 201, body)
        self.assertEqual(body["token"]["project"]["name"], "alice")
        self.assertEqual(body["token"]["application_credential"]["id"], f"{BOB.access}:alice")
        status, _, body = await self.call(
            "POST",
            "/v3/auth/tokens",
            credentialAuth(ALICE.secret, credentialId=f"{ALICE.access}:bob"),
        )
        self.assertEqual(status, 401, body)

    async def test_firstProject(self):
        """
        A user without a project of his own name acts in the first of his
        projects: carol is only a member of alice.
        """
        status, _, body = await self.call(
            "POST", "/v3/auth/tokens", credentialAuth(CAROL.secret, credentialId=CAROL.access)
        )
        self.assertEqual(status, 201, body)
        self.assertEqual(body["token"]["project"]["name"], "alice")
        self.assertIn("netadmin", [r["name"] for r in body["token"]["roles"]])

    async def test_scope(self):
        """
        A scope naming the credential's own project is accepted; another
        project is refused, even one the user is a member of.
        """
        status, _, body = await self.call(
            "POST",
            "/v3/auth/tokens",
            credentialAuth(BOB.secret, credentialId=BOB.access, projectName="bob"),
        )
        self.assertEqual(status, 201, body)
        status, _, body = await self.call(
            "POST",
            "/v3/auth/tokens",
            credentialAuth(BOB.secret, credentialId=BOB.access, projectName="alice"),
        )
        self.assertEqual(status, 401, body)

    async def test_refused(self):
        """
        A wrong or missing secret, an unknown access key and an unknown
        user all get the same 401.
        """
        for body in (
            credentialAuth("wrong", credentialId=ALICE.access),
            credentialAuth(ALICE.access, credentialId=ALICE.access),
            {"auth": {"identity": {"methods": ["application_credential"],
                                   "application_credential": {"id": ALICE.access}}}},
            credentialAuth(ALICE.secret, credentialId="no-such-key"),
            credentialAuth(ALICE.secret, credentialId=":alice"),
            credentialAuth(ALICE.secret, name=ALICE.access, user={"name": "nobody"}),
        ):
            status, _, answer = await self.call("POST", "/v3/auth/tokens", body)
            self.assertEqual(status, 401, (body, answer))
            self.assertEqual(answer["error"]["code"], 401)

    async def test_malformed(self):
        """
        A method without its object, a name without a user, or neither id
        nor name is a bad request.
        """
        for credential in (None, "x", {"secret": "s"}, {"secret": "s", "name": ALICE.access}):
            identity = {"methods": ["application_credential"]}
            if credential is not None:
                identity["application_credential"] = credential
            status, _, answer = await self.call(
                "POST", "/v3/auth/tokens", {"auth": {"identity": identity}}
            )
            self.assertEqual(status, 400, (credential, answer))
            self.assertEqual(list(answer), ["error"])
            self.assertEqual(answer["error"]["code"], 400)
            self.assertEqual(answer["error"]["title"], "Bad Request")

    async def test_lockout(self):
        """
        Wrong secrets count towards the access key's lockout, shared with
        the password method and EC2: once locked, the right secret and
        the right password are refused too; the failure is logged.
        """
        logged = []
        globalLogPublisher.addObserver(logged.append)
        self.addCleanup(globalLogPublisher.removeObserver, logged.append)
        for _ in range(self.config.lockout_attempts):
            status, _, _ = await self.call(
                "POST", "/v3/auth/tokens", credentialAuth("wrong", credentialId=ALICE.access)
            )
            self.assertEqual(status, 401)
        self.assertIn(
            "application credential secret",
            [event.get("what") for event in logged],
        )
        for body in (
            credentialAuth(ALICE.secret, credentialId=ALICE.access),
            passwordAuth(ALICE.name, ALICE.secret, ALICE.name),
        ):
            status, _, answer = await self.call("POST", "/v3/auth/tokens", body)
            self.assertEqual(status, 401, answer)
        await self.authManager.unlock(ALICE.access)
        status, _, answer = await self.call(
            "POST", "/v3/auth/tokens", credentialAuth(ALICE.secret, credentialId=ALICE.access)
        )
        self.assertEqual(status, 201, answer)

    async def test_lockedByPasswords(self):
        """
        Wrong passwords lock the application credential too.
        """
        for _ in range(self.config.lockout_attempts):
            await self.call(
                "POST", "/v3/auth/tokens", passwordAuth(ALICE.name, "wrong", ALICE.name)
            )
        status, _, answer = await self.call(
            "POST", "/v3/auth/tokens", credentialAuth(ALICE.secret, credentialId=ALICE.access)
        )
        self.assertEqual(status, 401, answer)

    async def test_otherMethods(self):
        """
        Other methods, and two at once, are refused.
        """
        for methods in (["token"], ["password", "application_credential"]):
            status, _, answer = await self.call(
                "POST",
                "/v3/auth/tokens",
                {"auth": {"identity": {"methods": methods}}},
            )
            self.assertEqual(status, 401, answer)
