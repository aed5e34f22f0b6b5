"""
apache-libcloud's OpenStack 1.0 driver against the OpenStack API v1.0 of
an in-process cloud on fake drivers: authentication by X-Auth-User and
X-Auth-Key, sizes, images, and a node's life (create, list, reboot,
resize, rebuild, image, destroy), in XML both ways as the driver speaks.
"""

from libcloud.compute.providers import get_driver
from libcloud.compute.types import NodeState, Provider
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from tests.api.ec2.cloud import ALICE
from tests.api.openstack.support import OpenStackCloudMixin


class LibcloudV10Tests(OpenStackCloudMixin, TestCase):
    timeout = 120

    async def setUp(self):
        await self.startOpenStack()
        self.image = await self.addImage(name="cirros")
        self.driver = await deferToThread(self.connect)

    def connect(self, user=ALICE, key=None):
        cls = get_driver(Provider.OPENSTACK)
        return cls(
            user.name,
            key or user.access,
            secure=False,
            host="127.0.0.1",
            port=self.osPort,
            api_version="1.0",
            ex_force_auth_url=f"http://127.0.0.1:{self.osPort}",
            ex_force_auth_version="1.0",
            # Auth 1.0 gives no service catalog naming "compute": the
            # X-Server-Management-Url is the base.
            ex_force_base_url=f"http://127.0.0.1:{self.osPort}/v1.0",
        )

    def waitForNode(self, nodeId, state):
        """
        Poll (bounded) until node C{nodeId} is in C{state}.
        """
        import time

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            nodes = {n.id: n for n in self.driver.list_nodes()}
            if nodeId in nodes and nodes[nodeId].state == state:
                return nodes[nodeId]
            time.sleep(0.05)
        self.fail(f"node {nodeId} never became {state}")

    def test_sizesAndImages(self):
        def check():
            sizes = {s.name: s for s in self.driver.list_sizes()}
            self.assertEqual((sizes["m1.tiny"].ram, sizes["m1.tiny"].disk), (512, 0))
            self.assertEqual(sizes["m1.tiny"].id, "1")
            images = self.driver.list_images()
            self.assertEqual([(i.id, i.name) for i in images], [(self.image.ec2_id, "cirros")])
            self.assertEqual(images[0].extra["status"], "ACTIVE")
            limits = self.driver.ex_limits()
            self.assertEqual(len(limits["rate"]), 5)
            self.assertIn("maxTotalInstances", limits["absolute"])

        return deferToThread(check)

    def test_wrongKey(self):
        from libcloud.common.types import InvalidCredsError

        def check():
            driver = self.connect(key="wrong")
            self.assertRaises(InvalidCredsError, driver.list_sizes)

        return deferToThread(check)

    def test_nodeLife(self):
        def check():
            driver = self.driver
            size = [s for s in driver.list_sizes() if s.name == "m1.tiny"][0]
            image = driver.list_images()[0]
            node = driver.create_node(name="web", size=size, image=image)
            self.assertEqual(node.name, "web")
            self.assertTrue(node.extra["password"])
            self.assertEqual(node.extra["imageId"], image.id)
            running = self.waitForNode(node.id, NodeState.RUNNING)
            self.assertEqual(len(running.private_ips), 1)
            self.assertTrue(running.private_ips[0].startswith("10.0.0."))
            self.assertTrue(driver.ex_set_server_name(running, "www"))
            self.assertEqual([n.name for n in driver.list_nodes()], ["www"])
            self.assertTrue(driver.reboot_node(running))
            self.waitForNode(node.id, NodeState.RUNNING)
            snapshot = driver.create_image(running, "web snapshot")
            self.assertEqual(snapshot.name, "web snapshot")
            self.assertTrue(snapshot.id.startswith("ami-"))
            self.assertTrue(driver.destroy_node(running))
            self.assertEqual(driver.list_nodes(), [])

        return deferToThread(check)

    def test_resizeAndRebuild(self):
        def check():
            import time

            driver = self.driver
            sizes = {s.name: s for s in driver.list_sizes()}
            node = driver.create_node(
                name="web", size=sizes["m1.tiny"], image=driver.list_images()[0]
            )
            running = self.waitForNode(node.id, NodeState.RUNNING)
            self.assertTrue(driver.ex_resize(running, sizes["m1.small"]))
            # VERIFY_RESIZE, which the driver counts as running, with the
            # new flavor.
            deadline = time.monotonic() + 30
            while True:
                [listed] = driver.list_nodes()
                wanted = (sizes["m1.small"].id, NodeState.RUNNING)
                if (listed.extra["flavorId"], listed.state) == wanted:
                    break
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)
            self.assertTrue(driver.ex_confirm_resize(running))
            self.waitForNode(node.id, NodeState.RUNNING)
            self.assertTrue(driver.ex_rebuild(running.id, self.image.ec2_id))
            self.waitForNode(node.id, NodeState.RUNNING)

        return deferToThread(check)


