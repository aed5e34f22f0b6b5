"""
Tests for L{nova.api.openstack.v10} (the OpenStack API v1.0) through raw
HTTP: authentication, JSON and XML both ways, servers, actions,
addresses, images, flavors, paging, changes-since, rate limits, faults,
the admin parts and what answers 501.
"""

import json
from xml.etree import ElementTree

from twisted.internet.task import Clock
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from nova.api.openstack.xml import V10_NAMESPACE
from tests.api.ec2.cloud import ALICE, BOB, ERIN, ROOT
from tests.api.ec2.support import _rawRequest
from tests.api.openstack.support import OpenStackCloudMixin

NS = "{" + V10_NAMESPACE + "}"


class V10Mixin(OpenStackCloudMixin):
    clock = None
    flags = {}

    async def setUp(self):
        await self.startOpenStack(clock=self.clock, **self.flags)
        self.image = await self.addImage(name="cirros")
        self.token = await self.authenticate()

    async def raw(self, method, path, body=None, token=None, headers=None):
        """
        @return: C{(status, lower-cased headers, body bytes)}.
        """
        sent = dict(headers or {})
        if token is not None:
            sent["X-Auth-Token"] = token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
            sent.setdefault("Content-Type", "application/json")
        response = await deferToThread(_rawRequest, self.osPort, method, path, body, sent)
        return (
            response.status,
            {k.lower(): v for k, v in response.headers.items()},
            response.body,
        )

    async def json(self, method, path, body=None, token=None, headers=None):
        status, headers, data = await self.raw(
            method, path, body, self.token if token is None else token, headers
        )
        return status, headers, (json.loads(data) if data else None)

    async def authenticate(self, user=ALICE, key=None, project=None):
        headers = {"X-Auth-User": user.name, "X-Auth-Key": key or user.access}
        if project is not None:
            headers["X-Auth-Project-Id"] = project
        status, answer, body = await self.raw("GET", "/v1.0", headers=headers)
        self.assertEqual(status, 204, body)
        return answer["x-auth-token"]

    async def createServer(self, **server):
        server.setdefault("name", "web")
        server.setdefault("imageId", self.image.ec2_id)
        server.setdefault("flavorId", 1)
        status, _, body = await self.json("POST", "/v1.0/servers", {"server": server})
        self.assertEqual(status, 202, body)
        return body["server"]

    async def status(self, serverId, wanted):
        async def check():
            _, _, body = await self.json("GET", f"/v1.0/servers/{serverId}")
            return body["server"] if body["server"]["status"] == wanted else None

        return await self.waitFor(check)

    def active(self, serverId):
        return self.status(serverId, "ACTIVE")


class AuthenticationTests(V10Mixin, TestCase):
    async def test_headers(self):
        status, headers, body = await self.raw(
            "GET", "/v1.0", headers={"X-Auth-User": "alice", "X-Auth-Key": ALICE.access}
        )
        self.assertEqual((status, body), (204, b""))
        self.assertEqual(headers["x-server-management-url"], f"http://127.0.0.1:{self.osPort}/v1.0")
        self.assertIn("x-storage-url", headers)
        self.assertIn("x-cdn-management-url", headers)
        status, _, flavors = await self.json("GET", "/v1.0/flavors", token=headers["x-auth-token"])
        self.assertEqual(status, 200)

    async def test_refused(self):
        for headers in (
            {},
            {"X-Auth-User": "alice"},
            {"X-Auth-User": "alice", "X-Auth-Key": "wrong"},
            {"X-Auth-User": "alice", "X-Auth-Key": ALICE.secret},
            {"X-Auth-User": "nobody", "X-Auth-Key": ALICE.access},
            {"X-Auth-User": "erin", "X-Auth-Key": ERIN.access, "X-Auth-Project-Id": "bob"},
        ):
            status, _, body = await self.raw("GET", "/v1.0", headers=headers)
            self.assertEqual(status, 401, headers)
            self.assertEqual(json.loads(body)["unauthorized"]["code"], 401)

    async def test_projectChoice(self):
        # erin's first (and only) project is alice's.
        erin = await self.authenticate(ERIN)
        record = await self.db.tokens.get(erin)
        self.assertEqual((record.user_id, record.project_id), ("erin", "alice"))
        self.assertGreater((record.expires_at - record.created_at).total_seconds(), 47 * 3600)
        scoped = await self.authenticate(ERIN, project="alice")
        self.assertEqual((await self.db.tokens.get(scoped)).project_id, "alice")

    async def test_badToken(self):
        status, _, body = await self.json("GET", "/v1.0/servers", token="nope")
        self.assertEqual((status, body["unauthorized"]["code"]), (401, 401))


