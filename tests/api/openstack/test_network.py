"""
Tests for L{nova.api.openstack.network}: the networking API v2.0 subset
(networks, ports, floating IPs) through the web tree, over the network
API of an in-process cloud, and the C{openstack} command's floating IP
commands, which go through it.
"""

import json
import os
import subprocess

from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, TestCase

from nova.api.openstack.network import POOL_NETWORK_ID, PRIVATE_NETWORK_ID
from tests.api.ec2.cloud import ALICE, BOB, CAROL, FLOATING
from tests.api.openstack.support import OpenStackCloudMixin
from tests.api.openstack.test_cli import openstackCommand


class NetworkTestsMixin(OpenStackCloudMixin):
    async def setUp(self):
        await self.startOpenStack()
        self.image = await self.addImage(name="cirros")
        self.token = await self.login()
        # Addresses need netadmin: carol's role in alice.
        self.netadmin = await self.login(CAROL, "alice")

    async def get(self, path, token=None):
        return await self.call("GET", path, token=token or self.token)

    async def createActive(self, name="web"):
        status, _, body = await self.call(
            "POST",
            "/v2.1/servers",
            {"server": {"name": name, "imageRef": self.image.ec2_id, "flavorRef": "1"}},
            self.token,
        )
        self.assertEqual(status, 202, body)
        serverId = body["server"]["id"]

        async def active():
            _, _, shown = await self.get(f"/v2.1/servers/{serverId}")
            server = shown["server"]
            return server if server["status"] == "ACTIVE" and server["addresses"] else None

        return await self.waitFor(active)

    async def portOf(self, server):
        status, _, body = await self.get(f"/network/v2.0/ports?device_id={server['id']}")
        self.assertEqual(status, 200, body)
        [port] = body["ports"]
        return port


