"""
Snapshots and a guest's memory on real QEMU: nova-all with the libvirt
driver (software emulation), driven through boto3 (EC2) and raw HTTP (the
OpenStack API, for pause, unpause, suspend and resume, which EC2 lacks).

One test guest serves every check.  The guest prints C{NOVA BOOT <n> <boot
id>} on each boot, counting the boots of its root disk in the disk's first
sector (C{etc/guest/init}):

 - pausing and suspending keep the guest's memory: after unpause and
   resume no new boot is printed and the boot id is the one it had;
 - C{CreateImage} with EC2's default (no C{NoReboot}) stops the guest
   cleanly for the copy and restores it (again no new boot), and an
   instance of the new image boots the copied disk: C{NOVA BOOT 2};
 - C{CreateImage} with C{NoReboot} copies the disk of the running guest;
 - a server the OpenStack API creates with a personality file finds it on
   its config drive;
 - a resize through the OpenStack API gives the guest the new type's
   memory, a revert the old one's, a confirmation keeps the new.

The guests join a bridge the test makes (no address on this host) and
removes afterwards; their domains have names unique to the run.  The test
skips when libvirtd does not answer (and fails instead under
C{NOVA_TEST_REQUIRE_SERVICES=1}).
"""

import base64
import json
import re
import subprocess
import urllib.error
import urllib.request

from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from tests.integration.libvirtcloud import LibvirtCloudMixin, availableMachineImage
from tests.integration.test_ec2_e2e import waitUntil
from tests.integration import test_libvirt_ec2

_BOOT = re.compile(r"NOVA BOOT (\d+) ([0-9a-f-]{36})")


def boots(console):
    """
    @return: the C{(count, boot id)} of every boot a console shows.
    """
    return [(int(n), bootId) for n, bootId in _BOOT.findall(console)]