class ResourceTests(V10Mixin, TestCase):
    async def test_flavors(self):
        status, _, body = await self.json("GET", "/v1.0/flavors")
        self.assertEqual(status, 200)
        self.assertEqual(body["flavors"][0], {"id": 1, "name": "m1.tiny"})
        _, _, detail = await self.json("GET", "/v1.0/flavors/detail")
        self.assertEqual(
            detail["flavors"][0], {"id": 1, "name": "m1.tiny", "ram": 512, "disk": 0, "vcpus": 1}
        )
        status, _, body = await self.json("GET", "/v1.0/flavors/999")
        self.assertEqual(status, 404)
        self.assertEqual(body["itemNotFound"]["code"], 404)
        self.assertEqual(body["itemNotFound"]["details"], "Not Found")

    async def test_flavorsXML(self):
        for path, headers in (
            ("/v1.0/flavors/detail.xml", {}),
            ("/v1.0/flavors/detail", {"Accept": "application/xml"}),
        ):
            status, answer, data = await self.raw("GET", path, token=self.token, headers=headers)
            self.assertEqual(status, 200)
            self.assertTrue(answer["content-type"].startswith("application/xml"))
            root = ElementTree.fromstring(data)
            self.assertEqual(root.tag, NS + "flavors")
            tiny = root.findall(NS + "flavor")[0]
            self.assertEqual((tiny.get("id"), tiny.get("name"), tiny.get("ram")), ("1", "m1.tiny", "512"))
        status, answer, data = await self.raw(
            "GET", "/v1.0/flavors.json", token=self.token, headers={"Accept": "application/xml"}
        )
        self.assertEqual(json.loads(data)["flavors"][0]["name"], "m1.tiny")

    async def test_images(self):
        status, _, body = await self.json("GET", "/v1.0/images/detail")
        self.assertEqual(status, 200)
        [image] = body["images"]
        self.assertEqual(
            (image["id"], image["name"], image["status"]), (self.image.ec2_id, "cirros", "ACTIVE")
        )
        status, _, body = await self.json("GET", f"/v1.0/images/{self.image.ec2_id}")
        self.assertEqual((status, body["image"]["name"]), (200, "cirros"))
        status, _, body = await self.json("GET", "/v1.0/images/ami-deadbeef")
        self.assertEqual(status, 404)

    async def test_serverLifeJSON(self):
        server = await self.createServer(name="web")
        self.assertEqual(len(server["adminPass"]), 12)
        self.assertIsInstance(server["id"], int)
        shown = await self.active(server["id"])
        self.assertEqual((shown["name"], shown["flavorId"], shown["imageId"]), ("web", 1, self.image.ec2_id))
        self.assertEqual(shown["addresses"]["public"], [])
        [fixed] = shown["addresses"]["private"]
        self.assertTrue(fixed.startswith("10.0.0."))
        _, _, ips = await self.json("GET", f"/v1.0/servers/{server['id']}/ips")
        self.assertEqual(ips["addresses"], shown["addresses"])
        _, _, private = await self.json("GET", f"/v1.0/servers/{server['id']}/ips/private")
        self.assertEqual(private, {"private": [fixed]})
        status, _, _ = await self.json("GET", f"/v1.0/servers/{server['id']}/ips/nowhere")
        self.assertEqual(status, 404)
        _, _, listed = await self.json("GET", "/v1.0/servers")
        self.assertEqual(listed["servers"], [{"id": server["id"], "name": "web"}])
        status, _, body = await self.json(
            "PUT", f"/v1.0/servers/{server['id']}", {"server": {"name": "www"}}
        )
        self.assertEqual(status, 204, body)
        _, _, detail = await self.json("GET", "/v1.0/servers/detail")
        self.assertEqual([s["name"] for s in detail["servers"]], ["www"])
        status, _, body = await self.json(
            "POST", f"/v1.0/servers/{server['id']}/action", {"reboot": {"type": "HARD"}}
        )
        self.assertEqual(status, 202, body)
        status, _, body = await self.json(
            "POST", f"/v1.0/servers/{server['id']}/action", {"reboot": {"type": "GENTLE"}}
        )
        self.assertEqual((status, list(body)), (400, ["badRequest"]))
        await self.active(server["id"])
        status, _, _ = await self.json("DELETE", f"/v1.0/servers/{server['id']}")
        self.assertEqual(status, 202)
        status, _, body = await self.json("GET", f"/v1.0/servers/{server['id']}")
        self.assertEqual((status, list(body)), (404, ["itemNotFound"]))

    async def test_metadata(self):
        server = await self.createServer(metadata={"role": "web", "tier": "1"})
        self.assertEqual(server["metadata"], {"role": "web", "tier": "1"})
        _, _, body = await self.json("GET", "/v1.0/servers/detail")
        self.assertEqual(body["servers"][0]["metadata"], {"role": "web", "tier": "1"})
        # The same pairs are the instance's EC2 tags.
        instance = await self.backends.compute.getInstance(self.alice(), server["id"])
        tags = await self.backends.tags.tagsOf(self.alice(), [instance.ec2Id])
        self.assertEqual(tags[instance.ec2Id], {"role": "web", "tier": "1"})
        status, _, data = await self.raw("GET", f"/v1.0/servers/{server['id']}.xml", token=self.token)
        root = ElementTree.fromstring(data)
        metas = {m.get("key"): m.text for m in root.findall(f"{NS}metadata/{NS}meta")}
        self.assertEqual(metas, {"role": "web", "tier": "1"})

    def alice(self):
        from tests.api.ec2.cloud import contextFor

        return contextFor(ALICE)

    async def test_createXML(self):
        data = (
            f'<server xmlns="{V10_NAMESPACE}" name="xweb" imageId="{self.image.ec2_id}" '
            'flavorId="1"><metadata><meta key="a">b</meta></metadata></server>'
        ).encode("utf-8")
        status, headers, body = await self.raw(
            "POST",
            "/v1.0/servers",
            data,
            self.token,
            {"Content-Type": "application/xml", "Accept": "application/xml"},
        )
        self.assertEqual(status, 202, body)
        root = ElementTree.fromstring(body)
        self.assertEqual((root.tag, root.get("name")), (NS + "server", "xweb"))
        self.assertTrue(root.get("adminPass"))
        self.assertEqual(root.get("imageId"), self.image.ec2_id)
        [meta] = root.findall(f"{NS}metadata/{NS}meta")
        self.assertEqual((meta.get("key"), meta.text), ("a", "b"))
        serverId = root.get("id")
        await self.active(serverId)
        status, _, body = await self.raw(
            "GET", f"/v1.0/servers/{serverId}.xml", token=self.token
        )
        root = ElementTree.fromstring(body)
        [ip] = root.findall(f"{NS}addresses/{NS}private/{NS}ip")
        self.assertTrue(ip.get("addr").startswith("10.0.0."))
        _, _, body = await self.raw("GET", f"/v1.0/servers/{serverId}/ips.xml", token=self.token)
        root = ElementTree.fromstring(body)
        self.assertEqual(root.tag, NS + "addresses")
        self.assertEqual([e.get("addr") for e in root.findall(f"{NS}private/{NS}ip")], [ip.get("addr")])
        self.assertEqual(root.findall(f"{NS}public/{NS}ip"), [])
        _, _, body = await self.raw(
            "GET", f"/v1.0/servers/{serverId}/ips/private.xml", token=self.token
        )
        root = ElementTree.fromstring(body)
        self.assertEqual([e.get("addr") for e in root.findall(f"{NS}ip")], [ip.get("addr")])
        # XML actions.
        status, _, body = await self.raw(
            "POST",
            f"/v1.0/servers/{serverId}/action",
            f'<reboot xmlns="{V10_NAMESPACE}" type="SOFT"/>'.encode(),
            self.token,
            {"Content-Type": "application/xml"},
        )
        self.assertEqual(status, 202, body)

    async def test_badXML(self):
        for data in (
            b"<server name='x'",
            b'<!DOCTYPE x [<!ENTITY a "aaaa">]><server name="&a;"/>',
        ):
            status, headers, body = await self.raw(
                "POST",
                "/v1.0/servers",
                data,
                self.token,
                {"Content-Type": "application/xml", "Accept": "application/xml"},
            )
            self.assertEqual(status, 400)
            root = ElementTree.fromstring(body)
            self.assertEqual((root.tag, root.get("code")), (NS + "badRequest", "400"))
            self.assertTrue(root.find(NS + "message").text)

    async def test_createFaults(self):
        for server, fault in (
            ({"name": ""}, "badRequest"),
            ({"flavorId": 999}, "badRequest"),
            ({"imageId": "ami-deadbeef"}, "badRequest"),
            ({"metadata": ["x"]}, "badRequest"),
            ({"metadata": {"k": "v" * 256}}, "badRequest"),
            ({"metadata": {f"k{i}": "v" for i in range(51)}}, "overLimit"),
            ({"personality": [{"path": "/etc/motd", "contents": "!!"}]}, "badRequest"),
            ({"personality": [{"path": "etc/motd", "contents": "aGk="}]}, "badRequest"),
            ({"personality": [{"path": f"/f{i}", "contents": "aGk="} for i in range(6)]},
             "overLimit"),
            ({"personality": [{"path": "/big", "contents": "aGlo" * 4000}]}, "overLimit"),
        ):
            server.setdefault("name", "web")
            server.setdefault("imageId", self.image.ec2_id)
            server.setdefault("flavorId", 1)
            status, _, body = await self.json("POST", "/v1.0/servers", {"server": server})
            self.assertEqual(list(body), [fault], server)
            self.assertEqual(body[fault]["code"], status)
        status, _, body = await self.json(
            "POST", "/v1.0/servers", b"{nope", headers={"Content-Type": "application/json"}
        )
        self.assertEqual((status, list(body)), (400, ["badRequest"]))
        status, _, body = await self.json(
            "POST", "/v1.0/servers", b"x", headers={"Content-Type": "text/plain"}
        )
        self.assertEqual((status, list(body)), (415, ["badMediaType"]))

    async def test_methodAndPath(self):
        status, headers, body = await self.json("PATCH", "/v1.0/flavors", {})
        self.assertEqual((status, list(body)), (405, ["badMethod"]))
        status, _, body = await self.json("GET", "/v1.0/nothing")
        self.assertEqual((status, list(body)), (404, ["itemNotFound"]))

    async def test_notImplemented(self):
        server = await self.createServer()
        for method, path in (
            ("GET", f"/v1.0/servers/{server['id']}/backup_schedule"),
            ("GET", "/v1.0/shared_ip_groups"),
            ("GET", "/v1.0/shared_ip_groups/detail"),
        ):
            status, _, body = await self.json(method, path)
            self.assertEqual((status, body["notImplemented"]["code"]), (501, 501), path)

    async def test_resizeConfirmRevertRebuild(self):
        server = await self.createServer()
        serverId = server["id"]
        await self.active(serverId)
        action = f"/v1.0/servers/{serverId}/action"
        status, _, body = await self.json("POST", action, {"resize": {"flavorId": 2}})
        self.assertEqual(status, 202, body)
        resized = await self.status(serverId, "VERIFY_RESIZE")
        self.assertEqual(resized["flavorId"], 2)
        status, _, body = await self.json("POST", action, {"confirmResize": None})
        self.assertEqual(status, 204, body)
        shown = await self.active(serverId)
        self.assertEqual(shown["flavorId"], 2)
        status, _, body = await self.json("POST", action, {"resize": {"flavorId": 1}})
        self.assertEqual(status, 202, body)
        await self.status(serverId, "VERIFY_RESIZE")
        status, _, body = await self.json("POST", action, {"revertResize": None})
        self.assertEqual(status, 204, body)
        shown = await self.active(serverId)
        self.assertEqual(shown["flavorId"], 2)
        # Confirming with nothing to confirm is a state conflict.
        status, _, body = await self.json("POST", action, {"confirmResize": None})
        self.assertEqual((status, list(body)), (409, ["conflict"]))
        other = await self.addImage(name="other")
        status, _, body = await self.json("POST", action, {"rebuild": {"imageId": other.ec2_id}})
        self.assertEqual(status, 202, body)

        async def rebuilt():
            _, _, body = await self.json("GET", f"/v1.0/servers/{serverId}")
            shown = body["server"]
            return shown["status"] == "ACTIVE" and shown["imageId"] == other.ec2_id

        await self.waitFor(rebuilt)
        for bad in ({"resize": {"flavorId": 999}}, {"rebuild": {}}, {"fly": {}}):
            status, _, body = await self.json("POST", action, bad)
            self.assertEqual((status, list(body)), (400, ["badRequest"]), bad)

    async def test_imageSnapshot(self):
        server = await self.createServer()
        await self.active(server["id"])
        status, _, body = await self.json(
            "POST", "/v1.0/images", {"image": {"serverId": server["id"], "name": "snap shot"}}
        )
        self.assertEqual(status, 202, body)
        image = body["image"]
        self.assertEqual((image["name"], image["serverId"]), ("snap shot", server["id"]))
        self.assertTrue(image["id"].startswith("ami-"))
        status, _, body = await self.json(
            "POST", "/v1.0/images", {"image": {"serverId": 99999, "name": "snap"}}
        )
        self.assertEqual(status, 404)

    async def test_policy(self):
        erin = await self.authenticate(ERIN)
        status, _, body = await self.json(
            "POST",
            "/v1.0/servers",
            {"server": {"name": "w", "imageId": self.image.ec2_id, "flavorId": 1}},
            token=erin,
        )
        self.assertEqual((status, list(body)), (403, ["forbidden"]))
        status, _, body = await self.json("GET", "/v1.0/servers", token=erin)
        self.assertEqual(status, 200)

    async def test_projectIsolation(self):
        server = await self.createServer()
        # bob is a member of alice and bob: alice comes first.
        bobInAlice = await self.authenticate(BOB)
        status, _, _ = await self.json("GET", f"/v1.0/servers/{server['id']}", token=bobInAlice)
        self.assertEqual(status, 200)
        bob = await self.authenticate(BOB, project="bob")
        status, _, _ = await self.json("GET", f"/v1.0/servers/{server['id']}", token=bob)
        self.assertEqual(status, 404)
        _, _, body = await self.json("GET", "/v1.0/servers", token=bob)
        self.assertEqual(body["servers"], [])


