"""
Tests for L{nova.api.openstack.compute} through the web tree: flavors,
images, servers, actions, key pairs, limits, zones, microversions,
faults and policy.
"""

import base64

from twisted.trial.unittest import TestCase

from tests.api.ec2.cloud import ALICE, BOB, ERIN, ROOT, contextFor
from tests.api.openstack.support import OpenStackCloudMixin


class ComputeTestsMixin(OpenStackCloudMixin):
    async def setUp(self):
        await self.startOpenStack()
        self.image = await self.addImage(name="cirros")
        self.token = await self.login()

    async def get(self, path, token=None, **kw):
        return await self.call("GET", path, token=token or self.token, **kw)

    async def create(self, token=None, **server):
        server.setdefault("name", "web")
        server.setdefault("imageRef", self.image.ec2_id)
        server.setdefault("flavorRef", "1")
        return await self.call("POST", "/v2.1/servers", {"server": server}, token or self.token)

    async def createActive(self, **server):
        status, _, body = await self.create(**server)
        self.assertEqual(status, 202, body)
        serverId = body["server"]["id"]

        async def active():
            _, _, shown = await self.get(f"/v2.1/servers/{serverId}")
            return shown["server"] if shown["server"]["status"] == "ACTIVE" else None

        return await self.waitFor(active)


class VersionTests(ComputeTestsMixin, TestCase):
    async def test_versionDocument(self):
        for path in ("/v2.1", "/v2.1/"):
            status, _, body = await self.call("GET", path)
            self.assertEqual(status, 200)
            version = body["version"]
            self.assertEqual(
                (version["id"], version["min_version"], version["version"]),
                ("v2.1", "2.1", "2.1"),
            )
        status, _, body = await self.call("GET", "/v2/")
        self.assertEqual((status, body["version"]["version"]), (200, ""))

    async def test_v11VersionDocument(self):
        """
        C{/v1.1/} describes v1.1 (Cactus's current version, now
        deprecated), without microversions, linking to itself; the
        versions list at C{/} holds the same entry.
        """
        base = f"http://127.0.0.1:{self.osPort}"
        for path in ("/v1.1", "/v1.1/"):
            status, _, body = await self.call("GET", path)
            self.assertEqual(status, 200, body)
            version = body["version"]
            self.assertEqual(
                (version["id"], version["status"], version["version"], version["min_version"]),
                ("v1.1", "DEPRECATED", "", ""),
            )
            self.assertEqual(version["links"], [{"rel": "self", "href": f"{base}/v1.1/"}])
            self.assertEqual(
                [m["type"] for m in version["media-types"]],
                ["application/vnd.openstack.compute+json;version=1.1"],
            )
        _, _, listed = await self.call("GET", "/")
        self.assertEqual([v for v in listed["versions"] if v["id"] == "v1.1"], [version])
        status, _, body = await self.call("GET", "/v2/")
        self.assertEqual((body["version"]["id"], body["version"]["status"]), ("v2.0", "SUPPORTED"))

    async def test_microversions(self):
        for headers, expected in (
            ({}, 200),
            ({"OpenStack-API-Version": "compute 2.1"}, 200),
            ({"X-OpenStack-Nova-API-Version": "2.1"}, 200),
            ({"OpenStack-API-Version": "compute latest"}, 200),
            ({"OpenStack-API-Version": "compute 2.79"}, 406),
            ({"X-OpenStack-Nova-API-Version": "2.0"}, 406),
            ({"OpenStack-API-Version": "compute two"}, 400),
        ):
            status, answerHeaders, body = await self.get("/v2.1/flavors", headers=headers)
            self.assertEqual(status, expected, (headers, body))
            self.assertEqual(answerHeaders["openstack-api-version"], "compute 2.1")
            self.assertEqual(answerHeaders["x-openstack-nova-api-version"], "2.1")
        status, _, body = await self.get(
            "/v2.1/flavors", headers={"OpenStack-API-Version": "compute 2.79"}
        )
        self.assertEqual(body["notAcceptable"]["code"], 406)

    async def test_legacyMountsIgnoreMicroversions(self):
        for mount in ("v2", "v1.1"):
            status, headers, body = await self.get(
                f"/{mount}/flavors", headers={"OpenStack-API-Version": "compute 2.79"}
            )
            self.assertEqual(status, 200, body)
            self.assertNotIn("openstack-api-version", headers)

    async def test_methodNotAllowed(self):
        status, headers, body = await self.call("PATCH", "/v2.1/flavors", {}, self.token)
        self.assertEqual(status, 405)
        self.assertEqual(body["methodNotAllowed"]["code"], 405)
        self.assertEqual(headers["allow"], "GET")

    async def test_malformedBody(self):
        status, _, body = await self.call("POST", "/v2.1/servers", b"{nope", self.token)
        self.assertEqual((status, list(body)), (400, ["badRequest"]))

    async def test_tooLarge(self):
        status, _, body = await self.call(
            "POST", "/v2.1/servers", b"x" * (1024 * 1024 + 1), self.token
        )
        self.assertEqual((status, list(body)), (413, ["overLimit"]))


