"""
Tests for what the compute API serves at C{/v1.1} (and C{/v2}, C{/v2.1})
besides L{tests.api.openstack.test_compute}: server and image metadata,
the resize, rebuild, createImage and changePassword actions, marker
paging, and the extensions (L{nova.api.openstack.extensions}): the list,
floating IPs, security groups and volumes; through raw HTTP.
"""

from twisted.trial.unittest import TestCase

from tests.api.ec2.cloud import ALICE, BOB, CAROL, ERIN, contextFor
from tests.api.openstack.support import OpenStackCloudMixin


class V11Mixin(OpenStackCloudMixin):
    mount = "v1.1"

    async def setUp(self):
        await self.startOpenStack()
        self.image = await self.addImage(name="cirros")
        self.token = await self.login()

    async def req(self, method, path, body=None, token=None):
        return await self.call(method, f"/{self.mount}{path}", body, token or self.token)

    async def createActive(self, **server):
        server.setdefault("name", "web")
        server.setdefault("imageRef", f"http://127.0.0.1:{self.osPort}/images/{self.image.ec2_id}")
        server.setdefault("flavorRef", f"http://127.0.0.1:{self.osPort}/{self.mount}/flavors/1")
        status, _, body = await self.req("POST", "/servers", {"server": server})
        self.assertEqual(status, 202, body)
        return await self.waitStatus(body["server"]["id"], "ACTIVE")

    async def waitStatus(self, serverId, wanted):
        async def check():
            _, _, shown = await self.req("GET", f"/servers/{serverId}")
            return shown["server"] if shown["server"]["status"] == wanted else None

        return await self.waitFor(check)


class MetadataTests(V11Mixin, TestCase):
    async def test_serverMetadata(self):
        server = await self.createActive(metadata={"role": "web"})
        self.assertEqual(server["metadata"], {"role": "web"})
        path = f"/servers/{server['id']}/metadata"
        status, _, body = await self.req("POST", path, {"metadata": {"tier": "1"}})
        self.assertEqual((status, body["metadata"]), (200, {"role": "web", "tier": "1"}))
        status, _, body = await self.req("GET", f"{path}/tier")
        self.assertEqual((status, body), (200, {"meta": {"tier": "1"}}))
        status, _, body = await self.req("PUT", f"{path}/env", {"meta": {"env": "prod"}})
        self.assertEqual((status, body), (200, {"meta": {"env": "prod"}}))
        status, _, body = await self.req("PUT", f"{path}/env", {"meta": {"other": "x"}})
        self.assertEqual((status, list(body)), (400, ["badRequest"]))
        status, _, _ = await self.req("DELETE", f"{path}/role")
        self.assertEqual(status, 204)
        status, _, body = await self.req("DELETE", f"{path}/role")
        self.assertEqual((status, list(body)), (404, ["itemNotFound"]))
        _, _, body = await self.req("GET", path)
        self.assertEqual(body["metadata"], {"tier": "1", "env": "prod"})
        status, _, body = await self.req("PUT", path, {"metadata": {"only": "this"}})
        self.assertEqual((status, body["metadata"]), (200, {"only": "this"}))
        _, _, body = await self.req("GET", f"/servers/{server['id']}")
        self.assertEqual(body["server"]["metadata"], {"only": "this"})
        # The same pairs are the instance's EC2 tags.
        instance = await self.backends.compute.getInstance(
            contextFor(ALICE), await self._instanceId(server["id"])
        )
        tags = await self.backends.tags.tagsOf(contextFor(ALICE), [instance.ec2Id])
        self.assertEqual(tags[instance.ec2Id], {"only": "this"})
        # Another project sees no such server.
        bob = await self.login(BOB, "bob")
        status, _, _ = await self.req("GET", path, token=bob)
        self.assertEqual(status, 404)

    async def _instanceId(self, uuid):
        for instance in await self.backends.compute.describeInstances(contextFor(ALICE)):
            if instance.uuid == uuid:
                return instance.id
        self.fail(f"no instance {uuid}")

    async def test_metadataQuota(self):
        server = await self.createActive()
        path = f"/servers/{server['id']}/metadata"
        status, _, body = await self.req(
            "POST", path, {"metadata": {f"k{i}": "v" for i in range(51)}}
        )
        self.assertEqual((status, list(body)), (413, ["overLimit"]))
        for bad in ({"metadata": "x"}, {"metadata": {"": "v"}}, {"metadata": {"k": "v" * 256}}, {}):
            status, _, body = await self.req("POST", path, bad)
            self.assertEqual((status, list(body)), (400, ["badRequest"]), bad)
        status, _, body = await self.call(
            "POST",
            f"/{self.mount}/servers",
            {
                "server": {
                    "name": "x",
                    "imageRef": self.image.ec2_id,
                    "flavorRef": "1",
                    "metadata": {f"k{i}": "v" for i in range(51)},
                }
            },
            self.token,
        )
        self.assertEqual((status, list(body)), (413, ["overLimit"]))

    async def test_policy(self):
        server = await self.createActive()
        erin = await self.login(ERIN, "alice")
        status, _, body = await self.req(
            "POST", f"/servers/{server['id']}/metadata", {"metadata": {"a": "b"}}, erin
        )
        self.assertEqual((status, list(body)), (403, ["forbidden"]))
        status, _, body = await self.req("GET", f"/servers/{server['id']}/metadata", token=erin)
        self.assertEqual(status, 200)

    async def test_imageMetadata(self):
        path = f"/images/{self.image.ec2_id}/metadata"
        status, _, body = await self.req("POST", path, {"metadata": {"os": "cirros"}})
        self.assertEqual((status, body["metadata"]), (200, {"os": "cirros"}))
        _, _, body = await self.req("GET", f"/images/{self.image.ec2_id}")
        self.assertEqual(body["image"]["metadata"]["os"], "cirros")
        self.assertEqual(body["image"]["metadata"]["architecture"], "x86_64")
        status, _, body = await self.req("GET", "/images/ami-deadbeef/metadata")
        self.assertEqual(status, 404)