class SnapshotTests(LibvirtCloudMixin, TestCase):
    timeout = 600
    bridgePrefix = "nvs"
    openstackAPI = True

    # The EC2 test's preparation (its module, not its class, is imported
    # so that trial does not find its tests here too).
    prepare = test_libvirt_ec2.LibvirtEC2Tests.prepare

    def setUp(self):
        self.setUpLibvirtCloud()

    # -- the OpenStack API -------------------------------------------------

    def openstack(self, method, path, body=None, token=None):
        """
        One request to the OpenStack API (blocking).

        @return: C{(status, headers, decoded JSON or None)}.
        """
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["X-Auth-Token"] = token
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.osPort}{path}", data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw, status, answer = response.read(), response.status, response.headers
        except urllib.error.HTTPError as e:
            raw, status, answer = e.read(), e.code, e.headers
        return status, answer, (json.loads(raw) if raw else None)

    def login(self):
        user = {"name": "admin", "domain": {"name": "Default"}, "password": self.secret}
        auth = {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
        }
        status, headers, body = self.openstack("POST", "/v3/auth/tokens", {"auth": auth})
        self.assertEqual(status, 201, body)
        return headers["X-Subject-Token"]

    # -- the flow ----------------------------------------------------------

    def flow(self):
        ec2 = self.client()
        machine = availableMachineImage(ec2)
        [first] = ec2.run_instances(
            ImageId=machine["ImageId"], MinCount=1, MaxCount=1, InstanceType="m1.tiny"
        )["Instances"]
        firstId = first["InstanceId"]

        def console(instanceId):
            return ec2.get_console_output(InstanceId=instanceId).get("Output", "")

        def ec2State(instanceId):
            [reservation] = ec2.describe_instances(InstanceIds=[instanceId])["Reservations"]
            return reservation["Instances"][0]["State"]["Name"]

        waitUntil(
            lambda: "NOVA READY" in console(firstId),
            timeout=180,
            step=1,
            what="the first guest to be ready",
        )
        [(count, bootId)] = boots(console(firstId))
        self.assertEqual(count, 1)

        token = self.login()
        status, _, body = self.openstack("GET", "/v2.1/servers", token=token)
        self.assertEqual(status, 200, body)
        [server] = body["servers"]
        serverPath = f"/v2.1/servers/{server['id']}"

        def osStatus():
            status, _, body = self.openstack("GET", serverPath, token=token)
            self.assertEqual(status, 200, body)
            return body["server"]["status"]

        for action, during in (("pause", "PAUSED"), ("suspend", "SUSPENDED")):
            undo = {"pause": "unpause", "suspend": "resume"}[action]
            status, _, body = self.openstack("POST", f"{serverPath}/action", {action: None}, token)
            self.assertEqual(status, 202, (action, body))
            waitUntil(lambda: osStatus() == during, timeout=120, step=0.5, what=during)
            status, _, body = self.openstack("POST", f"{serverPath}/action", {undo: None}, token)
            self.assertEqual(status, 202, (undo, body))
            waitUntil(lambda: osStatus() == "ACTIVE", timeout=120, step=0.5, what=f"{undo}d")
            # The same boot goes on: its memory was kept.
            self.assertEqual(boots(console(firstId)), [(1, bootId)], action)

        # EC2's default: the guest is stopped cleanly for the copy.
        imageId = ec2.create_image(InstanceId=firstId, Name="default snapshot")["ImageId"]
        # NoReboot: the disk of the running guest is copied as it is.
        liveId = ec2.create_image(InstanceId=firstId, Name="live snapshot", NoReboot=True)[
            "ImageId"
        ]

        def imageStates():
            return {
                i["ImageId"]: i["State"]
                for i in ec2.describe_images(ImageIds=[imageId, liveId])["Images"]
            }

        waitUntil(
            lambda: "pending" not in imageStates().values(),
            timeout=240,
            step=1,
            what="the snapshots",
        )
        self.assertEqual(imageStates(), {imageId: "available", liveId: "available"})
        self.assertEqual(ec2State(firstId), "running")
        waitUntil(lambda: osStatus() == "ACTIVE", timeout=60, step=0.5, what="ACTIVE again")
        self.assertEqual(boots(console(firstId)), [(1, bootId)])

        [second] = ec2.run_instances(
            ImageId=imageId, MinCount=1, MaxCount=1, InstanceType="m1.tiny"
        )["Instances"]
        # Meanwhile a server of the OpenStack API with a personality file,
        # which its guest reads from its config drive.
        motd = "hello from the compute API"
        status, _, body = self.openstack(
            "POST",
            "/v2.1/servers",
            {
                "server": {
                    "name": "personal",
                    "imageRef": machine["ImageId"],
                    "flavorRef": "1",
                    "personality": [
                        {"path": "/etc/motd", "contents": base64.b64encode(motd.encode()).decode()}
                    ],
                }
            },
            token,
        )
        self.assertEqual(status, 202, body)
        [thirdId] = [
            i["InstanceId"]
            for r in ec2.describe_instances()["Reservations"]
            for i in r["Instances"]
            if i["InstanceId"] not in (firstId, second["InstanceId"])
        ]
        waitUntil(
            lambda: "NOVA READY" in console(second["InstanceId"]),
            timeout=180,
            step=1,
            what="the snapshot's instance to be ready",
        )
        [(count, secondBoot)] = boots(console(second["InstanceId"]))
        self.assertEqual(count, 2)
        self.assertNotEqual(secondBoot, bootId)
        waitUntil(
            lambda: "NOVA READY" in console(thirdId),
            timeout=180,
            step=1,
            what="the personality server to be ready",
        )
        third = console(thirdId)
        self.assertIn("NOVA CONFIG-DRIVE uuid=", third)
        self.assertIn(f"NOVA CONFIG-DRIVE-FILE /etc/motd {motd}\r\n", third)
        # A resize through the OpenStack API: the guest has m1.small's
        # memory until a revert gives it m1.tiny's again; a confirmed resize
        # keeps it, and EC2 shows the new type.
        domain = f"{self.domainPrefix}{self.run}-{firstId[2:]}"

        def memoryMiB():
            info = subprocess.run(
                ["virsh", "-c", "qemu:///system", "dominfo", domain],
                capture_output=True, text=True, check=True, timeout=60,
            ).stdout
            return int(re.search(r"Max memory:\s+(\d+) KiB", info).group(1)) // 1024

        status, _, body = self.openstack("GET", "/v2.1/flavors/detail", token=token)
        self.assertEqual(status, 200, body)
        flavors = {flavor["name"]: flavor for flavor in body["flavors"]}
        tiny, small = flavors["m1.tiny"], flavors["m1.small"]
        self.assertEqual(memoryMiB(), tiny["ram"])
        for finish, after in (("revertResize", tiny), ("confirmResize", small)):
            status, _, body = self.openstack(
                "POST", f"{serverPath}/action", {"resize": {"flavorRef": small["id"]}}, token
            )
            self.assertEqual(status, 202, body)
            waitUntil(
                lambda: osStatus() == "VERIFY_RESIZE", timeout=180, step=1, what="VERIFY_RESIZE"
            )
            self.assertEqual(memoryMiB(), small["ram"])
            status, _, body = self.openstack("POST", f"{serverPath}/action", {finish: None}, token)
            self.assertIn(status, (202, 204), (finish, body))
            waitUntil(lambda: osStatus() == "ACTIVE", timeout=180, step=1, what=f"{finish} done")
            self.assertEqual(memoryMiB(), after["ram"], finish)
        [reservation] = ec2.describe_instances(InstanceIds=[firstId])["Reservations"]
        self.assertEqual(reservation["Instances"][0]["InstanceType"], "m1.small")

        ec2.terminate_instances(InstanceIds=[firstId, second["InstanceId"], thirdId])
        waitUntil(lambda: self.domains() == [], timeout=120, what="no domains left")

    @defer.inlineCallbacks
    def test_snapshotsAndMemory(self):
        daemon = yield self.startNovaAll()
        yield deferToThread(self.flow)
        code = yield daemon.stop()
        self.assertIn(code, (0, -15))
        self.assertNotIn("Traceback", daemon.log())