class NetworkTests(NetworkTestsMixin, TestCase):
    async def test_catalogAndVersions(self):
        """
        The catalog names the network service at C{/network}, whose
        versions list leads to C{/network/v2.0/}.
        """
        from tests.api.openstack.support import passwordAuth

        _, _, body = await self.call(
            "POST", "/v3/auth/tokens", passwordAuth(ALICE.name, ALICE.secret, ALICE.name)
        )
        urls = {e["type"]: e["endpoints"][0]["url"] for e in body["token"]["catalog"]}
        base = f"http://127.0.0.1:{self.osPort}"
        self.assertEqual(urls["network"], f"{base}/network")
        status, _, versions = await self.call("GET", "/network")
        self.assertEqual(status, 200)
        self.assertEqual(
            [(v["id"], v["status"], v["links"][0]["href"]) for v in versions["versions"]],
            [("v2.0", "CURRENT", f"{base}/network/v2.0/")],
        )
        status, _, resources = await self.call("GET", "/network/v2.0/")
        self.assertEqual(status, 200)
        self.assertEqual(
            {r["collection"] for r in resources["resources"]},
            {"networks", "ports", "floatingips"},
        )

    async def test_networks(self):
        """
        The floating pool C{nova} is an external network; C{private} holds
        the fixed addresses.  Filters by name and C{router:external}.
        """
        status, _, body = await self.get("/network/v2.0/networks")
        self.assertEqual(status, 200, body)
        self.assertEqual(
            [(n["id"], n["name"], n["router:external"]) for n in body["networks"]],
            [(POOL_NETWORK_ID, "nova", True), (PRIVATE_NETWORK_ID, "private", False)],
        )
        _, _, body = await self.get("/network/v2.0/networks?name=nova")
        self.assertEqual([n["id"] for n in body["networks"]], [POOL_NETWORK_ID])
        _, _, body = await self.get("/network/v2.0/networks?router%3Aexternal=False")
        self.assertEqual([n["name"] for n in body["networks"]], ["private"])
        status, _, body = await self.get(f"/network/v2.0/networks/{PRIVATE_NETWORK_ID}")
        self.assertEqual((status, body["network"]["name"]), (200, "private"))
        status, _, body = await self.get("/network/v2.0/networks/nothing")
        self.assertEqual((status, list(body)), (404, ["itemNotFound"]))

    async def test_unauthenticated(self):
        status, _, body = await self.call("GET", "/network/v2.0/networks")
        self.assertEqual(status, 401, body)

    async def test_ports(self):
        """
        A server has one port, with its fixed address and MAC, on
        C{private}; another project sees none; a deleted server's port is
        gone.
        """
        server = await self.createActive()
        port = await self.portOf(server)
        [address] = server["addresses"]["private"]
        self.assertEqual(port["device_id"], server["id"])
        self.assertEqual(port["network_id"], PRIVATE_NETWORK_ID)
        self.assertEqual(port["fixed_ips"], [{"subnet_id": None, "ip_address": address["addr"]}])
        self.assertEqual(port["mac_address"], address["OS-EXT-IPS-MAC:mac_addr"])
        self.assertEqual(port["status"], "ACTIVE")
        status, _, shown = await self.get(f"/network/v2.0/ports/{port['id']}")
        self.assertEqual((status, shown["port"]), (200, port))
        bob = await self.login(BOB, "bob")
        _, _, body = await self.get("/network/v2.0/ports", bob)
        self.assertEqual(body["ports"], [])
        status, _, _ = await self.get(f"/network/v2.0/ports/{port['id']}", bob)
        self.assertEqual(status, 404)
        status, _, _ = await self.call("DELETE", f"/v2.1/servers/{server['id']}", token=self.token)
        self.assertEqual(status, 204)

        async def gone():
            _, _, body = await self.get("/network/v2.0/ports")
            return body["ports"] == []

        await self.waitFor(gone)

    async def test_floatingIpLife(self):
        """
        Allocate from the pool, associate with a server's port (the
        compute API then shows the address), move it off, release it.
        """
        server = await self.createActive()
        port = await self.portOf(server)
        status, _, body = await self.call(
            "POST",
            "/network/v2.0/floatingips",
            {"floatingip": {"floating_network_id": POOL_NETWORK_ID}},
            self.netadmin,
        )
        self.assertEqual(status, 201, body)
        floating = body["floatingip"]
        self.assertIn(floating["floating_ip_address"], FLOATING)
        self.assertEqual(
            (floating["port_id"], floating["status"], floating["project_id"]),
            (None, "DOWN", "alice"),
        )
        path = f"/network/v2.0/floatingips/{floating['id']}"
        status, _, body = await self.call(
            "PUT", path, {"floatingip": {"port_id": port["id"]}}, self.netadmin
        )
        self.assertEqual(status, 200, body)
        updated = body["floatingip"]
        self.assertEqual(
            (updated["port_id"], updated["fixed_ip_address"], updated["status"]),
            (port["id"], port["fixed_ips"][0]["ip_address"], "ACTIVE"),
        )
        _, _, shown = await self.get(f"/v2.1/servers/{server['id']}")
        addresses = [a["addr"] for a in shown["server"]["addresses"]["private"]]
        self.assertIn(floating["floating_ip_address"], addresses)
        # Found by address, as the clients' find does.
        _, _, listed = await self.get(
            f"/network/v2.0/floatingips?floating_ip_address={floating['floating_ip_address']}"
        )
        self.assertEqual([f["id"] for f in listed["floatingips"]], [floating["id"]])
        _, _, listed = await self.get(f"/network/v2.0/floatingips?port_id={port['id']}")
        self.assertEqual([f["id"] for f in listed["floatingips"]], [floating["id"]])
        # Disassociate.
        status, _, body = await self.call(
            "PUT", path, {"floatingip": {"port_id": None}}, self.netadmin
        )
        self.assertEqual((status, body["floatingip"]["port_id"]), (200, None))
        _, _, shown = await self.get(f"/v2.1/servers/{server['id']}")
        addresses = [a["addr"] for a in shown["server"]["addresses"]["private"]]
        self.assertNotIn(floating["floating_ip_address"], addresses)
        status, _, _ = await self.call("DELETE", path, token=self.netadmin)
        self.assertEqual(status, 204)
        _, _, listed = await self.get("/network/v2.0/floatingips")
        self.assertEqual(listed["floatingips"], [])
        status, _, _ = await self.get(path)
        self.assertEqual(status, 404)

    async def test_createOnPortAndMove(self):
        """
        A floating IP made with a C{port_id} comes associated; pointed at
        another server's port it moves; deleted while associated it is
        released.
        """
        first = await self.createActive("one")
        second = await self.createActive("two")
        firstPort, secondPort = await self.portOf(first), await self.portOf(second)
        status, _, body = await self.call(
            "POST",
            "/network/v2.0/floatingips",
            {
                "floatingip": {
                    "floating_network_id": POOL_NETWORK_ID,
                    "port_id": firstPort["id"],
                }
            },
            self.netadmin,
        )
        self.assertEqual(status, 201, body)
        floating = body["floatingip"]
        self.assertEqual(floating["port_id"], firstPort["id"])
        path = f"/network/v2.0/floatingips/{floating['id']}"
        status, _, body = await self.call(
            "PUT", path, {"floatingip": {"port_id": secondPort["id"]}}, self.netadmin
        )
        self.assertEqual((status, body["floatingip"]["port_id"]), (200, secondPort["id"]))
        self.assertEqual(
            body["floatingip"]["fixed_ip_address"], secondPort["fixed_ips"][0]["ip_address"]
        )
        status, _, _ = await self.call("DELETE", path, token=self.netadmin)
        self.assertEqual(status, 204)
        _, _, shown = await self.get(f"/v2.1/servers/{second['id']}")
        self.assertEqual(len(shown["server"]["addresses"]["private"]), 1)

    async def test_refused(self):
        """
        Without netadmin, allocating is forbidden; an unknown network or
        port is 404 and leaves no address allocated; a fixed address the
        port does not have is 400; a malformed body is 400.
        """
        server = await self.createActive()
        port = await self.portOf(server)
        body = {"floatingip": {"floating_network_id": POOL_NETWORK_ID}}
        status, _, answer = await self.call(
            "POST", "/network/v2.0/floatingips", body, self.token
        )
        self.assertEqual((status, list(answer)), (403, ["forbidden"]))
        for wrong, expected in (
            ({"floating_network_id": PRIVATE_NETWORK_ID}, 404),
            ({"floating_network_id": POOL_NETWORK_ID, "port_id": "no-such-port"}, 404),
            (
                {
                    "floating_network_id": POOL_NETWORK_ID,
                    "port_id": port["id"],
                    "fixed_ip_address": "10.9.9.9",
                },
                400,
            ),
        ):
            status, _, answer = await self.call(
                "POST", "/network/v2.0/floatingips", {"floatingip": wrong}, self.netadmin
            )
            self.assertEqual(status, expected, (wrong, answer))
        _, _, listed = await self.get("/network/v2.0/floatingips")
        self.assertEqual(listed["floatingips"], [])
        status, _, answer = await self.call(
            "POST", "/network/v2.0/floatingips", {"floating": {}}, self.netadmin
        )
        self.assertEqual((status, list(answer)), (400, ["badRequest"]))

    async def test_otherProject(self):
        """
        Another project's floating IPs are neither listed nor found.
        """
        status, _, body = await self.call(
            "POST",
            "/network/v2.0/floatingips",
            {"floatingip": {"floating_network_id": POOL_NETWORK_ID}},
            self.netadmin,
        )
        self.assertEqual(status, 201, body)
        bob = await self.login(BOB, "bob")
        _, _, listed = await self.get("/network/v2.0/floatingips", bob)
        self.assertEqual(listed["floatingips"], [])
        path = f"/network/v2.0/floatingips/{body['floatingip']['id']}"
        for method, sent in (("GET", None), ("PUT", {"floatingip": {"port_id": None}}),
                             ("DELETE", None)):
            status, _, _ = await self.call(method, path, sent, bob)
            self.assertEqual(status, 404, method)