class LibcloudV11Tests(OpenStackCloudMixin, TestCase):
    """
    apache-libcloud's OpenStack 1.1 driver, logging in through v1.0
    (C{ex_force_auth_version="1.0"}) and talking to C{/v1.1}.
    """

    timeout = 120

    async def setUp(self):
        await self.startOpenStack()
        self.image = await self.addImage(name="cirros")
        self.driver = await deferToThread(self.connect)

    def connect(self, user=ALICE):
        cls = get_driver(Provider.OPENSTACK)
        return cls(
            user.name,
            user.access,
            secure=False,
            api_version="1.1",
            ex_force_auth_url=f"http://127.0.0.1:{self.osPort}",
            ex_force_auth_version="1.0",
            ex_force_base_url=f"http://127.0.0.1:{self.osPort}/v1.1",
        )

    def waitForNode(self, nodeId, state):
        import time

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            node = self.driver.ex_get_node_details(nodeId)
            if node is not None and node.state == state:
                return node
            time.sleep(0.05)
        self.fail(f"node {nodeId} never became {state}")

    def test_nodeLife(self):
        def check():
            driver = self.driver
            sizes = {s.name: s for s in driver.list_sizes()}
            self.assertEqual(sizes["m1.tiny"].ram, 512)
            [image] = driver.list_images()
            self.assertEqual((image.id, image.name), (self.image.ec2_id, "cirros"))
            driver.create_key_pair("k1")
            self.assertEqual([k.name for k in driver.list_key_pairs()], ["k1"])
            node = driver.create_node(
                name="web", size=sizes["m1.tiny"], image=image, ex_keyname="k1",
                ex_metadata={"role": "web"},
            )
            running = self.waitForNode(node.id, NodeState.RUNNING)
            self.assertEqual(running.extra["key_name"], "k1")
            self.assertEqual(driver.ex_get_metadata(running), {"role": "web"})
            self.assertEqual(
                driver.ex_set_metadata(running, {"role": "db"}), {"role": "db"}
            )
            self.assertEqual(driver.ex_get_metadata(running), {"role": "db"})
            self.assertTrue(driver.reboot_node(running))
            self.waitForNode(node.id, NodeState.RUNNING)
            self.assertTrue(driver.ex_resize(running, sizes["m1.small"]))
            import time

            deadline = time.monotonic() + 30
            # VERIFY_RESIZE: vm_state "resized", with the new flavor.
            while True:
                extra = driver.ex_get_node_details(node.id).extra
                if (extra["flavorId"], extra["vm_state"]) == (sizes["m1.small"].id, "resized"):
                    break
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)
            self.assertTrue(driver.ex_confirm_resize(running))
            self.waitForNode(node.id, NodeState.RUNNING)
            self.assertTrue(driver.ex_rebuild(running, image))
            self.waitForNode(node.id, NodeState.RUNNING)
            snapshot = driver.create_image(running, "web snapshot")
            self.assertTrue(snapshot.id.startswith("ami-"))
            self.assertTrue(driver.destroy_node(running))
            self.assertTrue(driver.delete_key_pair(driver.get_key_pair("k1")))

        return deferToThread(check)

    def test_floatingIps(self):
        from tests.api.ec2.cloud import CAROL

        def check():
            sizes = {s.name: s for s in self.driver.list_sizes()}
            node = self.driver.create_node(
                name="web", size=sizes["m1.tiny"], image=self.driver.list_images()[0]
            )
            self.waitForNode(node.id, NodeState.RUNNING)
            # Addresses are carol's to manage (netadmin in alice).
            driver = self.connect(CAROL)
            [pool] = driver.ex_list_floating_ip_pools()
            floating = pool.create_floating_ip()
            self.assertTrue(driver.ex_attach_floating_ip_to_node(node, floating))
            [attached] = driver.ex_list_floating_ips()
            self.assertEqual(attached.node_id, node.id)
            shown = driver.ex_get_node_details(node.id)
            self.assertIn(floating.ip_address, shown.public_ips + shown.private_ips)
            self.assertTrue(driver.ex_detach_floating_ip_from_node(node, floating))
            self.assertEqual(
                [f.ip_address for f in driver.ex_list_floating_ips()], [floating.ip_address]
            )
            self.assertTrue(floating.delete())
            self.assertEqual(driver.ex_list_floating_ips(), [])

        return deferToThread(check)
