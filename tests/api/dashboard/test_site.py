"""
Tests for L{nova.api.dashboard.site}: sessions, CSRF tokens, project
membership and the role map, through HTTP requests in memory.
"""

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from nova.api.dashboard.sessions import SessionStore
from nova.cache.memory import MemoryCache

from tests.api.dashboard.support import Browser, csrfToken, dashboardHarness
from tests.api.ec2.support import ALICE, BOB, ROOT, TestUser


class DashboardTests(TestCase):
    async def _setUp(self):
        self.stub, self.authManager = await dashboardHarness(self)

    def setUp(self):
        return ensureDeferred(self._setUp())

    def browser(self):
        return Browser(self.stub)

    async def test_anonymousGoesToLogin(self):
        """
        Pages need a login: a GET is sent to the login page, a POST is
        refused with 403.
        """
        browser = self.browser()
        code, headers, _ = await browser.get("/p/alice/keypairs")
        self.assertEqual(code, 303)
        self.assertEqual(headers.getRawHeaders(b"location"), [b"/dashboard/login"])
        code, _, body = await browser.post("/p/alice/keypairs", {"name": "k"})
        self.assertEqual(code, 403)
        self.assertIn("log in again", body)

    async def test_loginCookie(self):
        """
        A good login sets the session cookie HttpOnly and SameSite=Strict on
        the dashboard's path, and leads to the projects page.
        """
        browser = self.browser()
        await browser.login(ALICE)
        [cookie] = [c for c in browser.setCookies if c.startswith("nova_dashboard=")]
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=strict", cookie)
        self.assertIn("Path=/dashboard", cookie)
        self.assertNotIn("Secure", cookie)
        code, _, body = await browser.get("/projects")
        self.assertEqual(code, 200)
        self.assertIn('href="/dashboard/p/alice/instances"', body)
        self.assertNotIn('href="/dashboard/p/bob/instances"', body)

    async def test_wrongSecret(self):
        """
        A wrong secret key or unknown user is refused with 403 and the same
        message, and starts no session.
        """
        for user, secret in ((ALICE.name, "wrong"), ("nobody", "x")):
            browser = self.browser()
            _, _, body = await browser.get("/login")
            code, _, body = await browser.post(
                "/login", {"_csrf": csrfToken(body), "user": user, "secret": secret}
            )
            self.assertEqual(code, 403)
            self.assertIn("Wrong user name or secret key.", body)
            self.assertNotIn("nova_dashboard", browser.cookies)

    async def test_loginNeedsToken(self):
        """
        The login form is refused without the token of its cookie.
        """
        browser = self.browser()
        await browser.get("/login")
        code, _, body = await browser.post(
            "/login", {"_csrf": "forged", "user": ALICE.name, "secret": ALICE.secret}
        )
        self.assertEqual(code, 403)
        self.assertNotIn("nova_dashboard", browser.cookies)

    async def test_csrfRefused(self):
        """
        A form posted without the session's CSRF token, or with another
        session's, is refused with 403 and changes nothing.
        """
        browser = self.browser()
        token = await browser.login(ALICE)
        other = await self.browser().login(BOB)
        for fields in ({"name": "k1"}, {"name": "k1", "_csrf": other}):
            code, _, body = await browser.post("/p/alice/keypairs", fields)
            self.assertEqual(code, 403)
            self.assertIn("CSRF", body)
        code, _, body = await browser.get("/p/alice/keypairs")
        self.assertIn("No key pairs.", body)
        code, headers, pem = await browser.post("/p/alice/keypairs", {"name": "k1", "_csrf": token})
        self.assertEqual(code, 200)
        self.assertIn("PRIVATE KEY", pem)
        self.assertEqual(
            headers.getRawHeaders(b"content-disposition"), [b'attachment; filename="k1.pem"']
        )
        _, _, body = await browser.get("/p/alice/keypairs")
        self.assertIn("<th scope=\"row\">k1</th>", body)

    async def test_apiErrorShown(self):
        """
        An error of the service API is shown with its message and status,
        never a traceback.
        """
        browser = self.browser()
        token = await browser.login(ALICE)
        await browser.post("/p/alice/keypairs", {"name": "dup", "_csrf": token})
        code, _, body = await browser.post("/p/alice/keypairs", {"name": "dup", "_csrf": token})
        self.assertEqual(code, 400)
        self.assertIn("dup", body)
        self.assertNotIn("Traceback", body)

    async def test_otherProject(self):
        """
        A project the user does not belong to answers 403, for pages and
        forms alike.
        """
        browser = self.browser()
        token = await browser.login(ALICE)
        code, _, body = await browser.get("/p/bob/keypairs")
        self.assertEqual(code, 403)
        self.assertIn("not a member of a project named bob", body)
        code, _, _ = await browser.post("/p/bob/security-groups", {"name": "x", "_csrf": token})
        self.assertEqual(code, 403)
        code, _, _ = await browser.get("/p/nosuch/keypairs")
        self.assertEqual(code, 403)

    async def test_roleMap(self):
        """
        Without netadmin (bob in alice) the security group forms are absent
        and posting one anyway is refused; a superuser has them.
        """
        bob = self.browser()
        token = await bob.login(BOB)
        code, _, body = await bob.get("/p/alice/security-groups")
        self.assertEqual(code, 200)
        self.assertIn("default", body)
        self.assertNotIn("Create a security group", body)
        self.assertNotIn("Add rule", body)
        code, _, body = await bob.post("/p/alice/security-groups", {"name": "web", "_csrf": token})
        self.assertEqual(code, 403)
        self.assertIn("not authorized to perform CreateSecurityGroup", body)

        root = self.browser()
        token = await root.login(ROOT)
        code, _, body = await root.get("/p/alice/security-groups")
        self.assertIn("Create a security group", body)
        code, _, _ = await root.post(
            "/p/alice/security-groups", {"name": "web", "description": "Web", "_csrf": token}
        )
        self.assertEqual(code, 303)
        _, _, body = await root.get("/p/alice/security-groups")
        self.assertIn("Created security group web.", body)
        _, _, body = await bob.get("/p/alice/security-groups")
        self.assertIn("web", body)

    async def test_adminOnly(self):
        """
        The administration page is for superusers.
        """
        alice = self.browser()
        await alice.login(ALICE)
        code, _, body = await alice.get("/p/alice/admin")
        self.assertEqual(code, 403)
        self.assertNotIn("/admin\">Administration", body)
        root = self.browser()
        await root.login(ROOT)
        code, _, body = await root.get("/p/alice/admin")
        self.assertEqual(code, 200, body)
        for name in (ALICE.name, BOB.name, ROOT.name):
            self.assertIn(f'<th scope="row">{name}</th>', body)

    async def test_logout(self):
        """
        After logging out the session is gone: its token no longer works.
        """
        browser = self.browser()
        token = await browser.login(ALICE)
        oldCookies = dict(browser.cookies)
        code, headers, _ = await browser.post("/logout", {"_csrf": token})
        self.assertEqual(code, 303)
        browser.cookies = oldCookies
        code, _, _ = await browser.post("/p/alice/keypairs", {"name": "k", "_csrf": token})
        self.assertEqual(code, 403)
        code, _, _ = await browser.get("/p/alice/keypairs")
        self.assertEqual(code, 303)

    async def test_notFoundAndMethod(self):
        browser = self.browser()
        await browser.login(ALICE)
        code, headers, body = await browser.get("/nosuch/page")
        self.assertEqual(code, 404)
        code, _, _ = await browser.get("/p/alice/instances/i-00000001/terminate")
        self.assertEqual(code, 405)

    async def test_securityHeaders(self):
        """
        Pages forbid framing and foreign scripts, and are not cached.
        """
        code, headers, body = await self.browser().get("/login")
        self.assertEqual(code, 200)
        self.assertIn(b"script-src 'self'", headers.getRawHeaders(b"content-security-policy")[0])
        self.assertEqual(headers.getRawHeaders(b"x-frame-options"), [b"DENY"])
        self.assertEqual(headers.getRawHeaders(b"cache-control"), [b"no-store"])
        self.assertIn('<label for="user">User name</label>', body)

    async def test_escaping(self):
        """
        What users name things is escaped in pages.
        """
        root = self.browser()
        token = await root.login(ROOT)
        await root.post(
            "/p/alice/security-groups",
            {"name": "x", "description": "<script>alert(1)</script>", "_csrf": token},
        )
        _, _, body = await root.get("/p/alice/security-groups")
        self.assertNotIn("<script>alert(1)</script>", body)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", body)

    async def test_adminManagesUsersAndRoles(self):
        """
        A superuser creates a user (whose keys are shown once) and a
        project, adds the user to it and grants a role there; the user can
        then log in with the secret key shown and pick the project.
        """
        root = self.browser()
        token = await root.login(ROOT)
        code, _, body = await root.post(
            "/p/alice/admin/create-user", {"_csrf": token, "name": "frank"}
        )
        self.assertEqual(code, 200, body)
        user = await self.authManager.getUser("frank")
        self.assertIn(user.secretKey, body)
        self.assertFalse(user.isAdmin)
        steps = (
            ("create-project", {"name": "web", "manager": "alice", "description": "Web"}),
            ("add-member", {"user": "frank", "project": "web"}),
            ("grant-role", {"user": "frank", "role": "sysadmin", "project": ""}),
            ("grant-role", {"user": "frank", "role": "sysadmin", "project": "web"}),
        )
        for action, fields in steps:
            code, _, body = await root.post(f"/p/alice/admin/{action}", {"_csrf": token, **fields})
            self.assertEqual(code, 303, (action, body))
        context = await self.authManager.contextFor("frank", "web")
        self.assertEqual(set(context.roles), {"sysadmin"})

        frank = self.browser()
        _, _, page = await frank.get("/login")
        code, _, _ = await frank.post(
            "/login", {"_csrf": csrfToken(page), "user": "frank", "secret": user.secretKey}
        )
        self.assertEqual(code, 303)
        _, _, body = await frank.get("/projects")
        self.assertIn('href="/dashboard/p/web/instances"', body)

        code, _, body = await root.post(
            "/p/alice/admin/grant-role", {"_csrf": token, "user": "frank", "role": "nosuch"}
        )
        self.assertEqual(code, 400, body)
        self.assertIn("no role", body)

    async def test_adminActionsRefused(self):
        """
        Administration forms posted by a user who is not a superuser are
        refused and change nothing.
        """
        alice = self.browser()
        token = await alice.login(ALICE)
        code, _, _ = await alice.post(
            "/p/alice/admin/create-user", {"_csrf": token, "name": "mallory"}
        )
        self.assertEqual(code, 403)
        code, _, _ = await alice.post(
            "/p/alice/admin/grant-role", {"_csrf": token, "user": "alice", "role": "cloudadmin"}
        )
        self.assertEqual(code, 403)
        users = [u.name for u in await self.authManager.getUsers()]
        self.assertNotIn("mallory", users)
        self.assertNotIn("cloudadmin", await self.authManager.getUserRoles("alice"))

    async def test_pollsKeepMessages(self):
        """
        The JSON endpoint answers 401 without a session, and does not take
        the messages meant for the next page.
        """
        browser = self.browser()
        code, _, body = await browser.get("/p/alice/instances.json")
        self.assertEqual(code, 401)
        self.assertIn("log in again", body)
        token = await browser.login(ALICE)
        publicKey = (
            Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
            .decode("ascii")
        )
        code, _, body = await browser.post(
            "/p/alice/keypairs/import", {"_csrf": token, "name": "mine", "publicKey": publicKey}
        )
        self.assertEqual(code, 303, body)
        await browser.get("/p/alice/instances.json")
        _, _, body = await browser.get("/p/alice/keypairs")
        self.assertIn("Imported mine", body)
        code, _, body = await browser.post("/p/alice/keypairs/mine/delete", {"_csrf": token})
        self.assertEqual(code, 303, body)
        _, _, body = await browser.get("/p/alice/keypairs")
        self.assertIn("Deleted key pair mine.", body)
        self.assertIn("No key pairs.", body)

    async def test_lockout(self):
        """
        Wrong secret keys count like wrong EC2 signatures: after
        --lockout_attempts of them even the right one is refused.
        """
        self.stub, self.authManager = await dashboardHarness(self, lockout_attempts=2)
        browser = self.browser()
        for secret in ("wrong", "wrong again", ALICE.secret):
            _, _, page = await browser.get("/login")
            code, _, body = await browser.post(
                "/login", {"_csrf": csrfToken(page), "user": ALICE.name, "secret": secret}
            )
            self.assertEqual(code, 403, secret)
        self.assertNotIn("nova_dashboard", browser.cookies)

    async def test_deletedUser(self):
        """
        A user deleted since logging in is sent to log in again.
        """
        await self.authManager.createUser("gone", "gone-access", "gone-secret")
        await self.authManager.addToProject("gone", ALICE.name)
        browser = self.browser()
        await browser.login(TestUser("gone", "gone-access", "gone-secret"))
        await self.authManager.deleteUser("gone")
        code, _, body = await browser.get("/p/alice/keypairs")
        self.assertEqual(code, 403)
        self.assertIn("log in again", body)
        code, _, _ = await browser.get("/p/alice/keypairs")
        self.assertEqual(code, 303)

    async def test_cacheDown(self):
        """
        When the session cache fails, pages say so (503) without a
        traceback.
        """
        from nova.cache.interfaces import CacheUnavailable

        browser = self.browser()
        await browser.login(ALICE)

        def down(*args):
            raise CacheUnavailable("The cache is unreachable.")

        self.patch(self.authManager.cache, "get", down)
        code, _, body = await browser.get("/p/alice/keypairs")
        self.assertEqual(code, 503)
        self.assertIn("The cache is unreachable.", body)
        self.assertNotIn("Traceback", body)
        self.flushLoggedErrors(CacheUnavailable)


