"""
End-to-end tests of the dashboard in a real browser: Debian's Chromium,
headless, driven by Playwright, against a whole cloud in this process
(L{tests.api.ec2.cloud.CloudServerMixin}: scheduler, network, volume, two
fake compute hosts, the image service) with the dashboard served over its
service APIs on a free port of 127.0.0.1.

Screenshots of each page go to the test's temporary directory under
C{_trial_temp}.  The tests skip without Chromium or Playwright, and fail
instead when C{NOVA_TEST_REQUIRE_SERVICES=1}.
"""

import os
import shutil

from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred, succeed
from twisted.internet.task import Clock
from twisted.internet.threads import blockingCallFromThread, deferToThread
from twisted.trial.unittest import TestCase
from twisted.web.resource import Resource
from twisted.web.server import Site

from nova.api.dashboard.sessions import SessionStore
from nova.api.dashboard.site import STATIC, dashboardSite
from nova.cache.memory import MemoryCache
from nova.console.proxy import vncProxyResource
from tests.api.dashboard.rfb import RFBServerFactory
from tests.api.ec2.cloud import ALICE, CAROL, ROOT, CloudServerMixin, contextFor
from tests.api.ec2.support import TrackingSite, TestUser
from tests.util import requireCondition

CHROMIUM = os.environ.get("NOVA_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-dev-shm-usage",
]

#: A user with a project of its own and no other.
EVE = TestUser("eve", "eve-access", "eve-secret")


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    return sync_playwright