class FlavorAndImageTests(ComputeTestsMixin, TestCase):
    async def test_flavors(self):
        status, _, body = await self.get("/v2.1/flavors")
        self.assertEqual(status, 200)
        names = [f["name"] for f in body["flavors"]]
        self.assertEqual(names[0], "m1.tiny")
        self.assertEqual(set(body["flavors"][0]), {"id", "name", "links"})
        _, _, detail = await self.get("/v2.1/flavors/detail")
        tiny = detail["flavors"][0]
        self.assertEqual((tiny["id"], tiny["ram"], tiny["vcpus"]), ("1", 512, 1))
        status, _, shown = await self.get("/v2.1/flavors/1")
        self.assertEqual((status, shown["flavor"]["name"]), (200, "m1.tiny"))
        status, _, missing = await self.get("/v2.1/flavors/999")
        self.assertEqual((status, missing["itemNotFound"]["code"]), (404, 404))

    async def test_images(self):
        await self.addImage(imageType="kernel", name="vmlinuz")
        status, _, body = await self.get("/v2.1/images/detail")
        self.assertEqual(status, 200)
        self.assertEqual(
            [(i["id"], i["name"], i["status"]) for i in body["images"]],
            [(self.image.ec2_id, "cirros", "ACTIVE")],
        )
        status, _, shown = await self.get(f"/v2.1/images/{self.image.ec2_id}")
        self.assertEqual((status, shown["image"]["name"]), (200, "cirros"))
        for bad in ("ami-99999999", "nonsense"):
            status, _, missing = await self.get(f"/v2.1/images/{bad}")
            self.assertEqual(status, 404, missing)

    async def test_imageAPI(self):
        await self.addImage(imageType="kernel", name="vmlinuz")
        await self.addImage(projectId=BOB.name, name="bobs")
        status, _, body = await self.get("/image/v2/images")
        self.assertEqual(status, 200)
        self.assertEqual(sorted(i["name"] for i in body["images"]), ["cirros", "vmlinuz"])
        _, _, named = await self.get("/image/v2/images?name=cirros")
        self.assertEqual([i["id"] for i in named["images"]], [self.image.ec2_id])
        _, _, active = await self.get("/image/v2/images?status=queued")
        self.assertEqual(active["images"], [])
        _, _, byId = await self.get(f"/image/v2/images?id=in:{self.image.ec2_id},ami-1")
        self.assertEqual([i["name"] for i in byId["images"]], ["cirros"])
        status, _, shown = await self.get(f"/image/v2/images/{self.image.ec2_id}")
        self.assertEqual((status, shown["visibility"], shown["status"]), (200, "private", "active"))
        status, _, _ = await self.get("/image/v2/images/ami-99999999")
        self.assertEqual(status, 404)
        status, _, versions = await self.call("GET", "/image")
        self.assertEqual(versions["versions"][0]["id"], "v2.9")