class PagingTests(V10Mixin, TestCase):
    def setUp(self):
        self.clock = Clock()
        return V10Mixin.setUp(self)

    async def test_limitOffset(self):
        _, _, everything = await self.json("GET", "/v1.0/flavors")
        ids = [f["id"] for f in everything["flavors"]]
        self.assertGreater(len(ids), 3)
        _, _, page = await self.json("GET", "/v1.0/flavors?limit=2&offset=1")
        self.assertEqual([f["id"] for f in page["flavors"]], ids[1:3])
        _, _, page = await self.json("GET", "/v1.0/flavors/detail?offset=3")
        self.assertEqual([f["id"] for f in page["flavors"]], ids[3:])
        for query in ("limit=-1", "offset=x", "limit=two"):
            status, _, body = await self.json("GET", f"/v1.0/flavors?{query}")
            self.assertEqual((status, list(body)), (400, ["badRequest"]), query)

    async def test_changesSince(self):
        status, _, body = await self.json("GET", "/v1.0/servers?changes-since=yesterday")
        self.assertEqual((status, list(body)), (400, ["badRequest"]))
        first = await self.createServer(name="one")
        await self.active(first["id"])
        _, _, body = await self.json("GET", "/v1.0/servers/detail?changes-since=2000-01-01T00:00:00Z")
        self.assertEqual([s["id"] for s in body["servers"]], [first["id"]])
        _, _, body = await self.json("GET", "/v1.0/servers?changes-since=2999-01-01T00:00:00Z")
        self.assertEqual(body["servers"], [])
        await self.json("DELETE", f"/v1.0/servers/{first['id']}")
        # Three changes-since requests a minute: wait for the next.
        self.clock.advance(20)
        _, _, body = await self.json("GET", "/v1.0/servers/detail?changes-since=2000-01-01")
        self.assertEqual([s["id"] for s in body["servers"]], [first["id"]])
        self.assertEqual(body["servers"][0]["status"], "DELETED")


