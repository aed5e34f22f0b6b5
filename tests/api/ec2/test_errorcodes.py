"""
Tests, through boto3, of the EC2 error codes some requests get:
ImportKeyPair without key material is C{MissingParameter};
DescribeImageAttribute with an attribute EC2 does not have is
C{InvalidRequest}.
"""

from botocore.exceptions import ClientError
from twisted.trial.unittest import TestCase

from tests.api.ec2.cloud import ALICE, CloudServerMixin
from tests.api.ec2.support import APIServerMixin


class ImportKeyPairTests(APIServerMixin, TestCase):
    async def setUp(self):
        await self.startServer()

    async def test_missingMaterial(self):
        """
        Without C{PublicKeyMaterial}, or with an empty one, ImportKeyPair
        is C{MissingParameter} and imports nothing.
        """
        client = await self.makeClient(validate=False)
        for kwargs in ({}, {"PublicKeyMaterial": b""}):
            with self.assertRaises(ClientError) as caught:
                await self.inThread(client.import_key_pair, KeyName="k", **kwargs)
            self.assertEqual(
                caught.exception.response["Error"],
                {
                    "Code": "MissingParameter",
                    "Message": "The request must contain the parameter PublicKeyMaterial",
                },
            )
        self.assertEqual((await self.inThread(client.describe_key_pairs))["KeyPairs"], [])


class ImageAttributeTests(CloudServerMixin, TestCase):
    async def setUp(self):
        await self.startCloud()
        self.client = await self.clientFor(ALICE)
        self.image = await self.addImage()

    async def attribute(self, name):
        return await self.inThread(
            self.client.describe_image_attribute, ImageId=self.image.ec2_id, Attribute=name
        )

    async def test_unknownAttribute(self):
        """
        An attribute name that is not in EC2's C{ImageAttributeName}
        (names are case-sensitive) is C{InvalidRequest}.
        """
        for name in ("colour", "TpmSupport", "Description"):
            error = await self.expectError(
                "InvalidRequest", self.client.describe_image_attribute,
                ImageId=self.image.ec2_id, Attribute=name,
            )
            self.assertIn(name, error["Message"])

    async def test_attributesImagesHereLack(self):
        """
        The attributes EC2 has that images here never have a value for
        are empty.
        """
        self.assertEqual((await self.attribute("bootMode"))["BootMode"], {})
        self.assertEqual((await self.attribute("tpmSupport"))["TpmSupport"], {})
        self.assertEqual(
            (await self.attribute("blockDeviceMapping"))["BlockDeviceMappings"], []
        )
        await self.expectError(
            "InvalidAMIID.NotFound", self.client.describe_image_attribute,
            ImageId="ami-7fffffff", Attribute="bootMode",
        )
