"""
Tests for L{nova.api.ec2.request}: decoding, the parameter tree and the
conversion against botocore's EC2 model, plus a fuzz test of the whole
parser.
"""

import random
import time
from datetime import datetime, timezone

from twisted.trial.unittest import SynchronousTestCase

from nova.api.ec2 import errors
from nova.api.ec2.model import loadEC2Model
from nova.api.ec2.request import (
    Limits,
    RESERVED_PARAMETERS,
    convertInput,
    decodePairs,
    formPairs,
    parameterTree,
    requestParameters,
)
from nova.exception import NovaError
from tests.api.ec2.fuzzing import randomBytes, randomKey, randomValue

LIMITS = Limits()


def convert(action, params, limits=LIMITS):
    model = loadEC2Model()
    return convertInput(model, model.inputShape(action), parameterTree(params, limits))


class DecodingTests(SynchronousTestCase):
    def test_formPairs(self):
        self.assertEqual(
            formPairs(b"a=1&b=x+y&c&&d=%41%2B&=e"),
            [(b"a", b"1"), (b"b", b"x y"), (b"c", b""), (b"d", b"A+"), (b"", b"e")],
        )

    def test_decodeKeepsBytes(self):
        params = decodePairs([(b"K", b"caf\xe9"), (b"N", "na\u00efve".encode())], LIMITS)
        self.assertEqual(params, {"K": "caf\udce9", "N": "na\u00efve"})
        self.assertEqual(params["K"].encode("utf-8", "surrogateescape"), b"caf\xe9")

    def test_emptyName(self):
        self.assertRaises(errors.MalformedQueryString, decodePairs, [(b"", b"x")], LIMITS)

    def test_duplicate(self):
        self.assertRaises(
            errors.MalformedQueryString, decodePairs, [(b"a", b"1"), (b"a", b"2")], LIMITS
        )

    def test_tooMany(self):
        limits = Limits(maxParameters=3)
        pairs = [(b"a%d" % i, b"") for i in range(4)]
        self.assertRaises(errors.MalformedQueryString, decodePairs, pairs, limits)

    def test_nameTooLong(self):
        self.assertRaises(
            errors.MalformedQueryString, decodePairs, [(b"a" * 513, b"")], LIMITS
        )

    def test_queryAndBody(self):
        params = requestParameters(
            "POST", b"Action=A", "application/x-www-form-urlencoded; charset=UTF-8",
            b"B=2&C=3", LIMITS,
        )
        self.assertEqual(params, {"Action": "A", "B": "2", "C": "3"})

    def test_getIgnoresBody(self):
        self.assertEqual(requestParameters("GET", b"A=1", None, b"B=2", LIMITS), {"A": "1"})

    def test_bodyAndQueryDuplicate(self):
        self.assertRaises(
            errors.MalformedQueryString,
            requestParameters, "POST", b"A=1", None, b"A=1", LIMITS,
        )

    def test_contentTypes(self):
        for contentType in ("text/plain", "multipart/form-data; boundary=x"):
            error = self.assertRaises(
                errors.InvalidRequest, requestParameters, "POST", b"", contentType, b"A=1", LIMITS
            )
            self.assertEqual(error.httpStatus, 415)
        self.assertRaises(
            errors.InvalidRequest, requestParameters,
            "POST", b"", "application/x-www-form-urlencoded; charset=utf-16", b"A=1", LIMITS,
        )

    def test_size(self):
        limits = Limits(maxBytes=10)
        self.assertRaises(errors.RequestTooLarge, requestParameters, "POST", b"", None, b"A=" + b"x" * 9, limits)
        self.assertRaises(errors.RequestTooLarge, requestParameters, "GET", b"A=" + b"x" * 9, None, b"", limits)

    def test_nonASCIIQuery(self):
        self.assertRaises(
            errors.MalformedQueryString, requestParameters, "GET", b"A=\xe9", None, b"", LIMITS
        )