class ActionTests(V11Mixin, TestCase):
    async def test_resizeAndRebuild(self):
        server = await self.createActive()
        action = f"/servers/{server['id']}/action"
        status, _, body = await self.req("POST", action, {"resize": {"flavorRef": "2"}})
        self.assertEqual(status, 202, body)
        resized = await self.waitStatus(server["id"], "VERIFY_RESIZE")
        self.assertEqual(resized["flavor"]["id"], "2")
        status, _, body = await self.req("POST", action, {"revertResize": None})
        self.assertEqual(status, 202, body)
        shown = await self.waitStatus(server["id"], "ACTIVE")
        self.assertEqual(shown["flavor"]["id"], "1")
        other = await self.addImage(name="other")
        status, _, body = await self.req(
            "POST", action, {"rebuild": {"imageRef": other.ec2_id, "metadata": {"v": "2"}}}
        )
        self.assertEqual(status, 202, body)
        self.assertTrue(body["server"]["adminPass"])
        self.assertEqual(body["server"]["metadata"], {"v": "2"})

        async def rebuilt():
            _, _, shown = await self.req("GET", f"/servers/{server['id']}")
            shown = shown["server"]
            return shown["status"] == "ACTIVE" and shown["image"]["id"] == other.ec2_id

        await self.waitFor(rebuilt)
        status, _, body = await self.req("POST", action, {"rebuild": {"imageRef": "ami-deadbeef"}})
        self.assertEqual((status, list(body)), (400, ["badRequest"]))

    async def test_createImageAndPassword(self):
        server = await self.createActive()
        action = f"/servers/{server['id']}/action"
        status, headers, body = await self.req(
            "POST", action, {"createImage": {"name": "snap", "metadata": {"k": "v"}}}
        )
        self.assertEqual(status, 202, body)
        imageId = headers["location"].rsplit("/", 1)[-1]
        self.assertTrue(imageId.startswith("ami-"))
        status, _, body = await self.req("GET", f"/images/{imageId}/metadata")
        self.assertEqual((status, body["metadata"]), (200, {"k": "v"}))
        status, _, body = await self.req("POST", action, {"changePassword": {"adminPass": "x"}})
        self.assertEqual((status, list(body)), (501, ["notImplemented"]))


