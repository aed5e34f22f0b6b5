"""
Tests of the dashboard's pages over a whole cloud (scheduler, network,
volume, two fake compute hosts, the image service: L{CloudServerMixin}),
through HTTP requests in memory: each form acts through the service APIs
and the role map decides who may post it.
"""

import base64
import json
import re

from treq.testing import StubTreq
from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred
from twisted.trial.unittest import TestCase

from nova.api.dashboard.site import dashboardSite
from tests.api.dashboard.support import Browser
from tests.api.ec2.cloud import ALICE, CAROL, DAVE, ERIN, ROOT, CloudServerMixin, contextFor


class DashboardCloudTests(CloudServerMixin, TestCase):
    timeout = 120

    async def _setUp(self):
        await self.startCloud()
        self.image = await self.addImage(name="cirros")
        self.stub = StubTreq(dashboardSite(self.config, self.backends, self.authManager, reactor))

    def setUp(self):
        return ensureDeferred(self._setUp())

    async def loggedIn(self, user):
        browser = Browser(self.stub)
        token = await browser.login(user)
        return browser, token

    async def launch(self, browser, token, **fields):
        form = {"_csrf": token, "image": self.image.ec2_id, "count": "1"}
        form.update(fields)
        code, headers, body = await browser.post("/p/alice/instances", form)
        self.assertEqual(code, 303, body)
        _, _, page = await browser.get("/p/alice/instances")
        self.assertIn("Launched i-", page)
        data = await self.instancesJSON(browser)
        return data[-1]["id"]

    async def instancesJSON(self, browser):
        code, headers, body = await browser.get("/p/alice/instances.json")
        self.assertEqual(code, 200, body)
        self.assertEqual(headers.getRawHeaders(b"content-type"), [b"application/json"])
        return json.loads(body)["instances"]

    async def stateOf(self, browser, instanceId):
        for instance in await self.instancesJSON(browser):
            if instance["id"] == instanceId:
                return instance["state"]
        return None

    async def waitState(self, browser, instanceId, state):
        async def reached():
            return await self.stateOf(browser, instanceId) == state

        await self.waitFor(reached)

    async def test_instanceLifecycle(self):
        """
        A sysadmin launches an instance from the form (with user data and
        a key pair), stops, starts and reboots it, reads its console and
        terminates it; the JSON endpoint follows each state.
        """
        browser, token = await self.loggedIn(ALICE)
        code, _, _ = await browser.post("/p/alice/keypairs", {"_csrf": token, "name": "k"})
        self.assertEqual(code, 200)
        instanceId = await self.launch(
            browser, token, keypair="k", userdata="#!/bin/sh\necho hi\n", groups="default"
        )
        await self.waitState(browser, instanceId, "running")
        record = await self.instanceRecord(instanceId)
        self.assertEqual(record.key_name, "k")
        self.assertTrue(record.key_data.startswith("ssh-rsa "))
        self.assertEqual(record.security_groups, "default")
        self.assertEqual(base64.b64decode(record.user_data), b"#!/bin/sh\necho hi\n")

        for action, state in (("stop", "stopped"), ("start", "running"), ("reboot", "running")):
            code, _, body = await browser.post(
                f"/p/alice/instances/{instanceId}/{action}", {"_csrf": token}
            )
            self.assertEqual(code, 303, body)
            await self.waitState(browser, instanceId, state)
        code, _, body = await browser.get(f"/p/alice/instances/{instanceId}/console")
        self.assertEqual(code, 200)
        name = self.computeManagers[record.host].instanceName(record)
        self.assertIn(f"{name} login:", body)
        self.assertIn("reboot: Restarting system", body)

        code, _, body = await browser.post(
            f"/p/alice/instances/{instanceId}/terminate", {"_csrf": token}
        )
        self.assertEqual(code, 303)
        await self.waitState(browser, instanceId, "terminated")

    async def test_apiError(self):
        """
        Acting on an instance that does not exist shows the compute API's
        message, not a traceback.
        """
        browser, token = await self.loggedIn(ALICE)
        code, _, body = await browser.post("/p/alice/instances/i-0000ffff/reboot", {"_csrf": token})
        self.assertIn(code, (400, 404), body)
        self.assertIn("The instance ID &#39;i-0000ffff&#39; does not exist", body)
        self.assertNotIn("Traceback", body)
        code, _, body = await browser.post("/p/alice/instances/junk/reboot", {"_csrf": token})
        self.assertEqual(code, 400, body)
        self.assertNotIn("Traceback", body)

    async def test_memberWithoutRoles(self):
        """
        Erin (no role in alice) and dave (developer) see alice's instances
        but no launch form or instance buttons; posting them anyway is
        refused with 403 and nothing happens.
        """
        alice, aliceToken = await self.loggedIn(ALICE)
        instanceId = await self.launch(alice, aliceToken)
        await self.waitState(alice, instanceId, "running")
        for user in (ERIN, DAVE):
            browser, token = await self.loggedIn(user)
            code, _, body = await browser.get("/p/alice/instances")
            self.assertEqual(code, 200)
            self.assertIn(instanceId, body)
            self.assertNotIn("Launch instances", body)
            self.assertNotIn(">Terminate<", body)
            self.assertNotIn("Console output", body)
            code, _, body = await browser.post(
                "/p/alice/instances", {"_csrf": token, "image": self.image.ec2_id}
            )
            self.assertEqual(code, 403)
            self.assertIn("not authorized to perform RunInstances", body)
            code, _, _ = await browser.post(
                f"/p/alice/instances/{instanceId}/terminate", {"_csrf": token}
            )
            self.assertEqual(code, 403)
        self.assertEqual(len(await self.instancesJSON(alice)), 1)
        self.assertEqual(await self.stateOf(alice, instanceId), "running")

    async def test_floatingAddresses(self):
        """
        A netadmin allocates an address, associates it with a running
        instance (the instance list shows it), disassociates and releases
        it; a sysadmin without netadmin has no such buttons.
        """
        alice, aliceToken = await self.loggedIn(ALICE)
        instanceId = await self.launch(alice, aliceToken)
        await self.waitState(alice, instanceId, "running")
        _, _, body = await alice.get("/p/alice/addresses")
        self.assertNotIn("Allocate an address", body)

        carol, token = await self.loggedIn(CAROL)
        code, _, body = await carol.post("/p/alice/addresses", {"_csrf": token})
        self.assertEqual(code, 303, body)
        _, _, body = await carol.get("/p/alice/addresses")
        [address] = [a for a in ("192.0.2.101", "192.0.2.102", "192.0.2.103",
                                 "192.0.2.104", "192.0.2.105") if f"Allocated {a}." in body]
        code, _, body = await carol.post(
            f"/p/alice/addresses/{address}/associate", {"_csrf": token, "instance": instanceId}
        )
        self.assertEqual(code, 303, body)
        [instance] = await self.instancesJSON(alice)
        self.assertIn(address, instance["addresses"])
        for action in ("disassociate", "release"):
            code, _, body = await carol.post(
                f"/p/alice/addresses/{address}/{action}", {"_csrf": token}
            )
            self.assertEqual(code, 303, body)
        _, _, body = await carol.get("/p/alice/addresses")
        self.assertIn(f"Released {address}.", body)
        self.assertIn("No floating addresses.", body)

    async def test_volumes(self):
        """
        Create a volume, attach it to a running instance, detach it and
        delete it, from the volumes page.
        """
        browser, token = await self.loggedIn(ALICE)
        instanceId = await self.launch(browser, token)
        await self.waitState(browser, instanceId, "running")
        code, _, body = await browser.post(
            "/p/alice/volumes", {"_csrf": token, "size": "1", "name": "data"}
        )
        self.assertEqual(code, 303, body)
        [volume] = await self.volumeAPI.describeVolumes(contextFor(ALICE))

        async def status(wanted):
            async def check():
                [v] = await self.volumeAPI.describeVolumes(contextFor(ALICE))
                return v.status == wanted

            await self.waitFor(check)

        await status("available")
        code, _, body = await browser.post(
            f"/p/alice/volumes/{volume.ec2Id}/attach",
            {"_csrf": token, "instance": instanceId, "device": "/dev/vdb"},
        )
        self.assertEqual(code, 303, body)
        await status("in-use")
        _, _, body = await browser.get("/p/alice/volumes")
        self.assertIn(instanceId, body)
        code, _, body = await browser.post(f"/p/alice/volumes/{volume.ec2Id}/detach", {"_csrf": token})
        self.assertEqual(code, 303, body)
        await status("available")
        code, _, body = await browser.post(f"/p/alice/volumes/{volume.ec2Id}/delete", {"_csrf": token})
        self.assertEqual(code, 303, body)

    async def test_quotas(self):
        """
        The quota page counts what the project uses against its limits.
        """
        browser, token = await self.loggedIn(ALICE)
        instanceId = await self.launch(browser, token)
        await self.waitState(browser, instanceId, "running")
        code, _, body = await browser.get("/p/alice/quotas")
        self.assertEqual(code, 200)
        limit = (await self.computeAPI.quotas.getQuota(ALICE.name))["instances"]
        self.assertIn(f'<th scope="row">instances</th><td>1</td><td>{limit}</td>', body)
        self.assertIn("<meter", body)

    async def test_images(self):
        """
        Make an image public and private again, and deregister it.
        """
        browser, token = await self.loggedIn(ALICE)
        imageId = self.image.ec2_id
        for action, public in (("public", True), ("private", False)):
            code, _, body = await browser.post(f"/p/alice/images/{imageId}/{action}", {"_csrf": token})
            self.assertEqual(code, 303, body)
            record = await self.db.images.get(imageId)
            self.assertEqual(record.is_public, public)
        code, _, body = await browser.post(f"/p/alice/images/{imageId}/deregister", {"_csrf": token})
        self.assertEqual(code, 303, body)
        _, _, body = await browser.get("/p/alice/images")
        self.assertIn(f"Deregistered {imageId}.", body)

    async def test_securityGroupRules(self):
        """
        A netadmin creates a group, adds a rule by CIDR and one by source
        group, removes the first, and deletes the group.
        """
        carol, token = await self.loggedIn(CAROL)
        code, _, body = await carol.post(
            "/p/alice/security-groups", {"_csrf": token, "name": "web", "description": "Web"}
        )
        self.assertEqual(code, 303, body)
        rules = (
            {"protocol": "tcp", "fromPort": "22", "toPort": "22", "cidr": "10.1.0.0/16"},
            {"protocol": "tcp", "fromPort": "80", "toPort": "80", "sourceGroup": "default"},
        )
        for rule in rules:
            code, _, body = await carol.post(
                "/p/alice/security-groups/web/rules", {"_csrf": token, **rule}
            )
            self.assertEqual(code, 303, body)
        [group] = await self.securityGroupAPI.describe(contextFor(CAROL, ALICE.name), ["web"])
        self.assertEqual(
            sorted((r.from_port, r.cidr) for r in group.rules), [(22, "10.1.0.0/16"), (80, None)]
        )
        code, _, body = await carol.post(
            "/p/alice/security-groups/web/revoke", {"_csrf": token, **rules[0]}
        )
        self.assertEqual(code, 303, body)
        [group] = await self.securityGroupAPI.describe(contextFor(CAROL, ALICE.name), ["web"])
        self.assertEqual([r.from_port for r in group.rules], [80])
        code, _, body = await carol.post(
            "/p/alice/security-groups/web/rules",
            {"_csrf": token, "protocol": "tcp", "fromPort": "x", "toPort": "1"},
        )
        self.assertEqual(code, 400, body)
        self.assertIn("is not a number", body)
        code, _, body = await carol.post(
            "/p/alice/security-groups/web/rules",
            {"_csrf": token, "protocol": "gre", "fromPort": "1", "toPort": "1"},
        )
        self.assertEqual(code, 400, body)
        self.assertIn("invalid IP protocol", body)

    async def test_snapshots(self):
        """
        Snapshot a volume and delete the snapshot; snapshot an instance
        into an image.
        """
        browser, token = await self.loggedIn(ALICE)
        await browser.post("/p/alice/volumes", {"_csrf": token, "size": "1"})
        [volume] = await self.volumeAPI.describeVolumes(contextFor(ALICE))

        async def volumeAvailable():
            [v] = await self.volumeAPI.describeVolumes(contextFor(ALICE))
            return v.status == "available"

        await self.waitFor(volumeAvailable)
        code, _, body = await browser.post(
            f"/p/alice/volumes/{volume.ec2Id}/snapshot", {"_csrf": token, "name": "s1"}
        )
        self.assertEqual(code, 303, body)
        [snapshot] = await self.volumeAPI.describeSnapshots(contextFor(ALICE))

        async def snapshotDone():
            [s] = await self.volumeAPI.describeSnapshots(contextFor(ALICE))
            return s.status == "available"

        await self.waitFor(snapshotDone)
        code, _, body = await browser.post(
            f"/p/alice/snapshots/{snapshot.ec2Id}/delete", {"_csrf": token}
        )
        self.assertEqual(code, 303, body)

        instanceId = await self.launch(browser, token)
        await self.waitState(browser, instanceId, "running")
        code, _, body = await browser.post(
            f"/p/alice/instances/{instanceId}/snapshot", {"_csrf": token, "name": "snap"}
        )
        self.assertEqual(code, 303, body)
        _, _, body = await browser.get("/p/alice/images")
        self.assertIn(f"of {instanceId} started.", body)
        images = await self.backends.images.describeImages(contextFor(ALICE))
        self.assertIn("snap", [i.name for i in images])


