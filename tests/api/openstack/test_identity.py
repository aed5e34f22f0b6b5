"""
Tests for L{nova.api.openstack.identity}: logging in with Keystone's v3
and v2.0 password authentication, tokens, version documents.
"""

from twisted.trial.unittest import TestCase

from tests.api.ec2.cloud import ALICE, BOB, ROOT
from tests.api.openstack.support import OpenStackCloudMixin, passwordAuth


class IdentityTests(OpenStackCloudMixin, TestCase):
    async def setUp(self):
        await self.startOpenStack()

    async def test_v3Token(self):
        """
        The user name and secret key, scoped to a project, give a token in
        X-Subject-Token (201) and a body with the user, project, roles and
        a catalog naming the compute, image, identity, EC2 and S3 APIs.
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
            self.assertEqual(answer["unauthorized"]["code"], 401)

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
            self.assertEqual(list(answer), ["badRequest"])

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
        self.assertEqual(types, {"compute", "image", "identity", "ec2", "s3"})
        status, _, flavors = await self.call("GET", "/v2/flavors", token=access["token"]["id"])
        self.assertEqual(status, 200, flavors)

    async def test_versions(self):
        status, _, body = await self.call("GET", "/v3")
        self.assertEqual(status, 200)
        self.assertEqual(body["version"]["id"], "v3.14")
        self.assertEqual(body["version"]["status"], "stable")
        status, _, body = await self.call("GET", "/")
        self.assertEqual(status, 200)
        ids = [v["id"] for v in body["versions"]]
        self.assertEqual(ids, ["v1.0", "v2.0", "v2.1", "v3.14"])

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