class TreeTests(SynchronousTestCase):
    def test_tree(self):
        tree = parameterTree(
            {
                "Action": "X",
                "Signature": "s",
                "Filter.1.Name": "n",
                "Filter.1.Value.1": "a",
                "Filter.1.Value.2": "b",
                "KeyName": "k",
            },
            LIMITS,
        )
        self.assertEqual(
            tree,
            {"Filter": {"1": {"Name": "n", "Value": {"1": "a", "2": "b"}}}, "KeyName": "k"},
        )

    def test_reservedLeftOut(self):
        self.assertEqual(parameterTree({name: "x" for name in RESERVED_PARAMETERS}, LIMITS), {})

    def test_conflict(self):
        self.assertRaises(
            errors.InvalidParameterValue, parameterTree, {"A.1": "x", "A.1.B": "y"}, LIMITS
        )
        self.assertRaises(
            errors.InvalidParameterValue, parameterTree, {"A.1.B": "y", "A.1": "x"}, LIMITS
        )

    def test_emptySegments(self):
        for name in ("A..B", ".A", "A."):
            self.assertRaises(errors.UnknownParameter, parameterTree, {name: "x"}, LIMITS)

    def test_depth(self):
        self.assertRaises(
            errors.UnknownParameter, parameterTree, {".".join(["A"] * 17): "x"}, LIMITS
        )


class ConversionTests(SynchronousTestCase):
    def test_lists(self):
        """
        Lists are ordered by index, whatever the gaps and the order given.
        """
        self.assertEqual(
            convert("DescribeKeyPairs", {"KeyName.10": "c", "KeyName.2": "b", "KeyName.1": "a"}),
            {"KeyNames": ["a", "b", "c"]},
        )
        self.assertEqual(
            convert("DescribeKeyPairs", {"KeyName.99999999999": "z"}), {"KeyNames": ["z"]}
        )

    def test_filters(self):
        self.assertEqual(
            convert(
                "DescribeKeyPairs",
                {"Filter.1.Name": "key-name", "Filter.1.Value.1": "a*", "Filter.2.Name": "x"},
            ),
            {"Filters": [{"Name": "key-name", "Values": ["a*"]}, {"Name": "x"}]},
        )

    def test_nestedStructures(self):
        self.assertEqual(
            convert(
                "AuthorizeSecurityGroupIngress",
                {
                    "GroupName": "web",
                    "IpPermissions.1.IpProtocol": "tcp",
                    "IpPermissions.1.FromPort": "22",
                    "IpPermissions.1.ToPort": "22",
                    "IpPermissions.1.IpRanges.1.CidrIp": "10.0.0.0/8",
                    "IpPermissions.1.Groups.1.GroupName": "db",
                },
            ),
            {
                "GroupName": "web",
                "IpPermissions": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 22,
                        "ToPort": 22,
                        "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
                        "UserIdGroupPairs": [{"GroupName": "db"}],
                    }
                ],
            },
        )

    def test_tagsAndBlockDevices(self):
        result = convert(
            "RunInstances",
            {
                "MinCount": "1",
                "MaxCount": "1",
                "BlockDeviceMapping.1.Ebs.VolumeSize": "20",
                "BlockDeviceMapping.1.Ebs.DeleteOnTermination": "false",
                "TagSpecification.1.ResourceType": "instance",
                "TagSpecification.1.Tag.1.Key": "k",
                "TagSpecification.1.Tag.1.Value": "v",
            },
        )
        self.assertEqual(
            result["BlockDeviceMappings"], [{"Ebs": {"VolumeSize": 20, "DeleteOnTermination": False}}]
        )
        self.assertEqual(
            result["TagSpecifications"],
            [{"ResourceType": "instance", "Tags": [{"Key": "k", "Value": "v"}]}],
        )

    def test_scalars(self):
        result = convert(
            "DescribeSpotPriceHistory",
            {"StartTime": "2011-03-01T12:00:00Z", "MaxResults": "+5", "DryRun": "TRUE"},
        )
        self.assertEqual(
            result,
            {
                "StartTime": datetime(2011, 3, 1, 12, tzinfo=timezone.utc),
                "MaxResults": 5,
                "DryRun": True,
            },
        )
        self.assertEqual(
            convert("ImportKeyPair", {"KeyName": "k", "PublicKeyMaterial": "c3NoLXJzYSBB"}),
            {"KeyName": "k", "PublicKeyMaterial": b"ssh-rsa A"},
        )

    def test_badScalars(self):
        cases = [
            ("DescribeSpotPriceHistory", {"MaxResults": "5.5"}),
            ("DescribeSpotPriceHistory", {"MaxResults": "2147483648"}),
            ("DescribeSpotPriceHistory", {"StartTime": "yesterday"}),
            ("DescribeSpotPriceHistory", {"DryRun": "1"}),
            ("ImportKeyPair", {"KeyName": "k", "PublicKeyMaterial": "not base64!"}),
            ("CreateKeyPair", {"KeyName": "a\x00b"}),
            ("CreateKeyPair", {"KeyName": "caf\udce9"}),
        ]
        for action, params in cases:
            self.assertRaises(errors.InvalidParameterValue, convert, action, params)

    def test_unknown(self):
        for params in ({"Colour": "x"}, {"KeyName.1.Colour": "x"}, {"KeyName.x": "y"},
                       {"Filter.1.Colour": "x"}, {"Filter": "x"}, {"IncludePublicKey.1": "true"}):
            error = self.assertRaises(
                errors.UnknownParameter, convert, "DescribeKeyPairs", params
            )
            self.assertEqual(error.ec2Code, "UnknownParameter")

    def test_unknownNamesTheParameter(self):
        error = self.assertRaises(
            errors.UnknownParameter, convert, "DescribeKeyPairs", {"Filter.3.Colour": "x"}
        )
        self.assertEqual(str(error), "The parameter Filter.3.Colour is not recognized")

    def test_required(self):
        error = self.assertRaises(errors.MissingParameter, convert, "CreateKeyPair", {})
        self.assertEqual(str(error), "The request must contain the parameter KeyName")

    def test_noInputShape(self):
        model = loadEC2Model()
        self.assertEqual(convertInput(model, None, {}), {})
        self.assertRaises(errors.UnknownParameter, convertInput, model, None, {"A": "b"})

    def test_duplicateIndex(self):
        self.assertRaises(
            errors.MalformedQueryString,
            convert, "DescribeKeyPairs", {"KeyName.1": "a", "KeyName.001": "b"},
        )


