"""
Tests for the key pair actions, through boto3/botocore, boto 2 and the aws
CLI against a real listening server.
"""

import hashlib

from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from twisted.trial.unittest import TestCase

from nova.api.ec2.actions.keypairs import keyPairId
from tests.api.ec2.support import ALICE, BOB, APIServerMixin


def _rsaPublicLine(bits=2048):
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    line = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    md5 = hashlib.md5(der).hexdigest()
    return line + b" me@host", ":".join(md5[i:i + 2] for i in range(0, 32, 2))


class KeyPairsTests(APIServerMixin, TestCase):
    async def setUp(self):
        await self.startServer()

    async def test_createDescribeDelete(self):
        """
        CreateKeyPair returns an RSA private key whose fingerprint is the
        SHA-1 of its PKCS#8 DER form; DescribeKeyPairs lists it; after
        DeleteKeyPair it is gone.
        """
        client = await self.makeClient()
        created = await self.inThread(client.create_key_pair, KeyName="k1")
        self.assertEqual(created["KeyName"], "k1")
        self.assertTrue(created["KeyPairId"].startswith("key-"))
        private = serialization.load_pem_private_key(created["KeyMaterial"].encode(), None)
        self.assertIn("BEGIN RSA PRIVATE KEY", created["KeyMaterial"])
        der = private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        sha1 = hashlib.sha1(der).hexdigest()
        self.assertEqual(
            created["KeyFingerprint"], ":".join(sha1[i:i + 2] for i in range(0, 40, 2))
        )
        described = await self.inThread(client.describe_key_pairs)
        [info] = described["KeyPairs"]
        self.assertEqual(info["KeyName"], "k1")
        self.assertEqual(info["KeyFingerprint"], created["KeyFingerprint"])
        self.assertEqual(info["KeyPairId"], created["KeyPairId"])
        self.assertEqual(info["KeyType"], "rsa")
        self.assertNotIn("PublicKey", info)
        self.assertIsNotNone(info["CreateTime"].tzinfo)
        withKey = await self.inThread(client.describe_key_pairs, IncludePublicKey=True)
        self.assertTrue(withKey["KeyPairs"][0]["PublicKey"].startswith("ssh-rsa "))
        deleted = await self.inThread(client.delete_key_pair, KeyName="k1")
        self.assertTrue(deleted["Return"])
        self.assertEqual(deleted["KeyPairId"], created["KeyPairId"])
        self.assertEqual((await self.inThread(client.describe_key_pairs))["KeyPairs"], [])

    async def test_createEd25519(self):
        client = await self.makeClient()
        created = await self.inThread(
            client.create_key_pair, KeyName="ed", KeyType="ed25519"
        )
        self.assertIn("BEGIN OPENSSH PRIVATE KEY", created["KeyMaterial"])
        [info] = (await self.inThread(client.describe_key_pairs))["KeyPairs"]
        self.assertEqual(info["KeyType"], "ed25519")

    async def test_duplicate(self):
        client = await self.makeClient()
        await self.inThread(client.create_key_pair, KeyName="dup")
        with self.assertRaises(ClientError) as caught:
            await self.inThread(client.create_key_pair, KeyName="dup")
        error = caught.exception.response["Error"]
        self.assertEqual(error["Code"], "InvalidKeyPair.Duplicate")
        self.assertEqual(error["Message"], "The keypair 'dup' already exists.")
        self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    async def test_importRSA(self):
        """
        ImportKeyPair takes an OpenSSH public key; its fingerprint is the
        MD5 of the DER public key.
        """
        client = await self.makeClient()
        line, fingerprint = _rsaPublicLine()
        imported = await self.inThread(
            client.import_key_pair, KeyName="mine", PublicKeyMaterial=line
        )
        self.assertEqual(imported["KeyName"], "mine")
        self.assertEqual(imported["KeyFingerprint"], fingerprint)
        [info] = (
            await self.inThread(client.describe_key_pairs, KeyNames=["mine"])
        )["KeyPairs"]
        self.assertEqual(info["KeyFingerprint"], fingerprint)

    async def test_importGarbage(self):
        client = await self.makeClient()
        with self.assertRaises(ClientError) as caught:
            await self.inThread(
                client.import_key_pair, KeyName="bad", PublicKeyMaterial=b"not a key"
            )
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidKeyPair.Format")

    async def test_describeUnknownName(self):
        client = await self.makeClient()
        with self.assertRaises(ClientError) as caught:
            await self.inThread(client.describe_key_pairs, KeyNames=["nope"])
        error = caught.exception.response["Error"]
        self.assertEqual(error["Code"], "InvalidKeyPair.NotFound")
        self.assertEqual(error["Message"], "The key pair 'nope' does not exist")

    async def test_filters(self):
        """
        DescribeKeyPairs filters by key-name (with wildcards) and
        fingerprint, and refuses unknown filters.
        """
        client = await self.makeClient()
        for name in ("web-1", "web-2", "db-1"):
            line, _ = _rsaPublicLine(1024)
            await self.inThread(client.import_key_pair, KeyName=name, PublicKeyMaterial=line)
        byName = await self.inThread(
            client.describe_key_pairs, Filters=[{"Name": "key-name", "Values": ["web-*"]}]
        )
        self.assertEqual(sorted(k["KeyName"] for k in byName["KeyPairs"]), ["web-1", "web-2"])
        db1 = [k for k in (await self.inThread(client.describe_key_pairs))["KeyPairs"]
               if k["KeyName"] == "db-1"][0]
        byPrint = await self.inThread(
            client.describe_key_pairs,
            Filters=[{"Name": "fingerprint", "Values": [db1["KeyFingerprint"]]}],
        )
        self.assertEqual([k["KeyName"] for k in byPrint["KeyPairs"]], ["db-1"])
        both = await self.inThread(
            client.describe_key_pairs,
            KeyNames=["web-1", "db-1"],
            Filters=[{"Name": "key-name", "Values": ["db-?"]}],
        )
        self.assertEqual([k["KeyName"] for k in both["KeyPairs"]], ["db-1"])
        with self.assertRaises(ClientError) as caught:
            await self.inThread(
                client.describe_key_pairs, Filters=[{"Name": "colour", "Values": ["x"]}]
            )
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidParameterValue")
        self.assertEqual(
            caught.exception.response["Error"]["Message"], "The filter 'colour' is invalid"
        )

    async def test_keyPairsBelongToTheUser(self):
        """
        A user sees only their own key pairs, in every project.
        """
        alice = await self.makeClient(ALICE)
        bob = await self.makeClient(BOB)
        bobInAlice = await self.makeClient(BOB, project="alice")
        await self.inThread(alice.create_key_pair, KeyName="shared-name")
        self.assertEqual((await self.inThread(bob.describe_key_pairs))["KeyPairs"], [])
        await self.inThread(bob.create_key_pair, KeyName="shared-name")
        self.assertEqual(
            len((await self.inThread(bobInAlice.describe_key_pairs))["KeyPairs"]), 1
        )

    async def test_deleteMissingSucceeds(self):
        """
        As in EC2, deleting a key pair that does not exist succeeds.
        """
        client = await self.makeClient()
        result = await self.inThread(client.delete_key_pair, KeyName="never")
        self.assertTrue(result["Return"])

    async def test_deleteById(self):
        client = await self.makeClient()
        created = await self.inThread(client.create_key_pair, KeyName="byid")
        await self.inThread(client.delete_key_pair, KeyPairId=created["KeyPairId"])
        self.assertEqual((await self.inThread(client.describe_key_pairs))["KeyPairs"], [])

    async def test_badNames(self):
        client = await self.makeClient()
        for name in ("", "x" * 256, "caf\u00e9"):
            with self.assertRaises(ClientError) as caught:
                await self.inThread(client.create_key_pair, KeyName=name)
            self.assertEqual(
                caught.exception.response["Error"]["Code"], "InvalidParameterValue", name
            )

    async def test_sigV2(self):
        client = await self.makeClient(signatureVersion="v2")
        await self.inThread(client.create_key_pair, KeyName="v2")
        self.assertEqual(
            [k["KeyName"] for k in (await self.inThread(client.describe_key_pairs))["KeyPairs"]],
            ["v2"],
        )

    async def test_boto2(self):
        """
        boto 2's key pair calls work and parse what the server writes.
        """
        connection = self.botoConnection()
        created = await self.inThread(connection.create_key_pair, "b2")
        self.assertEqual(created.name, "b2")
        self.assertIn("PRIVATE KEY", created.material)
        line, fingerprint = _rsaPublicLine()
        imported = await self.inThread(connection.import_key_pair, "b2-imported", line)
        self.assertEqual(imported.fingerprint, fingerprint)
        keys = await self.inThread(connection.get_all_key_pairs)
        self.assertEqual(sorted(k.name for k in keys), ["b2", "b2-imported"])
        one = await self.inThread(connection.get_all_key_pairs, keynames=["b2"])
        self.assertEqual([k.fingerprint for k in one], [created.fingerprint])
        self.assertTrue(await self.inThread(connection.delete_key_pair, "b2"))
        filtered = await self.inThread(
            connection.get_all_key_pairs, filters={"fingerprint": fingerprint}
        )
        self.assertEqual([k.name for k in filtered], ["b2-imported"])

    async def test_awsCLI(self):
        code, created, err = await self.aws("create-key-pair", "--key-name", "cli")
        self.assertEqual(code, 0, err)
        self.assertEqual(created["KeyName"], "cli")
        path = self.mktemp()
        line, fingerprint = _rsaPublicLine()
        with open(path, "wb") as f:
            f.write(line)
        code, imported, err = await self.aws(
            "import-key-pair", "--key-name", "cli-imported",
            "--public-key-material", f"fileb://{path}",
        )
        self.assertEqual(code, 0, err)
        self.assertEqual(imported["KeyFingerprint"], fingerprint)
        code, described, err = await self.aws(
            "describe-key-pairs", "--filters", "Name=key-name,Values=cli*"
        )
        self.assertEqual(code, 0, err)
        self.assertEqual(
            sorted(k["KeyName"] for k in described["KeyPairs"]), ["cli", "cli-imported"]
        )
        code, _, err = await self.aws("describe-key-pairs", "--key-names", "missing")
        self.assertNotEqual(code, 0)
        self.assertIn("InvalidKeyPair.NotFound", err)

    def test_keyPairId(self):
        class Record:
            id = 26
        self.assertEqual(keyPairId(Record()), "key-0000000000000001a")
