"""
openstacksdk against the OpenStack API of an in-process cloud on fake
drivers: log in, list flavors and images, create a key pair, create a
server and wait until it is ACTIVE, list, reboot, stop, start and delete
it; give it a floating IP through the network API; log in with an
application credential.
"""

import keystoneauth1.exceptions
import openstack
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from tests.api.ec2.cloud import ALICE, CAROL
from tests.api.openstack.support import OpenStackCloudMixin


class SDKTests(OpenStackCloudMixin, TestCase):
    timeout = 120

    async def setUp(self):
        await self.startOpenStack()
        self.image = await self.addImage(name="cirros")
        self.connection = await deferToThread(self.connect)
        self.addCleanup(deferToThread, self.connection.close)

    def connect(self, user=ALICE, project=None):
        return openstack.connect(
            auth_url=self.authURL,
            username=user.name,
            password=user.secret,
            project_name=project or user.name,
            user_domain_name="Default",
            project_domain_name="Default",
            load_yaml_config=False,
            load_envvars=False,
        )

    def test_flavorsAndImages(self):
        def check():
            flavors = {f.name: f for f in self.connection.compute.flavors()}
            self.assertIn("m1.tiny", flavors)
            self.assertEqual(flavors["m1.tiny"].ram, 512)
            images = list(self.connection.image.images())
            self.assertEqual([i.name for i in images], ["cirros"])
            self.assertEqual(images[0].status, "active")
            self.assertEqual(self.connection.image.find_image("cirros").id, self.image.ec2_id)
            self.assertEqual(self.connection.compute.find_flavor("m1.tiny").vcpus, 1)

        return deferToThread(check)

    def test_keypairs(self):
        def check():
            compute = self.connection.compute
            created = compute.create_keypair(name="k1")
            self.assertIn("PRIVATE KEY", created.private_key)
            imported = compute.create_keypair(name="k2", public_key=created.public_key)
            self.assertEqual(imported.public_key, created.public_key)
            self.assertTrue(imported.fingerprint)
            self.assertEqual(sorted(k.name for k in compute.keypairs()), ["k1", "k2"])
            self.assertEqual(compute.get_keypair("k1").public_key, created.public_key)
            compute.delete_keypair("k2")
            self.assertEqual([k.name for k in compute.keypairs()], ["k1"])

        return deferToThread(check)

    def test_serverLifecycle(self):
        def check():
            compute = self.connection.compute
            compute.create_keypair(name="k1")
            flavor = compute.find_flavor("m1.tiny")
            server = compute.create_server(
                name="web", image_id=self.image.ec2_id, flavor_id=flavor.id, key_name="k1"
            )
            self.assertTrue(server.admin_password)
            server = compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.2)
            self.assertEqual(server.name, "web")
            self.assertEqual(server.key_name, "k1")
            self.assertEqual(server.flavor["id"], flavor.id)
            self.assertTrue(server.addresses["private"][0]["addr"].startswith("10.0.0."))
            self.assertEqual([s.name for s in compute.servers()], ["web"])
            compute.reboot_server(server, "SOFT")
            compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.2)
            compute.stop_server(server)
            compute.wait_for_server(server, status="SHUTOFF", wait=60, interval=0.2)
            compute.start_server(server)
            compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.2)
            compute.update_server(server, name="web2")
            self.assertEqual(compute.get_server(server.id).name, "web2")
            compute.delete_server(server)
            compute.wait_for_delete(server, wait=60, interval=0.2)
            self.assertEqual(list(compute.servers()), [])

        return deferToThread(check)

    def test_floatingIp(self):
        """
        openstacksdk's network proxy (found through the catalog) allocates
        a floating IP from the external network, associates it with the
        server's port, and the compute API then shows it; then it is
        disassociated and deleted.
        """

        def check():
            compute = self.connection.compute
            flavor = compute.find_flavor("m1.tiny")
            server = compute.create_server(
                name="web", image_id=self.image.ec2_id, flavor_id=flavor.id
            )
            server = compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.2)
            # Addresses are carol's to manage (netadmin in alice).
            connection = self.connect(CAROL, "alice")
            self.addCleanup(connection.close)
            network = connection.network
            [pool] = [n for n in network.networks() if n.is_router_external]
            self.assertEqual(pool.name, "nova")
            floating = network.create_ip(floating_network_id=pool.id)
            self.assertIsNone(floating.port_id)
            [port] = network.ports(device_id=server.id)
            fixed = port.fixed_ips[0]["ip_address"]
            network.update_ip(floating, port_id=port.id)
            found = network.find_ip(floating.floating_ip_address, ignore_missing=False)
            self.assertEqual((found.port_id, found.fixed_ip_address), (port.id, fixed))
            addresses = [
                a["addr"] for a in compute.get_server(server.id).addresses["private"]
            ]
            self.assertEqual(sorted(addresses), sorted([fixed, floating.floating_ip_address]))
            network.update_ip(floating, port_id=None)
            self.assertIsNone(network.get_ip(floating.id).port_id)
            network.delete_ip(floating)
            self.assertEqual(list(network.ips()), [])

        return deferToThread(check)

    def test_limits(self):
        def check():
            limits = self.connection.compute.get_limits()
            self.assertEqual(limits.absolute.instances, 10)
            self.assertEqual(limits.absolute.instances_used, 0)

        return deferToThread(check)

    def test_applicationCredential(self):
        """
        openstacksdk logs in with the v3applicationcredential auth type
        (the access key as the credential's id, the secret key as its
        secret), gets a token scoped to the user's project and lists the
        flavors through the catalog.
        """

        def check():
            connection = openstack.connect(
                auth_type="v3applicationcredential",
                auth_url=self.authURL,
                application_credential_id=ALICE.access,
                application_credential_secret=ALICE.secret,
                load_yaml_config=False,
                load_envvars=False,
            )
            try:
                self.assertEqual(connection.current_project_id, "alice")
                self.assertEqual(connection.current_user_id, "alice")
                flavors = [f.name for f in connection.compute.flavors()]
                self.assertIn("m1.tiny", flavors)
                access = connection.session.auth.get_access(connection.session)
                self.assertEqual(access.application_credential_id, ALICE.access)
            finally:
                connection.close()

        return deferToThread(check)

    def test_applicationCredentialRefused(self):
        """
        A wrong secret is refused: keystoneauth raises its 401.
        """

        def check():
            connection = openstack.connect(
                auth_type="v3applicationcredential",
                auth_url=self.authURL,
                application_credential_id=ALICE.access,
                application_credential_secret="wrong",
                load_yaml_config=False,
                load_envvars=False,
            )
            try:
                with self.assertRaises(keystoneauth1.exceptions.Unauthorized) as caught:
                    list(connection.compute.flavors())
                self.assertEqual(caught.exception.http_status, 401)
            finally:
                connection.close()

        return deferToThread(check)