class MaxLimitTests(V10Mixin, TestCase):
    flags = {"osapi_max_limit": 2}

    async def test_capped(self):
        _, _, page = await self.json("GET", "/v1.0/flavors?limit=100")
        self.assertEqual(len(page["flavors"]), 2)
        _, _, page = await self.json("GET", "/v1.0/flavors")
        self.assertEqual(len(page["flavors"]), 2)


class RateLimitTests(V10Mixin, TestCase):
    def setUp(self):
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        return V10Mixin.setUp(self)

    async def test_changesSinceLimit(self):
        path = "/v1.0/servers?changes-since=2000-01-01"
        for _ in range(3):
            status, _, body = await self.json("GET", path)
            self.assertEqual(status, 200, body)
        status, headers, body = await self.json("GET", path)
        self.assertEqual((status, list(body)), (413, ["overLimit"]))
        self.assertEqual(headers["retry-after"], "20")
        # Other users have their own buckets; plain GETs are not limited.
        bob = await self.authenticate(BOB)
        status, _, _ = await self.json("GET", path, token=bob)
        self.assertEqual(status, 200)
        status, _, _ = await self.json("GET", "/v1.0/servers")
        self.assertEqual(status, 200)
        self.clock.advance(20)
        status, _, _ = await self.json("GET", path)
        self.assertEqual(status, 200)

    async def test_limitsDocument(self):
        await self.json("PUT", "/v1.0/servers/1", {"server": {"name": "x"}})
        status, _, body = await self.json("GET", "/v1.0/limits")
        self.assertEqual(status, 200)
        rates = {(r["verb"], r["URI"]): r for r in body["limits"]["rate"]}
        self.assertEqual(
            {k: (r["value"], r["unit"]) for k, r in rates.items()},
            {
                ("POST", "*"): (10, "MINUTE"),
                ("POST", "*/servers"): (50, "DAY"),
                ("PUT", "*"): (10, "MINUTE"),
                ("GET", "*changes-since*"): (3, "MINUTE"),
                ("DELETE", "*"): (100, "MINUTE"),
            },
        )
        self.assertEqual(rates[("PUT", "*")]["remaining"], 9)
        self.assertEqual(rates[("POST", "*")]["remaining"], 10)
        quota = await self.backends.compute.quotas.getQuota("alice")
        self.assertEqual(body["limits"]["absolute"]["maxTotalInstances"], quota["instances"])
        status, _, data = await self.raw("GET", "/v1.0/limits.xml", token=self.token)
        root = ElementTree.fromstring(data)
        limits = root.findall(f"{NS}rate/{NS}limit")
        self.assertEqual(len(limits), 5)
        absolute = {e.get("name"): e.get("value") for e in root.findall(f"{NS}absolute/{NS}limit")}
        self.assertEqual(absolute["maxTotalInstances"], str(quota["instances"]))

    async def test_postLimit(self):
        for _ in range(10):
            status, _, body = await self.json(
                "POST", "/v1.0/servers/1/action", {"reboot": {"type": "SOFT"}}
            )
            self.assertEqual(status, 404, body)
        status, headers, body = await self.json(
            "POST", "/v1.0/servers/1/action", {"reboot": {"type": "SOFT"}}
        )
        self.assertEqual((status, list(body)), (413, ["overLimit"]))
        self.assertEqual(headers["retry-after"], "6")