class ServerTests(ComputeTestsMixin, TestCase):
    async def test_createShowListDelete(self):
        status, headers, body = await self.create(
            user_data=base64.b64encode(b"#!/bin/sh\n").decode()
        )
        self.assertEqual(status, 202, body)
        server = body["server"]
        self.assertEqual(len(server["adminPass"]), 12)
        self.assertEqual(headers["location"].rsplit("/", 1)[1], server["id"])
        record = (await self.computeAPI.describeInstances(contextFor(ALICE)))[0]
        self.assertEqual((record.uuid, record.display_name), (server["id"], "web"))
        self.assertEqual(record.user_data, base64.b64encode(b"#!/bin/sh\n").decode())
        shown = await self.createActive(name="other")
        self.assertEqual(shown["name"], "other")
        self.assertEqual(shown["flavor"]["id"], "1")
        self.assertEqual(shown["image"]["id"], self.image.ec2_id)
        self.assertEqual(shown["tenant_id"], "alice")
        self.assertEqual(shown["security_groups"], [{"name": "default"}])
        [address] = shown["addresses"]["private"]
        self.assertEqual(address["OS-EXT-IPS:type"], "fixed")
        _, _, listed = await self.get("/v2.1/servers")
        self.assertEqual(sorted(s["name"] for s in listed["servers"]), ["other", "web"])
        self.assertEqual(set(listed["servers"][0]), {"id", "name", "links"})
        _, _, filtered = await self.get("/v2.1/servers/detail?name=oth&status=active")
        self.assertEqual([s["id"] for s in filtered["servers"]], [shown["id"]])
        status, _, _ = await self.call("DELETE", f"/v2.1/servers/{shown['id']}", token=self.token)
        self.assertEqual(status, 204)

        async def gone():
            status, _, _ = await self.get(f"/v2.1/servers/{shown['id']}")
            return status == 404

        await self.waitFor(gone)

    async def test_floatingAddressShown(self):
        shown = await self.createActive()
        context = contextFor(ALICE)
        address = await self.networkAPI.allocateFloatingIp(context)
        record = (await self.computeAPI.describeInstances(context))[0]
        await self.networkAPI.associateFloatingIp(context, address, record.id)
        _, _, body = await self.get(f"/v2.1/servers/{shown['id']}")
        kinds = [a["OS-EXT-IPS:type"] for a in body["server"]["addresses"]["private"]]
        self.assertEqual(kinds, ["fixed", "floating"])

    async def test_multiple(self):
        status, _, body = await self.create(min_count=2, max_count=2, name="many")
        self.assertEqual(status, 202, body)
        _, _, listed = await self.get("/v2.1/servers")
        self.assertEqual(sorted(s["name"] for s in listed["servers"]), ["many-1", "many-2"])

    async def test_badRequests(self):
        for server, message in (
            ({"imageRef": "ami-99999999"}, "image"),
            ({"flavorRef": "99"}, "Flavor"),
            ({"name": ""}, "name"),
            ({"key_name": "nokey"}, "key_name"),
            ({"security_groups": [{"name": "nogroup"}]}, "nogroup"),
            ({"user_data": "!!!"}, "base64"),
            ({"min_count": 0}, "min_count"),
            ({"availability_zone": "nowhere"}, "nowhere"),
            ({"networks": [{"uuid": "x"}]}, "networks"),
        ):
            status, _, body = await self.create(**server)
            self.assertEqual(status, 400, (server, body))
            self.assertIn(message, body["badRequest"]["message"])

    async def test_quota(self):
        status, _, body = await self.create(min_count=11, max_count=11)
        self.assertEqual(status, 403, body)
        self.assertIn("Quota exceeded", body["forbidden"]["message"])

    async def test_rename(self):
        shown = await self.createActive()
        status, _, body = await self.call(
            "PUT", f"/v2.1/servers/{shown['id']}", {"server": {"name": "renamed"}}, self.token
        )
        self.assertEqual((status, body["server"]["name"]), (200, "renamed"))
        status, _, body = await self.call(
            "PUT", f"/v2.1/servers/{shown['id']}", {"server": {"flavor": "x"}}, self.token
        )
        self.assertEqual(status, 400, body)

    async def test_actions(self):
        shown = await self.createActive()
        path = f"/v2.1/servers/{shown['id']}/action"

        async def status(expected):
            async def check():
                _, _, body = await self.get(f"/v2.1/servers/{shown['id']}")
                return body["server"]["status"] == expected

            await self.waitFor(check)

        for action, expected in (
            ({"reboot": {"type": "HARD"}}, "ACTIVE"),
            ({"pause": None}, "PAUSED"),
            ({"unpause": None}, "ACTIVE"),
            ({"suspend": None}, "SUSPENDED"),
            ({"resume": None}, "ACTIVE"),
            ({"os-stop": None}, "SHUTOFF"),
            ({"os-start": None}, "ACTIVE"),
        ):
            code, _, body = await self.call("POST", path, action, self.token)
            self.assertEqual(code, 202, (action, body))
            await status(expected)
        code, _, body = await self.call("POST", path, {"os-start": None}, self.token)
        self.assertEqual(code, 202, body)
        code, _, body = await self.call("POST", path, {"os-stop": None}, self.token)
        await status("SHUTOFF")
        code, _, body = await self.call("POST", path, {"reboot": {"type": "SOFT"}}, self.token)
        self.assertEqual((code, list(body)), (409, ["conflict"]))
        for bad in ({"reboot": {"type": "GENTLE"}}, {"resize": {}}, {}):
            code, _, body = await self.call("POST", path, bad, self.token)
            self.assertEqual(code, 400, bad)

    async def test_otherProjectsServersNotFound(self):
        shown = await self.createActive()
        bobToken = await self.login(BOB)
        for method in ("GET", "DELETE"):
            status, _, body = await self.call(
                method, f"/v2.1/servers/{shown['id']}", token=bobToken
            )
            self.assertEqual(status, 404, body)
        status, _, body = await self.call("GET", "/v2.1/servers/not-a-uuid", token=self.token)
        self.assertEqual(status, 404, body)
        rootToken = await self.login(ROOT)
        _, _, listed = await self.get("/v2.1/servers", token=rootToken)
        self.assertEqual([s["id"] for s in listed["servers"]], [shown["id"]])

    async def test_policy(self):
        """
        erin, a member of alice without roles, may list servers but not
        create or delete them (RunInstances needs sysadmin or the project
        manager).
        """
        shown = await self.createActive()
        erin = await self.login(ERIN, "alice")
        status, _, listed = await self.get("/v2.1/servers", token=erin)
        self.assertEqual((status, len(listed["servers"])), (200, 1))
        status, _, body = await self.create(token=erin)
        self.assertEqual((status, list(body)), (403, ["forbidden"]))
        status, _, body = await self.call("DELETE", f"/v2.1/servers/{shown['id']}", token=erin)
        self.assertEqual(status, 403, body)

    async def test_internalErrorHidesTraceback(self):
        def broken(*args, **kwargs):
            raise RuntimeError("secret internals")

        self.patch(self.computeAPI, "describeInstances", broken)
        status, _, body = await self.get("/v2.1/servers")
        self.assertEqual(status, 500)
        self.assertNotIn("secret", body["computeFault"]["message"])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)