class NetworkCLITests(NetworkTestsMixin, TestCase):
    """
    The C{openstack} command's floating IP commands, which ask the
    network service only.
    """

    timeout = 240

    async def setUp(self):
        self.command = openstackCommand()
        if self.command is None:
            raise SkipTest("python-openstackclient is not installed (the test extra)")
        await NetworkTestsMixin.setUp(self)
        self.home = os.path.abspath(self.mktemp())
        os.makedirs(self.home)

    async def openstack(self, *args, json_=True):
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("OS_") and key != "HOME"
        }
        env.update(
            HOME=self.home,
            OS_AUTH_URL=self.authURL,
            OS_USERNAME=CAROL.name,
            OS_PASSWORD=CAROL.secret,
            OS_PROJECT_NAME="alice",
            OS_USER_DOMAIN_NAME="Default",
            OS_PROJECT_DOMAIN_NAME="Default",
            OS_IDENTITY_API_VERSION="3",
        )
        argv = [self.command, *args] + (["-f", "json"] if json_ else [])
        result = await deferToThread(
            subprocess.run, argv, env=env, capture_output=True, text=True, timeout=120
        )
        self.assertEqual(
            result.returncode, 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
        return json.loads(result.stdout) if json_ else result.stdout

    async def test_floatingIp(self):
        """
        floating ip create, server add floating ip (server show then
        lists the address), floating ip list, server remove floating ip,
        floating ip delete.
        """
        server = await self.createActive()
        created = await self.openstack("floating", "ip", "create", "nova")
        address = created["floating_ip_address"]
        self.assertIn(address, FLOATING)
        await self.openstack("server", "add", "floating", "ip", "web", address, json_=False)
        shown = await self.openstack("server", "show", "web")
        self.assertEqual(shown["id"], server["id"])
        self.assertIn(address, json.dumps(shown["addresses"]))
        listed = await self.openstack("floating", "ip", "list")
        self.assertEqual(
            [(f["Floating IP Address"], f["Port"]) for f in listed],
            [(address, (await self.portOf(server))["id"])],
        )
        await self.openstack("server", "remove", "floating", "ip", "web", address, json_=False)
        shown = await self.openstack("server", "show", "web")
        self.assertNotIn(address, json.dumps(shown["addresses"]))
        await self.openstack("floating", "ip", "delete", address, json_=False)
        self.assertEqual(await self.openstack("floating", "ip", "list"), [])