class SessionExpiryTests(TestCase):
    """
    Sessions end after C{--dashboard_session_ttl} idle seconds, as pages
    show them: the session store's cache runs on a clock of the test's.
    """

    TTL = 600

    async def _setUp(self):
        self.clock = Clock()
        self.clock.advance(1_000_000)
        sessions = SessionStore(MemoryCache(self.clock), self.TTL)
        self.stub, self.authManager = await dashboardHarness(
            self, sessions=sessions, dashboard_session_ttl=self.TTL
        )

    def setUp(self):
        return ensureDeferred(self._setUp())

    async def test_expiredSessionGoesToLogin(self):
        """
        Each request starts the idle time again; after C{ttl} idle seconds
        a page sends the browser to the login page, a form is refused with
        403 and nothing happens, a poll answers 401 in JSON; logging in
        again works.
        """
        browser = Browser(self.stub)
        token = await browser.login(ALICE)
        for _ in range(3):
            self.clock.advance(self.TTL - 1)
            code, _, body = await browser.get("/p/alice/keypairs")
            self.assertEqual(code, 200, body)
        self.clock.advance(self.TTL + 1)
        code, headers, _ = await browser.get("/p/alice/keypairs")
        self.assertEqual(code, 303)
        self.assertEqual(headers.getRawHeaders(b"location"), [b"/dashboard/login"])
        code, _, body = await browser.post("/p/alice/keypairs", {"_csrf": token, "name": "late"})
        self.assertEqual(code, 403, body)
        self.assertIn("Your session has ended: log in again.", body)
        code, headers, body = await browser.get("/p/alice/instances.json")
        self.assertEqual(code, 401, body)
        self.assertEqual(headers.getRawHeaders(b"content-type"), [b"application/json"])
        self.assertEqual(json.loads(body), {"error": "Your session has ended: log in again."})
        code, headers, _ = await browser.get("/projects")
        self.assertEqual(code, 303)

        token = await browser.login(ALICE)
        code, _, body = await browser.get("/p/alice/keypairs")
        self.assertEqual(code, 200, body)
        self.assertNotIn("late", body)
        code, _, body = await browser.post("/p/alice/keypairs", {"_csrf": token, "name": "again"})
        self.assertEqual(code, 200, body)
