"""
A fuzz test of the running EC2 and admin APIs over the whole cloud of
L{tests.api.ec2.cloud} (every action has its real backend): random and
hostile signed requests each get an EC2 answer (a response or an error
document, never HTTP 500, never a traceback), and the server logs no
error.
"""

import random
import xml.etree.ElementTree as ET

from twisted.trial.unittest import TestCase

from nova.api.ec2.actions import ACTIONS
from nova.api.ec2.admin import ADMIN_ACTIONS
from tests.api.ec2.cloud import CloudServerMixin
from tests.api.ec2.fuzzing import randomBytes, randomKey, randomValue
from tests.api.ec2.support import ALICE, ROOT, encodeForm, signV2


class ServerFuzzTests(CloudServerMixin, TestCase):
    timeout = 300

    async def setUp(self):
        await self.startCloud()

    def checkAnswer(self, response, what):
        self.assertLess(response.status, 500, (what, response.body[:500]))
        self.assertNotIn(b"Traceback", response.body)
        root = ET.fromstring(response.body)
        if response.status != 200:
            self.assertEqual(root.tag, "Response", response.body)
            self.assertTrue(root.find("Errors/Error/Code").text)

    async def test_signedRandomParameters(self):
        rng = random.Random(2011)
        actions = sorted(ACTIONS) + ["LaunchRockets", ""]
        for _ in range(250):
            admin = rng.random() < 0.25
            action = rng.choice(sorted(ADMIN_ACTIONS) if admin else actions)
            params = {"Action": action}
            for _ in range(rng.randint(0, 6)):
                params[randomKey(rng)] = randomValue(rng)
            if rng.random() < 0.3:
                params["KeyName"] = randomValue(rng)
            user = ROOT if admin or rng.random() < 0.2 else ALICE
            path = "/services/Admin" if admin else self.config.ec2_path
            response = await self.signedPost(params, user=user, path=path)
            self.checkAnswer(response, params)
        self.assertEqual(self.flushLoggedErrors(), [])

    async def test_unsignedRandomBodies(self):
        rng = random.Random(3333)
        for _ in range(150):
            body = randomBytes(rng)
            response = await self.raw(
                "POST",
                self.config.ec2_path + "?" + rng.choice(["", "Action=DescribeRegions", "%ff=%00"]),
                body,
                {"Content-Type": "application/x-www-form-urlencoded"},
            )
            self.checkAnswer(response, body)
        self.assertEqual(self.flushLoggedErrors(), [])

    async def test_hostileButSigned(self):
        cases = [
            {"Action": "DescribeKeyPairs", "KeyName.99999999999": "x"},
            {"Action": "DescribeKeyPairs", **{f"KeyName.{i}": f"k{i}" for i in range(2000)}},
            {"Action": "DescribeKeyPairs", ".".join(["Filter", "1"] * 7): "x"},
            {"Action": "CreateKeyPair", "KeyName": "x" * 100000},
            {"Action": "CreateKeyPair", "KeyName": "\udcff\udcfe"},
            {"Action": "CreateKeyPair", "KeyName": "<k>&\x00"},
            {"Action": "ImportKeyPair", "KeyName": "k", "PublicKeyMaterial": "A" * 200000},
            {"Action": "DescribeAvailabilityZones", "ZoneName.1": "verbose", "ZoneName.2": "\udcff"},
            {"Action": "Describe\udcffKeyPairs"},
            {"Action": "DescribeRegions", "Version": "\x00\udcff" * 10},
        ]
        for params in cases:
            response = await self.signedPost(params)
            self.checkAnswer(response, list(params)[:3])
        self.assertEqual(self.flushLoggedErrors(), [])

    async def test_signatureParametersFuzzed(self):
        """
        Mangled authentication parameters are refused cleanly.
        """
        rng = random.Random(401)
        for _ in range(100):
            signed = signV2("POST", self.host, self.config.ec2_path, {"Action": "DescribeRegions"}, ALICE)
            name = rng.choice(sorted(signed))
            signed[name] = randomValue(rng)
            response = await self.signedPostRaw(signed)
            self.checkAnswer(response, (name, signed[name][:50]))
            self.assertNotEqual(response.status, 200, (name, signed[name][:50]))
        self.assertEqual(self.flushLoggedErrors(), [])

    def signedPostRaw(self, params):
        return self.raw(
            "POST",
            self.config.ec2_path,
            encodeForm(params),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
