"""
Tests for L{nova.api.ec2.serializer}: what it writes is what botocore's
own EC2 parser reads back, and results that do not fit the model are
refused.
"""

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

from botocore.parsers import create_parser
from twisted.trial.unittest import SynchronousTestCase

from nova.api.ec2.admin import adminModel
from nova.api.ec2.model import loadEC2Model
from nova.api.ec2.serializer import (
    SerializationError,
    formatTimestamp,
    serializeError,
    serializeResponse,
)


def parse(action, result, version="2016-11-15"):
    model = loadEC2Model()
    shape = model.outputShape(action)
    body = serializeResponse(action, shape, result, "req-1", version)
    parsed = create_parser("ec2").parse(
        {"body": body, "headers": {}, "status_code": 200}, shape
    )
    return body, parsed


class SerializerTests(SynchronousTestCase):
    def test_roundTrip(self):
        """
        A result shaped like boto3's output comes back from botocore's
        parser unchanged.
        """
        created = datetime(2011, 3, 1, 12, 0, 0, 250000, tzinfo=timezone.utc)
        result = {
            "KeyPairs": [
                {
                    "KeyPairId": "key-1",
                    "KeyName": "a <b> & 'c'",
                    "KeyFingerprint": "1f:51",
                    "KeyType": "rsa",
                    "Tags": [{"Key": "k", "Value": "v"}],
                    "CreateTime": created,
                },
                {"KeyName": "second", "Tags": []},
            ]
        }
        body, parsed = parse("DescribeKeyPairs", result)
        self.assertEqual(parsed["ResponseMetadata"]["RequestId"], "req-1")
        del parsed["ResponseMetadata"]
        self.assertEqual(parsed, result)
        self.assertIn(b"<createTime>2011-03-01T12:00:00.250Z</createTime>", body)
        self.assertIn(b"<keyName>a &lt;b&gt; &amp; 'c'</keyName>", body)

    def test_nestedTypes(self):
        result = {
            "Reservations": [
                {
                    "ReservationId": "r-1",
                    "OwnerId": "proj",
                    "Groups": [{"GroupName": "default", "GroupId": "sg-1"}],
                    "Instances": [
                        {
                            "InstanceId": "i-00000001",
                            "AmiLaunchIndex": 0,
                            "EbsOptimized": False,
                            "LaunchTime": datetime(2011, 3, 1, 12, 0),
                            "State": {"Code": 16, "Name": "running"},
                            "Placement": {"AvailabilityZone": "nova"},
                            "BlockDeviceMappings": [],
                            "SecurityGroups": [{"GroupName": "default", "GroupId": "sg-1"}],
                        }
                    ],
                }
            ]
        }
        body, parsed = parse("DescribeInstances", result)
        instance = parsed["Reservations"][0]["Instances"][0]
        self.assertEqual(instance["State"], {"Code": 16, "Name": "running"})
        self.assertIs(instance["EbsOptimized"], False)
        self.assertEqual(instance["LaunchTime"], datetime(2011, 3, 1, 12, tzinfo=timezone.utc))
        self.assertEqual(instance["BlockDeviceMappings"], [])
        root = ET.fromstring(body)
        ns = "{http://ec2.amazonaws.com/doc/2016-11-15/}"
        item = root.find(f"{ns}reservationSet/{ns}item/{ns}instancesSet/{ns}item")
        self.assertEqual(item.find(f"{ns}instanceState/{ns}name").text, "running")
        self.assertEqual(item.find(f"{ns}ebsOptimized").text, "false")

    def test_unknownKey(self):
        error = self.assertRaises(
            SerializationError, parse, "DescribeKeyPairs",
            {"KeyPairs": [{"KeyName": "a", "Fingerprint": "x"}]},
        )
        self.assertIn("Fingerprint", str(error))
        self.assertIn("KeyPairInfo", str(error))
        self.assertRaises(SerializationError, parse, "DescribeKeyPairs", {"Keys": []})

    def test_wrongTypes(self):
        cases = [
            {"KeyPairs": {"KeyName": "a"}},
            {"KeyPairs": "a"},
            {"KeyPairs": [None]},
            {"KeyPairs": [{"KeyName": 5}]},
            {"KeyPairs": [{"CreateTime": "yesterday"}]},
            {"KeyPairs": [{"Tags": [{"Key": b"k"}]}]},
            {"KeyPairs": ["a"]},
        ]
        for result in cases:
            self.assertRaises(SerializationError, parse, "DescribeKeyPairs", result)
        self.assertRaises(
            SerializationError, parse, "DescribeInstances",
            {"Reservations": [{"Instances": [{"AmiLaunchIndex": True}]}]},
        )
        self.assertRaises(
            SerializationError, parse, "DescribeInstances",
            {"Reservations": [{"Instances": [{"EbsOptimized": "false"}]}]},
        )

    def test_errorPath(self):
        """
        A value that does not fit is named by its whole path from the
        action, list indexes included.
        """
        instance = {"InstanceId": "i-00000001", "State": {"Code": "16"}}
        error = self.assertRaises(
            SerializationError, parse, "DescribeInstances",
            {"Reservations": [{"Instances": []}, {"Instances": [{}, instance]}]},
        )
        self.assertTrue(
            str(error).startswith(
                "DescribeInstances.Reservations[1].Instances[1].State.Code: expected a integer"
            ),
            str(error),
        )
        error = self.assertRaises(
            SerializationError, parse, "DescribeKeyPairs", {"KeyPairs": [{}, None]}
        )
        self.assertEqual(str(error), "DescribeKeyPairs.KeyPairs[1]: None in a list")

    def test_plainAndEscapedText(self):
        """
        Text is written as it is unless it holds markup characters or
        characters XML cannot carry.
        """
        body, parsed = parse(
            "DescribeKeyPairs",
            {"KeyPairs": [{"KeyName": "plain-name.1"}, {"KeyName": "a&b\x01<c>"}]},
        )
        self.assertIn(b"<keyName>plain-name.1</keyName>", body)
        self.assertIn(b"<keyName>a&amp;b\xef\xbf\xbd&lt;c&gt;</keyName>", body)
        self.assertEqual(
            [k["KeyName"] for k in parsed["KeyPairs"]], ["plain-name.1", "a&b\ufffd<c>"]
        )

    def test_noneLeftOut(self):
        body, parsed = parse("CreateKeyPair", {"KeyName": "k", "KeyMaterial": None})
        self.assertNotIn(b"keyMaterial", body)
        self.assertEqual(parsed["KeyName"], "k")

    def test_noOutputShape(self):
        body = serializeResponse("RebootInstances", None, None, "r", "2016-11-15")
        self.assertIn(b"<return>true</return>", body)
        self.assertRaises(
            SerializationError, serializeResponse, "RebootInstances", None, {"a": 1}, "r", "v"
        )

    def test_badCharacters(self):
        """
        Characters XML cannot carry are replaced, so the document stays
        readable.
        """
        body, parsed = parse("DescribeKeyPairs", {"KeyPairs": [{"KeyName": "a\x00b\udcffc"}]})
        self.assertEqual(parsed["KeyPairs"][0]["KeyName"], "a\ufffdb\ufffdc")

    def test_namespace(self):
        body = serializeResponse("RebootInstances", None, True, "r", 'x"<&')
        root = ET.fromstring(body)
        self.assertEqual(root.tag, '{http://ec2.amazonaws.com/doc/x"<&/}RebootInstancesResponse')

    def test_timestamps(self):
        self.assertEqual(formatTimestamp(datetime(2011, 3, 1, 1, 2, 3, 4999)), "2011-03-01T01:02:03.004Z")
        eastern = timezone(timedelta(hours=-5))
        self.assertEqual(
            formatTimestamp(datetime(2011, 3, 1, 7, 0, tzinfo=eastern)), "2011-03-01T12:00:00.000Z"
        )
        self.assertEqual(formatTimestamp(0), "1970-01-01T00:00:00.000Z")

    def test_error(self):
        body = serializeError("InvalidKeyPair.NotFound", "The key pair 'a<b' does not exist", "r-1")
        parsed = create_parser("ec2").parse(
            {"body": body, "headers": {}, "status_code": 400}, None
        )
        self.assertEqual(
            parsed["Error"],
            {"Code": "InvalidKeyPair.NotFound", "Message": "The key pair 'a<b' does not exist"},
        )
        self.assertEqual(parsed["ResponseMetadata"]["RequestId"], "r-1")

    def test_adminShapes(self):
        """
        The admin model's shapes are written the same way.
        """
        model = adminModel()
        body = serializeResponse(
            "DescribeUsers",
            model.outputShape("DescribeUsers"),
            {"userSet": [{"username": "a", "accesskey": "k", "secretkey": "s"}]},
            "r",
            "nova",
        )
        self.assertIn(
            b'<DescribeUsersResponse xmlns="http://ec2.amazonaws.com/doc/nova/"><requestId>r</requestId>'
            b"<userSet><item><username>a</username><accesskey>k</accesskey>"
            b"<secretkey>s</secretkey></item></userSet></DescribeUsersResponse>",
            body,
        )
