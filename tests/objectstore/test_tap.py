# -*- test-case-name: tests.objectstore.test_tap -*-
"""
Tests for L{nova.objectstore.tap}: what the daemon builds from its flags.
"""

import tempfile

from twisted.internet import reactor
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, readBody

from nova.config import configFromFlags
from nova.objectstore import tap
from nova.objectstore.auth import AnonymousAuthenticator
from nova.objectstore.fake import MemoryObjectStore
from nova.objectstore.filesystem import FilesystemObjectStore


class ConfigTests(SynchronousTestCase):
    def test_addressing(self):
        config = configFromFlags(s3_host="objects.example.com", s3_listen="127.0.0.1")
        resource = tap.resourceFromConfig(config, MemoryObjectStore(Clock()), AnonymousAuthenticator())
        self.assertEqual(resource.virtualHostSuffixes, ("objects.example.com", "localhost"))
        self.assertIn("objects.example.com", resource.endpointHosts)
        self.assertFalse(resource.cnameBuckets)
        config = configFromFlags(s3_host="10.1.2.3", s3_virtual_host_suffix="s3.cloud", s3_cname_buckets=True)
        resource = tap.resourceFromConfig(config, MemoryObjectStore(Clock()), AnonymousAuthenticator())
        self.assertEqual(resource.virtualHostSuffixes, ("s3.cloud", "localhost"))
        self.assertTrue(resource.cnameBuckets)

    def test_stores(self):
        config = configFromFlags(buckets_path=tempfile.mkdtemp(), s3_store="memory")
        store, services = tap.storeFromConfig(config, Clock())
        self.assertIsInstance(store, MemoryObjectStore)
        self.assertEqual(services, [])
        store, services = tap.storeFromConfig(config.replace(s3_store="filesystem"), Clock())
        self.assertIsInstance(store, FilesystemObjectStore)
        self.assertEqual([s.name for s in services], ["s3-threads"])


class ServicesTests(TestCase):
    async def test_serves(self):
        config = configFromFlags(
            buckets_path=tempfile.mkdtemp(), s3_port=0, s3_listen="127.0.0.1", s3_fsync=False
        )
        services = tap.objectstoreServices(config, reactor, None, None, AnonymousAuthenticator())
        self.assertEqual([s.name for s in services], ["s3-threads", "s3"])
        for service in services:
            service.startService()
        try:
            port = services[-1]._port.getHost().port
            response = await Agent(reactor).request(b"GET", b"http://127.0.0.1:%d/" % (port,))
            body = await readBody(response)
            self.assertEqual(response.code, 403)
            self.assertIn(b"<Code>AccessDenied</Code>", body)
        finally:
            for service in reversed(services):
                stopped = service.stopService()
                if stopped is not None:
                    await stopped


class AuthManagerTests(TestCase):
    """
    The daemon's default authenticator: Nova's AuthManager over the SQL
    auth driver, with real signatures from boto3.
    """

    timeout = 60

    async def test_authManager(self):
        from twisted.internet.threads import deferToThread

        from nova.db.api import inlineDatabase

        db = inlineDatabase("sqlite:", reactor)
        await db.sync()
        config = configFromFlags(
            buckets_path=tempfile.mkdtemp(), s3_port=0, s3_listen="127.0.0.1", s3_fsync=False,
            auth_driver="sql", cache_backend="memory",
        )
        services = tap.objectstoreServices(config, reactor, db, None)
        authManager = services[-1].args[1].resource.authenticator
        await authManager.createUser("alice", accessKey="alice-access", secretKey="alice-secret")
        await authManager.createProject("alice", "alice")
        for service in services:
            service.startService()
        try:
            port = services[-1]._port.getHost().port

            def client():
                import boto3
                from botocore.config import Config
                from botocore.exceptions import ClientError

                def make(secret):
                    return boto3.client(
                        "s3", endpoint_url=f"http://127.0.0.1:{port}",
                        aws_access_key_id="alice-access", aws_secret_access_key=secret,
                        region_name="us-east-1", config=Config(retries={"max_attempts": 1}),
                    )

                s3 = make("alice-secret")
                s3.create_bucket(Bucket="alices-bucket")
                s3.put_object(Bucket="alices-bucket", Key="k", Body=b"v")
                owner = s3.list_objects(Bucket="alices-bucket")["Contents"][0]["Owner"]["ID"]
                try:
                    make("wrong").list_buckets()
                except ClientError as e:
                    code = e.response["Error"]["Code"]
                try:
                    s3.put_bucket_acl(Bucket="alices-bucket", GrantRead='id="no-such-project"')
                except ClientError as e:
                    grantCode = e.response["Error"]["Code"]
                s3.put_bucket_acl(Bucket="alices-bucket", GrantRead='id="alice"')
                grants = s3.get_bucket_acl(Bucket="alices-bucket")["Grants"]
                s3.close()
                return owner, code, grantCode, [g["Grantee"]["ID"] for g in grants]

            owner, code, grantCode, grantees = await deferToThread(client)
            self.assertEqual((owner, code), ("alice", "SignatureDoesNotMatch"))
            # Grants may name the projects the AuthManager knows, and only them.
            self.assertEqual((grantCode, grantees), ("InvalidArgument", ["alice"]))
        finally:
            for service in reversed(services):
                stopped = service.stopService()
                if stopped is not None:
                    await stopped
