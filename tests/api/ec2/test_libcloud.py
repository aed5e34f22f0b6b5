"""
apache-libcloud's EC2-compatible driver (the one it offers for private
EC2 clouds, C{Provider.EUCALYPTUS}) against the EC2 API: it lists
images, runs an instance of a type, sees it running and destroys it.
"""

from twisted.trial.unittest import TestCase


from tests.api.ec2.cloud import ALICE, HOME_PROJECT, CloudServerMixin


class LibcloudTests(CloudServerMixin, TestCase):
    async def setUp(self):
        await self.startCloud()

    def driver(self, user=ALICE):
        from libcloud.compute.providers import get_driver
        from libcloud.compute.types import Provider

        project = HOME_PROJECT.get(user.name)
        access = f"{user.access}:{project}" if project else user.access
        cls = get_driver(Provider.EUCALYPTUS)
        return cls(
            access, user.secret, secure=False, host="127.0.0.1", port=self.port, path="/services/Cloud"
        )

    async def test_runListDestroy(self):
        image = await self.addImage()
        driver = self.driver()
        images = await self.inThread(driver.list_images)
        self.assertIn(image.ec2_id, [i.id for i in images])
        # The driver's list_sizes asks for Eucalyptus's own
        # DescribeInstanceTypes answer; a size names the instance type.
        from libcloud.compute.base import NodeSize

        size = NodeSize("m1.tiny", "m1.tiny", 512, 0, None, None, driver)
        [nodeImage] = [i for i in images if i.id == image.ec2_id]
        node = await self.inThread(driver.create_node, name="web", image=nodeImage, size=size)
        self.assertTrue(node.id.startswith("i-"))
        await self.waitForState([node.id], "running")
        [listed] = [n for n in await self.inThread(driver.list_nodes) if n.id == node.id]
        self.assertEqual(listed.state, "running")
        self.assertEqual(len(listed.private_ips), 1)
        self.assertTrue(await self.inThread(driver.destroy_node, listed))
        await self.waitForState([node.id], "terminated")