class DashboardBrowserTests(CloudServerMixin, TestCase):
    """
    A user logs in, launches an instance, sees it run without reloading,
    reads its console, terminates it; another user cannot reach the
    project; a form without its CSRF token is refused.
    """

    timeout = 240

    def setUp(self):
        requireCondition(os.path.exists(CHROMIUM), f"Chromium is not installed ({CHROMIUM})")
        requireCondition(_playwright() is not None, "Playwright for Python is not installed")
        return ensureDeferred(self._startDashboard())

    async def _startDashboard(self):
        await self.startCloud()
        await self.authManager.createUser(EVE.name, EVE.access, EVE.secret, False)
        await self.authManager.createProject(EVE.name, EVE.name)
        self.image = await self.addImage(name="cirros")
        # Sessions expire on a clock of the test's (it moves only when a
        # test moves it).
        self.sessionClock = Clock()
        sessions = SessionStore(
            MemoryCache(self.sessionClock), self.config.dashboard_session_ttl
        )
        resource = dashboardSite(
            self.config, self.backends, self.authManager, reactor, sessions=sessions
        )
        self.dashboardSite = TrackingSite(resource)
        self.dashboardSite.noisy = False
        listening = reactor.listenTCP(0, self.dashboardSite, interface="127.0.0.1")
        self.addCleanup(self.dashboardSite.closeAll)
        self.addCleanup(listening.stopListening)
        self.port = listening.getHost().port
        self.root = f"http://127.0.0.1:{self.port}"
        self.shots = os.path.abspath(self.mktemp())
        os.makedirs(self.shots)

    def _browse(self, scenario):
        """
        Run C{scenario(page, shot)} in a thread with a fresh headless
        Chromium page.

        @return: L{Deferred} firing with what C{scenario} returned.
        """

        def run():
            with _playwright()() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                try:
                    context = browser.new_context(viewport={"width": 1280, "height": 800})
                    page = context.new_page()
                    page.set_default_timeout(30000)
                    page.on("dialog", lambda dialog: dialog.accept())
                    errors = []
                    page.on("pageerror", lambda error: errors.append(str(error)))

                    def shot(name):
                        page.screenshot(path=os.path.join(self.shots, f"{name}.png"), full_page=True)

                    result = scenario(page, shot)
                    return result, errors
                finally:
                    browser.close()

        return deferToThread(run)

    def _login(self, page, user):
        page.goto(self.root + "/")
        page.get_by_label("User name").fill(user.name)
        page.get_by_label("Secret key").fill(user.secret)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/dashboard/projects")

    def test_instanceLifecycle(self):
        """
        Log in, pick the project, launch an instance and see it go running
        (the page polls; it is not reloaded), read its console output, open
        its VNC page, terminate it; visit every page of the project.
        """
        imageId = self.image.ec2_id

        def scenario(page, shot):
            page.goto(self.root + "/")
            page.wait_for_url("**/dashboard/login")
            shot("login")
            self._login(page, ALICE)
            shot("projects")
            page.get_by_role("link", name="alice", exact=True).click()
            page.wait_for_url("**/p/alice/instances")
            page.get_by_label("Image").select_option(imageId)
            page.get_by_label("User data").fill("#!/bin/sh\necho hello\n")
            page.get_by_role("button", name="Launch").click()
            page.wait_for_selector("p.flash.notice")
            notice = page.inner_text("p.flash.notice")
            row = page.locator("table#instances tbody tr[data-id]").first
            instanceId = row.get_attribute("data-id")
            page.evaluate("window.notReloaded = true")
            page.wait_for_selector(
                f'tr[data-id="{instanceId}"] td.state[data-state="running"]', timeout=30000
            )
            stillSamePage = page.evaluate("window.notReloaded === true")
            addresses = page.inner_text(f'tr[data-id="{instanceId}"] td.addresses')
            shot("instances")
            page.locator(f'tr[data-id="{instanceId}"]').get_by_role(
                "link", name="Console output"
            ).click()
            page.wait_for_url(f"**/instances/{instanceId}/console")
            console = page.inner_text("#console-output")
            shot("console")
            page.goto(f"{self.root}/dashboard/p/alice/instances/{instanceId}/vnc")
            vnc = page.inner_text("main")
            shot("vnc")
            pages = {}
            for name in ("images", "keypairs", "security-groups", "addresses", "volumes", "quotas"):
                response = page.goto(f"{self.root}/dashboard/p/alice/{name}")
                pages[name] = (response.status, page.inner_text("h1"))
                shot(name)
            page.goto(f"{self.root}/dashboard/p/alice/instances")
            page.locator(f'tr[data-id="{instanceId}"]').get_by_role(
                "button", name="Terminate"
            ).click()
            page.wait_for_selector(
                f'tr[data-id="{instanceId}"] td.state[data-state="terminated"]', timeout=30000
            )
            shot("terminated")
            return {
                "notice": notice,
                "instanceId": instanceId,
                "samePage": stillSamePage,
                "addresses": addresses,
                "console": console,
                "vnc": vnc,
                "pages": pages,
            }

        d = self._browse(scenario)

        def check(outcome):
            result, errors = outcome
            self.assertEqual(errors, [])
            instanceId = result["instanceId"]
            self.assertIn(f"Launched {instanceId}", result["notice"])
            self.assertTrue(result["samePage"])
            return ensureDeferred(self._checkInstance(result))

        return d.addCallback(check)

    async def _checkInstance(self, result):
        instanceId = result["instanceId"]
        record = await self.instanceRecord(instanceId)
        self.assertEqual(record.state, "terminated")
        self.assertEqual(record.image_id, self.image.ec2_id)
        self.assertEqual(record.project_id, ALICE.name)
        self.assertIn(record.fixed_ip, result["addresses"])
        # The console shows what the (fake) hypervisor wrote: the boot of
        # this guest, by its name.
        name = self.computeManagers[record.host].instanceName(record)
        self.assertIn("Linux version", result["console"])
        self.assertIn(f"{name} login:", result["console"])
        # The fake hypervisor serves no VNC console: the page says so.
        self.assertIn("Console not available", result["vnc"])
        for name, (status, heading) in result["pages"].items():
            self.assertEqual(status, 200, name)
            self.assertTrue(heading, name)

    def test_otherUserAndCSRF(self):
        """
        Eve, who does not belong to alice's project, neither lists it nor
        reaches its pages; a form posted without its CSRF token is refused
        with 403; the administrators' page shows the services.
        """

        def scenario(page, shot):
            # With the keyboard only: the user name field has the focus.
            page.goto(self.root + "/dashboard/login")
            page.keyboard.type(EVE.name)
            page.keyboard.press("Tab")
            page.keyboard.type(EVE.secret)
            page.keyboard.press("Enter")
            page.wait_for_url("**/dashboard/projects")
            projects = page.inner_text("main")
            response = page.goto(f"{self.root}/dashboard/p/alice/instances")
            refusedStatus = response.status
            refused = page.inner_text("main")
            shot("other-project")
            page.goto(f"{self.root}/dashboard/p/eve/keypairs")
            forged = page.request.post(
                f"{self.root}/dashboard/p/eve/keypairs", form={"name": "forged"}
            )
            forgedStatus, forgedBody = forged.status, forged.text()
            page.goto(f"{self.root}/dashboard/p/eve/keypairs")
            keyPairs = page.inner_text("table#keypairs")
            page.get_by_role("button", name="Log out").click()
            page.wait_for_url("**/dashboard/login")
            self._login(page, ROOT)
            page.goto(f"{self.root}/dashboard/p/alice/admin")
            admin = page.inner_text("table#services")
            shot("admin")
            return {
                "projects": projects,
                "refusedStatus": refusedStatus,
                "refused": refused,
                "forgedStatus": forgedStatus,
                "forgedBody": forgedBody,
                "keyPairs": keyPairs,
                "admin": admin,
            }

        def check(outcome):
            result, errors = outcome
            self.assertEqual(errors, [])
            self.assertIn("eve", result["projects"])
            self.assertNotIn("alice", result["projects"])
            self.assertEqual(result["refusedStatus"], 403)
            self.assertIn("not a member of a project named alice", result["refused"])
            self.assertEqual(result["forgedStatus"], 403)
            self.assertIn("CSRF", result["forgedBody"])
            self.assertNotIn("forged", result["keyPairs"])
            self.assertIn("nova-compute", result["admin"])
            self.assertIn(":-)", result["admin"])

        return self._browse(scenario).addCallback(check)

    def test_vncClientVendored(self):
        """
        The noVNC client the VNC page loads is served.
        """
        path = os.path.join(STATIC, "novnc", "core", "rfb.js")
        requireCondition(os.path.exists(path), "noVNC is not vendored (make novnc)")

        def scenario(page, shot):
            response = page.goto(f"{self.root}/dashboard/static/novnc/core/rfb.js")
            return response.status, response.headers.get("content-type"), page.content()

        def check(outcome):
            (status, contentType, body), errors = outcome
            self.assertEqual(status, 200)
            self.assertIn("javascript", contentType)
            self.assertIn("RFB", body)

        return self._browse(scenario).addCallback(check)

    async def _vncGuest(self):
        """
        Run an instance whose (fake) hypervisor says its VNC server is a
        small RFB server of this test, and serve nova-api's VNC proxy
        beside the dashboard at the URL the compute API gives.

        @return: the instance's record.
        """
        self.rfb = RFBServerFactory()
        self.rfb.noisy = False
        rfbPort = reactor.listenTCP(0, self.rfb, interface="127.0.0.1")
        self.addCleanup(rfbPort.stopListening)
        # The proxy as nova-api serves it beside the OpenStack API, on a
        # port of its own here (websocket connections leave the HTTP
        # channel, so a plain Site).
        root = Resource()
        root.putChild(b"websockify", vncProxyResource(self.computeAPI.consoleTokens, reactor))
        proxySite = Site(root)
        proxySite.noisy = False
        proxyPort = reactor.listenTCP(0, proxySite, interface="127.0.0.1")
        self.addCleanup(proxyPort.stopListening)
        self.computeAPI.config = self.computeAPI.config.replace(
            vncproxy_base_url=f"ws://127.0.0.1:{proxyPort.getHost().port}/websockify"
        )
        record = await self.runInstance()
        where = {"host": "127.0.0.1", "port": rfbPort.getHost().port, "password": None}
        self.drivers[record.host].getVncConsole = lambda name: succeed(dict(where))
        return record

    def test_vncConsole(self):
        """
        The VNC page connects noVNC, through nova-api's websocket proxy, to
        the guest's VNC server and draws its screen.
        """
        path = os.path.join(STATIC, "novnc", "core", "rfb.js")
        requireCondition(os.path.exists(path), "noVNC is not vendored (make novnc)")
        d = ensureDeferred(self._vncGuest())

        def browse(record):
            def scenario(page, shot):
                self._login(page, ALICE)
                page.goto(f"{self.root}/dashboard/p/alice/instances/{record.ec2Id}/vnc")
                page.locator("#vnc-status", has_text="Connected.").wait_for()
                # The guest's screen (one colour) reaches the canvas.  (The
                # page's CSP forbids eval, so poll from here.)
                pixel = None
                for _ in range(200):
                    pixel = page.evaluate(
                        """() => {
                            const canvas = document.querySelector('#vnc-screen canvas');
                            if (!canvas || canvas.width < 6) { return null; }
                            return Array.from(canvas.getContext('2d').getImageData(5, 5, 1, 1).data);
                        }"""
                    )
                    if pixel and pixel[:3] == [0, 128, 255]:
                        break
                    page.wait_for_timeout(50)
                shot("vnc-connected")
                box = page.locator("#vnc-screen canvas").bounding_box()
                return page.inner_text("#vnc-status"), pixel, box

            return self._browse(scenario)

        async def closed():
            # The browser is gone: the proxy closes its VNC connection.
            await self.waitFor(
                lambda: all(not c.transport.connected for c in self.rfb.connections)
            )

        def check(outcome):
            (status, pixel, box), errors = outcome
            self.assertEqual(errors, [])
            self.assertEqual(status, "Connected.")
            self.assertEqual(pixel[:3], [0, 128, 255])
            # Shown, scaled to the page.
            self.assertGreater(box["width"], 200)
            self.assertGreater(box["height"], 150)
            self.assertEqual(len(self.rfb.connections), 1)
            self.assertEqual(self.rfb.versions, [b"RFB 003.008\n"])
            self.assertIn(3, self.rfb.messages)
            self.assertEqual(self.rfb.unknown, [])
            return ensureDeferred(closed())

        return d.addCallback(browse).addCallback(check)

    def _inReactor(self, function, *args):
        """
        From the browser's thread: run C{function} (a coroutine function)
        in the reactor's thread and wait for its result.
        """
        return blockingCallFromThread(reactor, lambda: ensureDeferred(function(*args)))

    def test_instancePage(self):
        """
        On an instance's page a sysadmin resizes it: the page follows the
        state without a reload and then offers confirm and revert, not
        resize; confirming keeps the new type.  No administrators'
        buttons are shown.
        """

        def scenario(page, shot):
            self._login(page, ALICE)
            record = self._inReactor(self.runInstance)
            instanceId = record.ec2Id
            page.goto(f"{self.root}/dashboard/p/alice/instances")
            page.wait_for_selector(
                f'tr[data-id="{instanceId}"] td.state[data-state="running"]', timeout=30000
            )
            page.get_by_role("link", name=instanceId).click()
            page.wait_for_url(f"**/p/alice/instances/{instanceId}")
            oldType = page.inner_text('#instance td[data-field="type"]')
            admin = [
                page.get_by_role("button", name=name, exact=True).count()
                for name in ("Pause", "Suspend", "Lock")
            ]
            newType = "m1.tiny" if oldType != "m1.tiny" else "m1.small"
            page.get_by_label("New type").select_option(newType)
            page.get_by_role("button", name="Resize", exact=True).click()
            page.wait_for_url(f"**/p/alice/instances/{instanceId}")
            page.evaluate("window.notReloaded = true")
            page.wait_for_selector('#instance td.state[data-state="resized"]', timeout=30000)
            resized = {
                "confirm": page.get_by_role("button", name="Confirm resize").is_visible(),
                "revert": page.get_by_role("button", name="Revert resize").is_visible(),
                "resize": page.get_by_role("button", name="Resize", exact=True).count(),
                "hint": page.locator("#resize-hint").is_visible(),
                "samePage": page.evaluate("window.notReloaded === true"),
            }
            shot("instance-resized")
            page.get_by_role("button", name="Confirm resize").click()
            page.wait_for_url(f"**/p/alice/instances/{instanceId}")
            page.wait_for_selector('#instance td.state[data-state="running"]', timeout=30000)
            return {
                "instanceId": instanceId,
                "oldType": oldType,
                "newType": newType,
                "admin": admin,
                "resized": resized,
                "finalType": page.inner_text('#instance td[data-field="type"]'),
                "notice": page.inner_text("p.flash.notice"),
            }

        def check(outcome):
            result, errors = outcome
            self.assertEqual(errors, [])
            self.assertEqual(result["admin"], [0, 0, 0])
            self.assertEqual(
                result["resized"],
                {"confirm": True, "revert": True, "resize": 0, "hint": True, "samePage": True},
            )
            self.assertEqual(result["finalType"], result["newType"])
            self.assertIn(f"Confirmed the resize of {result['instanceId']}.", result["notice"])

        return self._browse(scenario).addCallback(check)

    def test_liveListsAndExpiry(self):
        """
        The volumes, images and addresses pages follow changes made
        elsewhere (through the service APIs) without a reload: states,
        cells and the buttons that fit.  When the session expires (on the
        session store's clock) the open page says so, and the next page is
        the login page.
        """
        alice = contextFor(ALICE)

        async def prepare():
            record = await self.runInstance()
            volume = await self.volumeAPI.createVolume(alice, size=1)

            async def available():
                found = await self.volumeAPI.describeVolumes(alice, [volume.ec2Id])
                return found[0].status == "available"

            await self.waitFor(available)
            address = await self.networkAPI.allocateFloatingIp(contextFor(CAROL, "alice"))
            return record.ec2Id, volume.ec2Id, address

        async def attach(instanceId, volumeId):
            await self.volumeAPI.attachVolume(alice, volumeId, instanceId, "/dev/vdb")

        async def associate(address, instanceId):
            instance = await self.computeAPI.getInstance(alice, instanceId)
            await self.networkAPI.associateFloatingIp(
                contextFor(CAROL, "alice"), address, instance.id
            )

        async def publish():
            await self.backends.images.setPublic(alice, self.image.ec2_id, True)

        def scenario(page, shot):
            instanceId, volumeId, address = self._inReactor(prepare)
            self._login(page, ALICE)
            outcome = {}

            page.goto(f"{self.root}/dashboard/p/alice/volumes")
            row = f'table#volumes tr[data-id="{volumeId}"]'
            page.wait_for_selector(f'{row} td.state[data-state="available"]')
            outcome["attachBefore"] = page.locator(row).get_by_role("button", name="Attach").count()
            page.evaluate("window.notReloaded = true")
            self._inReactor(attach, instanceId, volumeId)
            page.wait_for_selector(f'{row} td.state[data-state="in-use"]', timeout=30000)
            page.wait_for_selector(f'{row} td[data-field="attached"]:has-text("{instanceId}")')
            outcome["volume"] = {
                "attach": page.locator(row).get_by_role("button", name="Attach").count(),
                "detach": page.locator(row).get_by_role("button", name="Detach").count(),
                "samePage": page.evaluate("window.notReloaded === true"),
                "live": page.inner_text("table#volumes caption .live"),
            }
            shot("volumes-live")

            page.goto(f"{self.root}/dashboard/p/alice/addresses")
            row = f'table#addresses tr[data-id="{address}"]'
            page.wait_for_selector(f'{row} td.state[data-state="available"]')
            page.evaluate("window.notReloaded = true")
            self._inReactor(associate, address, instanceId)
            page.wait_for_selector(f'{row} td.state[data-state="associated"]', timeout=30000)
            outcome["address"] = {
                "instance": page.inner_text(f'{row} td[data-field="instance"]'),
                "samePage": page.evaluate("window.notReloaded === true"),
            }

            page.goto(f"{self.root}/dashboard/p/alice/images")
            row = f'table#images tr[data-id="{self.image.ec2_id}"]'
            before = page.inner_text(f'{row} td[data-field="visibility"]')
            page.evaluate("window.notReloaded = true")
            self._inReactor(publish)
            page.wait_for_selector(f'{row} td[data-field="visibility"]:has-text("public")')
            outcome["image"] = {
                "before": before,
                "samePage": page.evaluate("window.notReloaded === true"),
            }

            # The session ends while the page is open.
            blockingCallFromThread(
                reactor, self.sessionClock.advance, self.config.dashboard_session_ttl + 1
            )
            page.wait_for_selector(
                'table#images .live:has-text("Session ended")', timeout=30000
            )
            outcome["expired"] = page.inner_text("table#images .live")
            page.reload()
            outcome["afterExpiry"] = page.url
            return outcome

        def check(outcome):
            result, errors = outcome
            self.assertEqual(errors, [])
            self.assertEqual(result["attachBefore"], 1)
            self.assertEqual(result["volume"]["attach"], 0)
            self.assertEqual(result["volume"]["detach"], 1)
            self.assertTrue(result["volume"]["samePage"])
            self.assertIn("in-use", result["volume"]["live"])
            self.assertTrue(result["address"]["samePage"])
            self.assertTrue(result["address"]["instance"].startswith("i-"))
            self.assertEqual(result["image"]["before"], "private")
            self.assertTrue(result["image"]["samePage"])
            self.assertEqual(
                result["expired"], "Session ended: reload the page to log in again."
            )
            self.assertTrue(result["afterExpiry"].endswith("/dashboard/login"), result)

        return self._browse(scenario).addCallback(check)