# The fuzz test

_ACTIONS = (
    "RunInstances",
    "DescribeKeyPairs",
    "AuthorizeSecurityGroupIngress",
    "DescribeInstances",
    "CreateKeyPair",
    "ImportKeyPair",
    "DescribeSpotPriceHistory",
)
class FuzzTests(SynchronousTestCase):
    """
    Random and hostile input reaches the parser: every outcome is a
    result or an EC2 error, never another exception, and each request
    takes little time.
    """

    def check(self, function, *args):
        start = time.monotonic()
        try:
            function(*args)
        except errors.EC2Error:
            pass
        except NovaError as e:
            self.fail(f"unexpected {e!r} for {args!r:.300}")
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, 1.0, f"slow on {args!r:.300}")

    def test_randomParameters(self):
        rng = random.Random(20110415)
        model = loadEC2Model()
        for _ in range(3000):
            params = {randomKey(rng): randomValue(rng) for _ in range(rng.randint(0, 12))}
            action = rng.choice(_ACTIONS)

            def parse(params=params, action=action):
                tree = parameterTree(params, LIMITS)
                convertInput(model, model.inputShape(action), tree)

            self.check(parse)

    def testrandomBytes(self):
        rng = random.Random(8773)
        for _ in range(2000):
            query, body = randomBytes(rng), randomBytes(rng)
            method = rng.choice(["GET", "POST"])
            contentType = rng.choice([None, "application/x-www-form-urlencoded", "text/plain", "\x00"])
            self.check(requestParameters, method, query, contentType, body, LIMITS)

    def test_hostileShapes(self):
        """
        Deep nesting, wide lists and long values stay within bounds.
        """
        model = loadEC2Model()
        deep = {".".join(["BlockDeviceMapping", "1"] * 8): "x"}
        wide = {f"InstanceId.{i}": "i-1" for i in range(10000)}
        huge = {"InstanceId.99999999999999999999": "i-1", "InstanceId.1": "i-2"}
        long = {"UserData": "A" * 1_000_000}
        for params in (deep, wide, huge, long):
            def parse(params=params):
                tree = parameterTree(params, LIMITS)
                return convertInput(model, model.inputShape("RunInstances"), tree)

            self.check(parse)
        self.assertRaises(
            errors.MalformedQueryString,
            decodePairs, [(b"InstanceId.%d" % i, b"x") for i in range(10001)], LIMITS,
        )