class PagingTests(V11Mixin, TestCase):
    async def test_markers(self):
        _, _, everything = await self.req("GET", "/flavors")
        ids = [f["id"] for f in everything["flavors"]]
        self.assertNotIn("flavors_links", everything)
        _, _, page = await self.req("GET", "/flavors?limit=2")
        self.assertEqual([f["id"] for f in page["flavors"]], ids[:2])
        [link] = page["flavors_links"]
        self.assertEqual(link["rel"], "next")
        self.assertIn(f"marker={ids[1]}", link["href"])
        _, _, page = await self.req("GET", f"/flavors/detail?limit=2&marker={ids[1]}")
        self.assertEqual([f["id"] for f in page["flavors"]], ids[2:4])
        status, _, body = await self.req("GET", "/flavors?marker=nope")
        self.assertEqual((status, list(body)), (400, ["badRequest"]))
        status, _, body = await self.req("GET", "/servers?limit=-1")
        self.assertEqual((status, list(body)), (400, ["badRequest"]))

    async def test_serverMarkers(self):
        first = await self.createActive(name="a")
        second = await self.createActive(name="b")
        _, _, listed = await self.req("GET", "/servers/detail")
        ids = [s["id"] for s in listed["servers"]]
        self.assertEqual(set(ids), {first["id"], second["id"]})
        _, _, page = await self.req("GET", "/servers?limit=1")
        self.assertEqual([s["id"] for s in page["servers"]], ids[:1])
        _, _, page = await self.req("GET", f"/servers?limit=1&marker={ids[0]}")
        self.assertEqual([s["id"] for s in page["servers"]], ids[1:])