class KeyPairAndLimitTests(ComputeTestsMixin, TestCase):
    async def test_keypairs(self):
        status, _, body = await self.call(
            "POST", "/v2.1/os-keypairs", {"keypair": {"name": "k1"}}, self.token
        )
        self.assertEqual(status, 200, body)
        created = body["keypair"]
        self.assertIn("PRIVATE KEY", created["private_key"])
        status, _, body = await self.call(
            "POST", "/v2.1/os-keypairs", {"keypair": {"name": "k1"}}, self.token
        )
        self.assertEqual((status, list(body)), (409, ["conflict"]))
        status, _, body = await self.call(
            "POST",
            "/v2.1/os-keypairs",
            {"keypair": {"name": "k2", "public_key": created["public_key"]}},
            self.token,
        )
        self.assertEqual(status, 200, body)
        self.assertNotIn("private_key", body["keypair"])
        status, _, body = await self.call(
            "POST", "/v2.1/os-keypairs",
            {"keypair": {"name": "k3", "public_key": "garbage"}}, self.token,
        )
        self.assertEqual(status, 400, body)
        _, _, listed = await self.get("/v2.1/os-keypairs")
        self.assertEqual([k["keypair"]["name"] for k in listed["keypairs"]], ["k1", "k2"])
        status, _, shown = await self.get("/v2.1/os-keypairs/k1")
        self.assertEqual((status, shown["keypair"]["user_id"]), (200, "alice"))
        status, _, _ = await self.call("DELETE", "/v2.1/os-keypairs/k2", token=self.token)
        self.assertEqual(status, 202)
        for method in ("GET", "DELETE"):
            status, _, body = await self.call(method, "/v2.1/os-keypairs/k2", token=self.token)
            self.assertEqual(status, 404, body)

    async def test_keyInjected(self):
        await self.call("POST", "/v2.1/os-keypairs", {"keypair": {"name": "k1"}}, self.token)
        shown = await self.createActive(key_name="k1")
        self.assertEqual(shown["key_name"], "k1")
        record = (await self.computeAPI.describeInstances(contextFor(ALICE)))[0]
        self.assertTrue(record.key_data.startswith("ssh-rsa "))

    async def test_configDriveAndPersonality(self):
        """
        C{config_drive} and C{personality} reach the compute host: the
        driver is handed both (the files decoded); the server shows
        C{config_drive}.  Bad or too many files are the API's faults.
        """
        files = [
            {"path": "/etc/motd", "contents": base64.b64encode(b"hello\n").decode()},
            {"path": "/root/note", "contents": base64.b64encode(b"\x00\xff").decode()},
        ]
        shown = await self.createActive(config_drive=True, personality=files)
        self.assertEqual(shown["config_drive"], "True")
        record = (await self.computeAPI.describeInstances(contextFor(ALICE)))[0]
        spec = self.guestOf(record).spec
        self.assertTrue(spec.configDrive)
        self.assertEqual(
            spec.personality, (("/etc/motd", b"hello\n"), ("/root/note", b"\x00\xff"))
        )
        plain = await self.createActive(name="plain")
        self.assertEqual(plain["config_drive"], "")
        for server, status, fault in (
            ({"config_drive": "maybe"}, 400, "badRequest"),
            ({"personality": [{"path": "/a", "contents": "!!"}]}, 400, "badRequest"),
            ({"personality": [{"path": "a", "contents": "aGk="}]}, 400, "badRequest"),
            ({"personality": [{"path": f"/f{i}", "contents": "aGk="} for i in range(6)]},
             413, "overLimit"),
        ):
            got, _, body = await self.create(**server)
            self.assertEqual((got, list(body)), (status, [fault]), server)

    async def test_limits(self):
        await self.createActive()
        status, _, body = await self.get("/v2.1/limits")
        self.assertEqual(status, 200)
        absolute = body["limits"]["absolute"]
        self.assertEqual(absolute["maxTotalInstances"], 10)
        self.assertEqual(absolute["totalInstancesUsed"], 1)
        self.assertEqual(absolute["totalCoresUsed"], 1)
        self.assertEqual(absolute["totalRAMUsed"], 512)
        self.assertEqual(absolute["maxTotalFloatingIps"], 10)

    async def test_availabilityZones(self):
        status, _, body = await self.get("/v2.1/os-availability-zone")
        self.assertEqual(status, 200)
        self.assertEqual(
            body["availabilityZoneInfo"],
            [{"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}],
        )
