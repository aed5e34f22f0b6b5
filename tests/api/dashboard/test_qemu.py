"""
The dashboard in a real browser against a real QEMU guest: nova-all with
the libvirt driver (C{qemu:///system}, QEMU software emulation) and the
dashboard on the OpenStack API's port beside the VNC proxy; Debian's
Chromium, headless, driven by Playwright, logs in, launches the test
guest (C{etc/guest/init}, registered with C{nova-manage image register}),
sees it go running without reloading, reads its console output until the
guest says C{NOVA READY}, opens its VNC console and sees noVNC draw the
guest's text screen on the canvas, and terminates it.

The guest joins a bridge the test makes (with no address on this host)
and removes afterwards; its domain's name is unique to the run.
Screenshots of each step go to the test's temporary directory under
C{_trial_temp}.  The test skips without libvirtd, root, Chromium or
Playwright, and fails instead when C{NOVA_TEST_REQUIRE_SERVICES=1}.
"""

import os
import time
import uuid

from twisted.internet import defer, reactor, task
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from tests.api.dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS, _playwright
from tests.integration.libvirtcloud import LibvirtCloudMixin, registerTestGuest
from tests.util import requireCondition

#: JavaScript: how many distinct colours a sample of the VNC canvas holds
#: (0 before noVNC made its canvas).
_CANVAS_COLOURS = """() => {
    const canvas = document.querySelector('#vnc-screen canvas');
    if (!canvas || canvas.width < 16 || canvas.height < 16) { return 0; }
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const colours = new Set();
    for (let i = 0; i < data.length; i += 4 * 7) {
        colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    }
    return colours.size;
}"""


#: JavaScript: record, in C{window.seenStates}, the instance page's state
#: now and each state polling shows next, with C{*} when it is marked busy.
_RECORD_STATES = """() => {
    const cell = document.querySelector('#instance td.state');
    const note = () => cell.dataset.state + (cell.getAttribute('aria-busy') === 'true' ? '*' : '');
    window.seenStates = [note()];
    new MutationObserver(() => {
        const now = note();
        if (window.seenStates[window.seenStates.length - 1] !== now) {
            window.seenStates.push(now);
        }
    }).observe(cell, { attributes: true, childList: true, characterData: true, subtree: true });
}"""