class ExtensionTests(V11Mixin, TestCase):
    async def test_list(self):
        status, _, body = await self.req("GET", "/extensions")
        self.assertEqual(status, 200)
        aliases = {e["alias"] for e in body["extensions"]}
        self.assertTrue(
            {"os-keypairs", "os-floating-ips", "os-security-groups", "os-volumes"} <= aliases
        )
        status, _, body = await self.req("GET", "/extensions/os-volumes")
        self.assertEqual((status, body["extension"]["name"]), (200, "Volumes"))
        status, _, _ = await self.req("GET", "/extensions/os-nothing")
        self.assertEqual(status, 404)

    async def test_floatingIps(self):
        server = await self.createActive()
        bob = await self.login(BOB, "bob")
        status, _, body = await self.req("POST", "/os-floating-ips", {"pool": "nova"}, bob)
        self.assertEqual(status, 200, body)
        floating = body["floating_ip"]
        self.assertEqual((floating["instance_id"], floating["pool"]), (None, "nova"))
        _, _, listed = await self.req("GET", "/os-floating-ips", token=bob)
        self.assertEqual([f["ip"] for f in listed["floating_ips"]], [floating["ip"]])
        # alice's server is not bob's to address.
        status, _, _ = await self.req(
            "POST", f"/servers/{server['id']}/action",
            {"addFloatingIp": {"address": floating["ip"]}}, bob,
        )
        self.assertEqual(status, 404)
        status, _, _ = await self.req("DELETE", f"/os-floating-ips/{floating['id']}", token=bob)
        self.assertEqual(status, 202)
        _, _, listed = await self.req("GET", "/os-floating-ips", token=bob)
        self.assertEqual(listed["floating_ips"], [])

    async def test_floatingIpOnServer(self):
        server = await self.createActive()
        # Addresses need netadmin (carol's role in alice); alice has not.
        status, _, body = await self.req("POST", "/os-floating-ips", {})
        self.assertEqual((status, list(body)), (403, ["forbidden"]))
        self.token = await self.login(CAROL, "alice")
        _, _, body = await self.req("POST", "/os-floating-ips", {})
        floating = body["floating_ip"]
        action = f"/servers/{server['id']}/action"
        status, _, body = await self.req(
            "POST", action, {"addFloatingIp": {"address": floating["ip"]}}
        )
        self.assertEqual(status, 202, body)
        _, _, shown = await self.req("GET", f"/os-floating-ips/{floating['id']}")
        self.assertEqual(shown["floating_ip"]["instance_id"], server["id"])
        _, _, shown = await self.req("GET", f"/servers/{server['id']}")
        addresses = [a["addr"] for a in shown["server"]["addresses"]["private"]]
        self.assertIn(floating["ip"], addresses)
        status, _, body = await self.req(
            "POST", action, {"removeFloatingIp": {"address": floating["ip"]}}
        )
        self.assertEqual(status, 202, body)
        _, _, shown = await self.req("GET", f"/os-floating-ips/{floating['id']}")
        self.assertIsNone(shown["floating_ip"]["instance_id"])
        status, _, body = await self.req("POST", "/os-floating-ips", {"pool": "elsewhere"})
        self.assertEqual(status, 404)

    async def test_securityGroups(self):
        bob = await self.login(BOB, "bob")
        status, _, body = await self.req(
            "POST", "/os-security-groups",
            {"security_group": {"name": "web", "description": "web servers"}}, bob,
        )
        self.assertEqual(status, 200, body)
        group = body["security_group"]
        status, _, body = await self.req(
            "POST", "/os-security-group-rules",
            {
                "security_group_rule": {
                    "parent_group_id": group["id"],
                    "ip_protocol": "tcp",
                    "from_port": 80,
                    "to_port": 80,
                    "cidr": "0.0.0.0/0",
                }
            },
            bob,
        )
        self.assertEqual(status, 200, body)
        rule = body["security_group_rule"]
        self.assertEqual(
            (rule["ip_protocol"], rule["from_port"], rule["ip_range"]),
            ("tcp", 80, {"cidr": "0.0.0.0/0"}),
        )
        _, _, shown = await self.req("GET", f"/os-security-groups/{group['id']}", token=bob)
        self.assertEqual([r["id"] for r in shown["security_group"]["rules"]], [rule["id"]])
        status, _, _ = await self.req("DELETE", f"/os-security-group-rules/{rule['id']}", token=bob)
        self.assertEqual(status, 202)
        _, _, shown = await self.req("GET", f"/os-security-groups/{group['id']}", token=bob)
        self.assertEqual(shown["security_group"]["rules"], [])
        _, _, listed = await self.req("GET", "/os-security-groups", token=bob)
        self.assertEqual(sorted(g["name"] for g in listed["security_groups"]), ["default", "web"])
        status, _, _ = await self.req("DELETE", f"/os-security-groups/{group['id']}", token=bob)
        self.assertEqual(status, 202)
        status, _, body = await self.req(
            "POST", "/os-security-groups", {"security_group": {"name": "x"}}, bob
        )
        self.assertEqual((status, list(body)), (400, ["badRequest"]))

    async def test_volumes(self):
        server = await self.createActive()
        status, _, body = await self.req(
            "POST", "/os-volumes", {"volume": {"size": 1, "display_name": "data"}}
        )
        self.assertEqual(status, 200, body)
        volume = body["volume"]
        self.assertTrue(volume["id"].startswith("vol-"))

        async def volumeStatus(wanted):
            _, _, shown = await self.req("GET", f"/os-volumes/{volume['id']}")
            return shown["volume"] if shown["volume"]["status"] == wanted else None

        await self.waitFor(lambda: volumeStatus("available"))
        status, _, body = await self.req(
            "POST", f"/servers/{server['id']}/os-volume_attachments",
            {"volumeAttachment": {"volumeId": volume["id"], "device": "/dev/vdb"}},
        )
        self.assertEqual(status, 200, body)
        self.assertEqual(body["volumeAttachment"]["serverId"], server["id"])
        attached = await self.waitFor(lambda: volumeStatus("in-use"))
        self.assertEqual(attached["attachments"][0]["device"], "/dev/vdb")
        _, _, listed = await self.req("GET", f"/servers/{server['id']}/os-volume_attachments")
        self.assertEqual([a["volumeId"] for a in listed["volumeAttachments"]], [volume["id"]])
        status, _, body = await self.req(
            "DELETE", f"/servers/{server['id']}/os-volume_attachments/{volume['id']}"
        )
        self.assertEqual(status, 202, body)
        await self.waitFor(lambda: volumeStatus("available"))
        status, _, _ = await self.req("DELETE", f"/os-volumes/{volume['id']}")
        self.assertEqual(status, 202)
        status, _, body = await self.req("POST", "/os-volumes", {"volume": {"size": "big"}})
        self.assertEqual((status, list(body)), (400, ["badRequest"]))


class V21ExtensionTests(ExtensionTests):
    mount = "v2.1"