class AdminAPITests(V10Mixin, TestCase):
    flags = {"allow_admin_api": True}

    async def test_rescue(self):
        server = await self.createServer()
        await self.active(server["id"])
        root = await self.authenticate(ROOT, project="alice")
        status, _, body = await self.json("POST", f"/v1.0/servers/{server['id']}/rescue", {}, root)
        self.assertEqual(status, 202, body)
        await self.status(server["id"], "RESCUE")
        status, _, body = await self.json(
            "POST", f"/v1.0/servers/{server['id']}/unrescue", {}, root
        )
        self.assertEqual(status, 202, body)
        await self.active(server["id"])
        status, _, body = await self.json(
            "POST", f"/v1.0/servers/{server['id']}/reset_network", {}, root
        )
        self.assertEqual((status, list(body)), (501, ["notImplemented"]))
        status, _, body = await self.json("GET", f"/v1.0/servers/{server['id']}/diagnostics", token=root)
        self.assertEqual(status, 200, body)
        self.assertIn("cpu_time", body["diagnostics"])

    async def test_pauseAndLock(self):
        server = await self.createServer()
        await self.active(server["id"])
        root = await self.authenticate(ROOT, project="alice")
        status, _, body = await self.json("POST", f"/v1.0/servers/{server['id']}/pause", {}, root)
        self.assertEqual(status, 202, body)

        async def paused():
            _, _, body = await self.json("GET", f"/v1.0/servers/{server['id']}")
            return body["server"]["status"] == "PAUSED"

        await self.waitFor(paused)
        status, _, body = await self.json("POST", f"/v1.0/servers/{server['id']}/pause", {})
        self.assertEqual((status, list(body)), (403, ["forbidden"]))
        status, _, body = await self.json("POST", f"/v1.0/servers/{server['id']}/lock", {}, root)
        self.assertEqual(status, 202, body)
        status, _, body = await self.json("POST", f"/v1.0/servers/{server['id']}/fly", {}, root)
        self.assertEqual(status, 404)

    async def test_usersAndAccounts(self):
        """
        Users and accounts are managed by superusers; answers about users
        hold no secret keys unless asked with C{include_secrets=true},
        except the answer creating one (its creator hands the key on).
        """
        root = await self.authenticate(ROOT, project="alice")
        status, _, body = await self.json("GET", "/v1.0/users", token=root)
        self.assertEqual(status, 200)
        users = {u["name"]: u for u in body["users"]}
        self.assertEqual(users["alice"]["access"], ALICE.access)
        self.assertEqual([u for u in body["users"] if "secret" in u], [])
        status, _, body = await self.json("GET", "/v1.0/users?include_secrets=true", token=root)
        self.assertEqual(status, 200)
        users = {u["name"]: u for u in body["users"]}
        self.assertEqual(users["alice"]["secret"], ALICE.secret)
        self.assertEqual(users["root"]["secret"], ROOT.secret)
        for query, shown in (("", False), ("?include_secrets=false", False),
                             ("?include_secrets=True", True), ("?include_secrets=1", True)):
            status, _, body = await self.json("GET", f"/v1.0/users/alice{query}", token=root)
            self.assertEqual(status, 200, query)
            self.assertEqual(body["user"].get("secret"), ALICE.secret if shown else None, query)
        status, _, data = await self.raw("GET", "/v1.0/users/alice.xml", token=root)
        self.assertEqual(status, 200)
        self.assertNotIn(ALICE.secret.encode("ascii"), data)
        self.assertIn(ALICE.access.encode("ascii"), data)
        status, _, body = await self.json(
            "GET", "/v1.0/users?include_secrets=yes-please", token=root
        )
        self.assertEqual((status, list(body)), (400, ["badRequest"]))
        status, _, body = await self.json(
            "POST", "/v1.0/users", {"user": {"name": "zed", "admin": False}}, root
        )
        self.assertEqual((status, body["user"]["name"]), (200, "zed"))
        zed = await self.authManager.getUser("zed")
        self.assertEqual(body["user"]["secret"], zed.secretKey)
        status, _, body = await self.json("GET", "/v1.0/users/zed", token=root)
        self.assertNotIn("secret", body["user"])
        status, _, body = await self.json(
            "PUT", "/v1.0/accounts/zproj", {"account": {"manager": "zed"}}, root
        )
        self.assertEqual((status, body["account"]["manager"]), (200, "zed"))
        status, _, body = await self.json("GET", "/v1.0/accounts/zproj", token=root)
        self.assertEqual(body["account"]["name"], "zproj")
        for path in (
            "/v1.0/users",
            "/v1.0/users?include_secrets=true",
            "/v1.0/users/alice?include_secrets=true",
        ):
            status, _, body = await self.json("GET", path)
            self.assertEqual((status, list(body)), (403, ["forbidden"]), path)


class NoAdminAPITests(V10Mixin, TestCase):
    async def test_hidden(self):
        root = await self.authenticate(ROOT, project="alice")
        for method, path in (("POST", "/v1.0/servers/1/pause"), ("GET", "/v1.0/users")):
            status, _, body = await self.json(method, path, {} if method == "POST" else None, root)
            self.assertEqual((status, list(body)), (404, ["itemNotFound"]), path)