def formTag(body, action):
    """
    @return: the opening tag of the form of C{body} posting to a URL ending
        in C{/action}, or L{None}.
    """
    match = re.search(r'<form method="post" action="[^"]*/' + re.escape(action) + r'"[^>]*>', body)
    return match.group(0) if match else None


def shown(body, action):
    """
    @return: whether the page has a visible form for C{action}.
    """
    tag = formTag(body, action)
    return tag is not None and " hidden" not in tag


class InstanceActionTests(CloudServerMixin, TestCase):
    """
    The instance page's actions over the fake hypervisor: each is offered
    only in the states it fits and to the roles the role map allows, the
    server refuses it otherwise, and the JSON endpoint follows the
    transitional states.
    """

    timeout = 120

    setUp = DashboardCloudTests.setUp
    _setUp = DashboardCloudTests._setUp
    loggedIn = DashboardCloudTests.loggedIn
    launch = DashboardCloudTests.launch
    instancesJSON = DashboardCloudTests.instancesJSON
    stateOf = DashboardCloudTests.stateOf
    waitState = DashboardCloudTests.waitState

    async def instanceView(self, browser, instanceId):
        for instance in await self.instancesJSON(browser):
            if instance["id"] == instanceId:
                return instance
        raise AssertionError(f"{instanceId} is not listed")

    async def act(self, browser, token, instanceId, action, **fields):
        return await browser.post(
            f"/p/alice/instances/{instanceId}/{action}",
            {"_csrf": token, "back": "instance", **fields},
        )

    async def test_resizeAndRescue(self):
        """
        A sysadmin resizes an instance, reverts, resizes again and
        confirms; rescues and unrescues it.  The instance page shows each
        button only in the state it fits, and no administrators' buttons.
        """
        browser, token = await self.loggedIn(ALICE)
        instanceId = await self.launch(browser, token)
        await self.waitState(browser, instanceId, "running")
        code, _, page = await browser.get(f"/p/alice/instances/{instanceId}")
        self.assertEqual(code, 200, page)
        for action in ("resize", "rescue", "reboot", "stop", "terminate", "snapshot"):
            self.assertTrue(shown(page, action), action)
        for action in ("confirm-resize", "revert-resize", "unrescue", "start"):
            self.assertFalse(shown(page, action), action)
            self.assertIsNotNone(formTag(page, action), action)
        for action in ("pause", "suspend", "lock", "unlock"):
            self.assertIsNone(formTag(page, action), action)
        oldType = (await self.instanceView(browser, instanceId))["type"]
        newType = "m1.tiny" if oldType != "m1.tiny" else "m1.small"
        self.assertIn(f'<option value="{newType}">', page)
        self.assertNotIn(f'<option value="{oldType}">', page.split('id="resize-type"')[1])

        code, headers, body = await self.act(browser, token, instanceId, "resize", type=newType)
        self.assertEqual(code, 303, body)
        self.assertEqual(
            headers.getRawHeaders(b"location"),
            [f"/dashboard/p/alice/instances/{instanceId}".encode()],
        )
        await self.waitState(browser, instanceId, "resized")
        view = await self.instanceView(browser, instanceId)
        self.assertEqual((view["type"], view["oldType"], view["busy"]), (newType, oldType, False))
        _, _, page = await browser.get(f"/p/alice/instances/{instanceId}")
        self.assertIn(f"Resizing {instanceId} to {newType}.", page)
        self.assertTrue(shown(page, "confirm-resize"))
        self.assertTrue(shown(page, "revert-resize"))
        self.assertFalse(shown(page, "resize"))
        self.assertFalse(shown(page, "rescue"))

        code, _, body = await self.act(browser, token, instanceId, "revert-resize")
        self.assertEqual(code, 303, body)
        await self.waitState(browser, instanceId, "running")
        self.assertEqual((await self.instanceView(browser, instanceId))["type"], oldType)

        await self.act(browser, token, instanceId, "resize", type=newType)
        await self.waitState(browser, instanceId, "resized")
        code, _, body = await self.act(browser, token, instanceId, "confirm-resize")
        self.assertEqual(code, 303, body)
        await self.waitState(browser, instanceId, "running")
        view = await self.instanceView(browser, instanceId)
        self.assertEqual((view["type"], view["oldType"]), (newType, None))

        # Confirming again: no resize awaits confirmation.
        code, _, body = await self.act(browser, token, instanceId, "confirm-resize")
        self.assertEqual(code, 400, body)
        self.assertIn("no resize of it awaits confirmation", body)
        self.assertNotIn("Traceback", body)
        code, _, body = await self.act(browser, token, instanceId, "resize", type="m1.nothing")
        self.assertEqual(code, 400, body)
        code, _, body = await self.act(browser, token, instanceId, "resize")
        self.assertEqual(code, 400, body)
        self.assertIn("The field type is required.", body)

        code, _, body = await self.act(browser, token, instanceId, "rescue")
        self.assertEqual(code, 303, body)
        await self.waitState(browser, instanceId, "rescued")
        _, _, page = await browser.get(f"/p/alice/instances/{instanceId}")
        self.assertTrue(shown(page, "unrescue"))
        self.assertFalse(shown(page, "rescue"))
        self.assertFalse(shown(page, "reboot"))
        code, _, body = await self.act(browser, token, instanceId, "reboot")
        self.assertEqual(code, 400, body)
        self.assertIn("is rescued", body)
        await self.act(browser, token, instanceId, "unrescue")
        await self.waitState(browser, instanceId, "running")
        code, _, body = await self.act(browser, token, instanceId, "unrescue")
        self.assertEqual(code, 400, body)
        self.assertIn("cannot be unrescued", body)

    async def test_adminActions(self):
        """
        A sysadmin may not pause, suspend or lock (403, nothing changes);
        an administrator pauses, suspends and locks, and the locked
        instance refuses its owner's reboot until it is unlocked.
        """
        alice, aliceToken = await self.loggedIn(ALICE)
        instanceId = await self.launch(alice, aliceToken)
        await self.waitState(alice, instanceId, "running")
        for action in ("pause", "suspend", "lock"):
            code, _, body = await self.act(alice, aliceToken, instanceId, action)
            self.assertEqual(code, 403, body)
            self.assertIn("is not authorized", body)
        view = await self.instanceView(alice, instanceId)
        self.assertEqual((view["state"], view["locked"]), ("running", False))

        root, rootToken = await self.loggedIn(ROOT)
        _, _, page = await root.get(f"/p/alice/instances/{instanceId}")
        self.assertTrue(shown(page, "pause"))
        self.assertTrue(shown(page, "suspend"))
        self.assertTrue(shown(page, "lock"))
        self.assertFalse(shown(page, "unlock"))
        self.assertFalse(shown(page, "unpause"))
        for action, state in (
            ("pause", "paused"),
            ("unpause", "running"),
            ("suspend", "suspended"),
            ("resume", "running"),
        ):
            code, _, body = await self.act(root, rootToken, instanceId, action)
            self.assertEqual(code, 303, body)
            await self.waitState(root, instanceId, state)
            if state != "running":
                _, _, page = await root.get(f"/p/alice/instances/{instanceId}")
                back = {"paused": "unpause", "suspended": "resume"}[state]
                self.assertTrue(shown(page, back), back)
                self.assertFalse(shown(page, action), action)

        code, _, body = await self.act(root, rootToken, instanceId, "lock")
        self.assertEqual(code, 303, body)
        self.assertTrue((await self.instanceView(alice, instanceId))["locked"])
        _, _, page = await alice.get(f"/p/alice/instances/{instanceId}")
        self.assertIn("An administrator locked this instance", page)
        _, _, page = await root.get(f"/p/alice/instances/{instanceId}")
        self.assertTrue(shown(page, "unlock"))
        self.assertFalse(shown(page, "lock"))
        code, _, body = await self.act(alice, aliceToken, instanceId, "reboot")
        self.assertEqual(code, 400, body)
        self.assertIn("is locked by an administrator", body)
        code, _, body = await self.act(root, rootToken, instanceId, "unlock")
        self.assertEqual(code, 303, body)
        code, _, body = await self.act(alice, aliceToken, instanceId, "reboot")
        self.assertEqual(code, 303, body)

    async def test_otherProjectsInstance(self):
        """
        An instance page of an instance of another project (or none) is
        not found.
        """
        browser, token = await self.loggedIn(ALICE)
        code, _, body = await browser.get("/p/alice/instances/i-0000ffff")
        self.assertIn(code, (400, 404), body)
        self.assertIn("does not exist", body)
        self.assertNotIn("Traceback", body)

    async def test_listsAsJSON(self):
        """
        The volumes, snapshots, images and addresses pages poll JSON
        endpoints that follow their items' states.
        """
        browser, token = await self.loggedIn(ALICE)
        _, _, page = await browser.get("/p/alice/volumes")
        self.assertIn('data-poll="/dashboard/p/alice/volumes.json"', page)
        await browser.post("/p/alice/volumes", {"_csrf": token, "size": "1"})
        [volume] = await self.volumeAPI.describeVolumes(contextFor(ALICE))

        async def volumeState():
            code, headers, body = await browser.get("/p/alice/volumes.json")
            self.assertEqual(code, 200, body)
            self.assertEqual(headers.getRawHeaders(b"content-type"), [b"application/json"])
            [item] = json.loads(body)["volumes"]
            self.assertEqual(item["id"], volume.ec2Id)
            return item

        first = await volumeState()
        self.assertIn(first["state"], ("creating", "available"))
        self.assertEqual(first["busy"], first["state"] == "creating")
        await self.waitFor(lambda: ensureDeferred(self._is(volumeState, "available")))
        await browser.post(f"/p/alice/volumes/{volume.ec2Id}/snapshot", {"_csrf": token})
        _, _, body = await browser.get("/p/alice/volumes.json")
        [snapshot] = json.loads(body)["snapshots"]
        self.assertTrue(snapshot["id"].startswith("snap-"))
        self.assertIn(snapshot["state"], ("creating", "available"))

        _, _, page = await browser.get("/p/alice/images")
        self.assertIn('data-poll="/dashboard/p/alice/images.json"', page)
        _, _, body = await browser.get("/p/alice/images.json")
        images = {i["id"]: i for i in json.loads(body)["images"]}
        self.assertEqual(images[self.image.ec2_id]["state"], "available")
        self.assertIn(images[self.image.ec2_id]["visibility"], ("public", "private"))

        # Addresses: carol is the project's netadmin.
        carol, carolToken = await self.loggedIn(CAROL)
        code, _, body = await carol.post("/p/alice/addresses", {"_csrf": carolToken})
        self.assertEqual(code, 303, body)
        _, _, body = await browser.get("/p/alice/addresses.json")
        [address] = json.loads(body)["addresses"]
        self.assertEqual((address["state"], address["instance"]), ("available", ""))
        instanceId = await self.launch(browser, token)
        await self.waitState(browser, instanceId, "running")
        code, _, body = await carol.post(
            f"/p/alice/addresses/{address['id']}/associate",
            {"_csrf": carolToken, "instance": instanceId},
        )
        self.assertEqual(code, 303, body)
        _, _, body = await browser.get("/p/alice/addresses.json")
        [address] = json.loads(body)["addresses"]
        self.assertEqual((address["state"], address["instance"]), ("associated", instanceId))
        _, _, page = await carol.get("/p/alice/addresses")
        self.assertTrue(shown(page, "disassociate"))
        self.assertFalse(shown(page, "associate"))

        # Without a session the endpoints answer 401 in JSON.
        stranger = Browser(
            StubTreq(dashboardSite(self.config, self.backends, self.authManager, reactor))
        )
        for name in ("volumes", "images", "addresses", "instances"):
            code, _, body = await stranger.get(f"/p/alice/{name}.json")
            self.assertEqual(code, 401, name)
            self.assertIn("log in again", json.loads(body)["error"])

    async def _is(self, read, state):
        return (await read())["state"] == state