class DashboardQemuTests(LibvirtCloudMixin, TestCase):
    """
    The issue's browser proof on a real guest.
    """

    timeout = 900
    bridgePrefix = "ndb"
    domainPrefix = "nd"
    computeHost = "dashboardhost"
    openstackAPI = True

    def setUp(self):
        requireCondition(os.path.exists(CHROMIUM), f"Chromium is not installed ({CHROMIUM})")
        requireCondition(_playwright() is not None, "Playwright for Python is not installed")
        self.setUpLibvirtCloud()
        self.shots = os.path.abspath(self.mktemp())
        os.makedirs(self.shots)

    def prepare(self):
        self.manage("db", "sync")
        self.manage("network", "create", "10.51.0.0/24", "1", "256")
        self.user, self.secret = f"web{self.run}", uuid.uuid4().hex
        self.manage("user", "admin", self.user, f"access-{self.run}", self.secret)
        self.manage("project", "create", self.user, self.user)
        registerTestGuest(self.manage, self.guest, self.user, self.user)

    @defer.inlineCallbacks
    def startNovaAll(self):
        daemon = yield LibvirtCloudMixin.startNovaAll(self, "--osapi_host=127.0.0.1")
        yield daemon.waitForLog(rf"Site starting on {self.osPort}", timeout=30)
        return daemon

    def browse(self):
        """
        The whole visit, in one headless Chromium (blocking: runs in a
        thread).

        @return: a L{dict} of what the pages showed, and the page errors.
        """
        root = f"http://127.0.0.1:{self.osPort}/dashboard"
        project = self.user
        with _playwright()() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                page.set_default_timeout(60000)
                page.on("dialog", lambda dialog: dialog.accept())
                errors = []
                page.on("pageerror", lambda error: errors.append(str(error)))

                def shot(name, selector=None):
                    path = os.path.join(self.shots, f"{name}.png")
                    if selector is None:
                        page.screenshot(path=path)
                    else:
                        page.locator(selector).screenshot(path=path)

                page.goto(root + "/")
                page.wait_for_url("**/dashboard/login")
                page.get_by_label("User name").fill(self.user)
                page.get_by_label("Secret key").fill(self.secret)
                page.get_by_role("button", name="Log in").click()
                page.wait_for_url("**/dashboard/projects")
                page.get_by_role("link", name=project, exact=True).click()
                page.wait_for_url(f"**/p/{project}/instances")
                # The machine image becomes available once its bundle is
                # decrypted and unpacked: reload until the form offers it.
                deadline = time.monotonic() + 180
                machine = None
                while machine is None:
                    options = page.locator("select#image option").evaluate_all(
                        "(os) => os.map((o) => o.value)"
                    )
                    machine = next((o for o in options if o.startswith("ami-")), None)
                    if machine is None:
                        self.assertLess(time.monotonic(), deadline, "no machine image offered")
                        page.wait_for_timeout(1000)
                        page.reload()
                page.get_by_label("Image").select_option(machine)
                page.get_by_label("Type").select_option("m1.tiny")
                page.get_by_role("button", name="Launch").click()
                page.wait_for_selector("p.flash.notice")
                notice = page.inner_text("p.flash.notice")
                instanceId = page.locator("table#instances tbody tr[data-id]").first.get_attribute(
                    "data-id"
                )
                page.evaluate("window.notReloaded = true")
                page.wait_for_selector(
                    f'tr[data-id="{instanceId}"] td.state[data-state="running"]', timeout=240000
                )
                samePage = page.evaluate("window.notReloaded === true")
                shot("instances", "main")

                # The console output, refreshed until the guest is ready.
                consoleURL = f"{root}/p/{project}/instances/{instanceId}/console"
                page.goto(consoleURL)
                deadline = time.monotonic() + 240
                console = page.inner_text("#console-output")
                while "NOVA READY" not in console:
                    self.assertLess(time.monotonic(), deadline, f"guest not ready: {console}")
                    page.wait_for_timeout(2000)
                    page.goto(consoleURL)
                    console = page.inner_text("#console-output")
                shot("console", "main")

                # The VNC console: noVNC, through the proxy, draws the
                # guest's text screen (more than one colour).
                page.goto(f"{root}/p/{project}/instances/{instanceId}/vnc")
                page.locator("#vnc-status", has_text="Connected.").wait_for(timeout=60000)
                colours = 0
                deadline = time.monotonic() + 60
                while colours < 2 and time.monotonic() < deadline:
                    colours = page.evaluate(_CANVAS_COLOURS)
                    page.wait_for_timeout(250)
                vncStatus = page.inner_text("#vnc-status")
                box = page.locator("#vnc-screen canvas").bounding_box()
                shot("vnc", "main")

                # Suspend and resume on the instance's page: the state
                # follows without a reload, with the buttons that fit it.
                instanceURL = f"{root}/p/{project}/instances/{instanceId}"
                page.goto(instanceURL)
                page.get_by_role("button", name="Suspend", exact=True).click()
                page.wait_for_url(instanceURL)
                page.evaluate(_RECORD_STATES)
                page.wait_for_selector(
                    '#instance td.state[data-state="suspended"]', timeout=180000
                )
                suspended = {
                    "seen": page.evaluate("window.seenStates"),
                    "resume": page.get_by_role("button", name="Resume", exact=True).is_visible(),
                    "suspend": page.get_by_role("button", name="Suspend", exact=True).count(),
                }
                shot("instance-suspended", "main")
                page.get_by_role("button", name="Resume", exact=True).click()
                page.wait_for_url(instanceURL)
                page.wait_for_selector('#instance td.state[data-state="running"]', timeout=180000)
                page.goto(consoleURL)
                resumedConsole = page.inner_text("#console-output")

                page.goto(f"{root}/p/{project}/instances")
                page.locator(f'tr[data-id="{instanceId}"]').get_by_role(
                    "button", name="Terminate"
                ).click()
                page.wait_for_selector(
                    f'tr[data-id="{instanceId}"] td.state[data-state="terminated"]',
                    timeout=120000,
                )
                shot("terminated", "main")
                return {
                    "notice": notice,
                    "instanceId": instanceId,
                    "samePage": samePage,
                    "console": console,
                    "colours": colours,
                    "vncStatus": vncStatus,
                    "box": box,
                    "suspended": suspended,
                    "resumedConsole": resumedConsole,
                }, errors
            finally:
                browser.close()

    @defer.inlineCallbacks
    def test_launchConsoleVncTerminate(self):
        daemon = yield self.startNovaAll()
        result, errors = yield deferToThread(self.browse)
        self.assertEqual(errors, [])
        instanceId = result["instanceId"]
        self.assertIn(f"Launched {instanceId}", result["notice"])
        self.assertTrue(result["samePage"])
        self.assertIn("NOVA TEST GUEST", result["console"])
        self.assertIn("NOVA READY", result["console"])
        self.assertEqual(result["vncStatus"], "Connected.")
        self.assertGreaterEqual(result["colours"], 2)
        self.assertGreater(result["box"]["width"], 200)
        self.assertGreater(result["box"]["height"], 150)
        suspended = result["suspended"]
        # The page showed the state the request made (suspending, busy)
        # or, when the host was quicker, the end state; polling brought it
        # to suspended.
        self.assertIn(suspended["seen"][0], ("suspending*", "suspended"), suspended)
        self.assertEqual(suspended["seen"][-1], "suspended", suspended)
        for state in suspended["seen"]:
            self.assertEqual(state.endswith("*"), state.startswith("suspending"), suspended)
        self.assertTrue(suspended["resume"], suspended)
        self.assertEqual(suspended["suspend"], 0, suspended)
        # Resumed from its saved memory: the same boot, not a new one.
        self.assertEqual(result["resumedConsole"].count("NOVA READY"), 1)
        self.assertNotIn("NOVA BOOT 2", result["resumedConsole"])
        deadline = time.monotonic() + 60
        while (yield deferToThread(self.domains)):
            self.assertLess(time.monotonic(), deadline, "the domain is still defined")
            yield task.deferLater(reactor, 0.5, lambda: None)
        code = yield daemon.stop()
        self.assertIn(code, (0, -15))
        # (autobahn logs a closed websocket as a "Traceback (failure with
        # no frames)": only real tracebacks count.)
        self.assertNotIn("Traceback (most recent call last)", daemon.log())
