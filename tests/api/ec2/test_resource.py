"""
Tests for L{nova.api.ec2.resource}: the request pipeline (parameters,
authentication, action lookup, role checks, conversion, DryRun, errors)
through a real listening server and real clients.
"""

import base64
import time

from botocore.exceptions import ClientError
from twisted.internet import defer, reactor, task
from twisted.trial.unittest import SynchronousTestCase, TestCase

from zope.interface.verify import verifyObject

from nova.api.ec2.interfaces import IEC2Authenticator
from nova.api.ec2.model import ModelError, loadEC2Model
from nova.api.ec2.errors import ServiceNotConfigured
from nova.api.ec2.resource import EC2API, Backends, EC2Resource, anyMember
from nova.api.ec2.serializer import SerializationError
from nova.auth import policy
from nova.auth.manager import authManagerFromConfig
from nova.config import configFromFlags
from nova.db.api import inlineDatabase
from tests.api.ec2.support import (
    ALICE,
    BOB,
    ROOT,
    APIServerMixin,
    TestUser,
    encodeForm,
    signV2,
    signWeak,
)

EC2_NAMESPACE = "{http://ec2.amazonaws.com/doc/2016-11-15/}"


class PipelineTests(APIServerMixin, TestCase):
    """
    The generic behaviour every action gets.
    """

    async def setUp(self):
        await self.startServer()
        self.calls = []

        def record(call):
            self.calls.append(call)
            if call.action == "DeleteKeyPair":
                return {"Return": True}
            return {"ReservationId": "r-1", "OwnerId": "alice", "Groups": [], "Instances": []}

        async def fails(call):
            raise RuntimeError("an unexpected bug")

        def misnamed(call):
            return {"Reservations": [], "NextTokn": "x"}

        def deferred(call):
            return defer.succeed({"InstanceStatuses": [], "NextToken": "t"})

        def noOutput(call):
            return None

        api = EC2API(
            "Test",
            loadEC2Model(),
            {
                "RebootInstances": noOutput,
                "RunInstances": record,
                "StopInstances": fails,
                "DescribeInstances": misnamed,
                "DescribeInstanceStatus": deferred,
                "DeleteKeyPair": record,
            },
            policy.allowed,
            self.backends,
        )
        self.root.children[b"services"].putChild(
            b"Test", EC2Resource(api, self.authManager)
        )
        self.testPath = "/services/Test"

    # Action lookup

    async def test_unknownAction(self):
        response = await self.signedPost({"Action": "LaunchRockets"})
        self.assertEqual(response.status, 400)
        self.assertEqual(response.errorCode(), "InvalidAction")
        self.assertEqual(
            response.errorMessage(), "The action LaunchRockets is not valid for this web service."
        )

    async def test_missingAction(self):
        response = await self.signedPost({"Version": "2016-11-15"})
        self.assertEqual(response.status, 400)
        self.assertEqual(response.errorCode(), "MissingAction")

    async def test_errorDocument(self):
        """
        Errors are EC2's document: Response/Errors/Error/Code and Message,
        and RequestID, as text/xml.
        """
        response = await self.signedPost({"Action": "LaunchRockets"})
        root = response.xml()
        self.assertEqual(root.tag, "Response")
        self.assertEqual([child.tag for child in root], ["Errors", "RequestID"])
        self.assertEqual([e.tag for e in root.find("Errors/Error")], ["Code", "Message"])
        self.assertTrue(root.find("RequestID").text)
        self.assertTrue(response.headers["Content-Type"].startswith("text/xml"))

    async def test_boto3UnknownOperation(self):
        """
        botocore reads the error: an action the EC2 API has but Nova does
        not implement is InvalidAction.
        """
        client = await self.makeClient()
        with self.assertRaises(ClientError) as caught:
            await self.inThread(client.describe_vpcs)
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidAction")
        self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertTrue(caught.exception.response["ResponseMetadata"]["RequestId"])

    # Versions and namespaces

    async def test_namespaceFollowsVersion(self):
        response = await self.signedGet({"Action": "DescribeRegions", "Version": "2010-08-31"})
        self.assertEqual(response.status, 200)
        root = response.xml()
        self.assertEqual(
            root.tag, "{http://ec2.amazonaws.com/doc/2010-08-31/}DescribeRegionsResponse"
        )

    async def test_defaultVersion(self):
        response = await self.signedPost({"Action": "DescribeRegions"})
        self.assertEqual(response.xml().tag, EC2_NAMESPACE + "DescribeRegionsResponse")

    async def test_oddVersionAccepted(self):
        response = await self.signedPost({"Action": "DescribeRegions", "Version": 'a"b<c'})
        self.assertEqual(response.status, 200)
        self.assertEqual(
            response.xml().tag, '{http://ec2.amazonaws.com/doc/a"b<c/}DescribeRegionsResponse'
        )

    async def test_requestId(self):
        """
        The response's requestId is the context's, which botocore reports.
        """
        client = await self.makeClient()
        result = await self.inThread(client.describe_regions)
        requestId = result["ResponseMetadata"]["RequestId"]
        self.assertEqual(len(requestId), 36)

    # Authentication

    async def test_sigV4PresignedURL(self):
        """
        A version 4 signature in the query string works (botocore signs
        presigned EC2 URLs for POST, the method of the operation).
        """
        client = await self.makeClient()
        url = await self.inThread(client.generate_presigned_url, "describe_regions")
        target = url.split(str(self.port), 1)[1]
        response = await self.raw("POST", target, b"")
        self.assertEqual(response.status, 200, response.body)
        self.assertEqual(response.xml().tag, EC2_NAMESPACE + "DescribeRegionsResponse")

    async def test_wrongSecret(self):
        """
        A request signed with the wrong secret is EC2's AuthFailure (401),
        not S3's SignatureDoesNotMatch, with signature version 4 or 2.
        """
        impostor = TestUser("alice", ALICE.access, "not-the-secret")
        for version in ("v4", "v2"):
            client = await self.makeClient(impostor, signatureVersion=version)
            with self.assertRaises(ClientError) as caught:
                await self.inThread(client.describe_regions)
            error = caught.exception.response["Error"]
            self.assertEqual(error["Code"], "AuthFailure", version)
            self.assertEqual(
                error["Message"], "AWS was not able to validate the provided access credentials"
            )
            self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], 401)

    async def test_unknownAccessKey(self):
        client = await self.makeClient(TestUser("eve", "eve-access", "eve-secret"))
        with self.assertRaises(ClientError) as caught:
            await self.inThread(client.describe_regions)
        self.assertEqual(caught.exception.response["Error"]["Code"], "AuthFailure")
        self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], 401)

    async def test_noCredentials(self):
        response = await self.raw("GET", self.config.ec2_path + "?Action=DescribeRegions")
        self.assertEqual(response.status, 401)
        self.assertEqual(response.errorCode(), "AuthFailure")

    async def test_wrongProject(self):
        """
        An access key naming a project the user is not a member of is
        refused; one naming a project it is a member of acts there.
        """
        client = await self.makeClient(ALICE, project="bob")
        with self.assertRaises(ClientError) as caught:
            await self.inThread(client.describe_regions)
        self.assertEqual(caught.exception.response["Error"]["Code"], "AuthFailure")
        self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        response = await self.signedPost(
            {"Action": "RunInstances", "ImageId": "ami-1", "MinCount": "1", "MaxCount": "1"},
            user=BOB, path=self.testPath, accessKey=f"{BOB.access}:alice",
        )
        self.assertEqual(response.errorCode(), "UnauthorizedOperation")

    async def test_expired(self):
        old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
        response = await self.signedPost({"Action": "DescribeRegions"}, timestamp=old)
        self.assertEqual(response.status, 400)
        self.assertEqual(response.errorCode(), "RequestExpired")

    async def test_tamperedParameters(self):
        """
        Changing a signed parameter breaks a version 2 signature.
        """
        signed = signV2("POST", self.host, self.config.ec2_path,
                        {"Action": "CreateKeyPair", "KeyName": "a"}, ALICE)
        signed["KeyName"] = "b"
        body = "&".join(f"{k}={v}" for k, v in signed.items()).replace("+", "%2B")
        response = await self.raw(
            "POST", self.config.ec2_path, body.encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        self.assertEqual(response.status, 401)
        self.assertEqual(response.errorCode(), "AuthFailure")

    # Roles

    async def test_roleChecks(self):
        """
        The framework asks the policy: RunInstances needs sysadmin or
        projectmanager; alice (sysadmin) may, bob acting in alice's
        project may not; root (a superuser) may.
        """
        params = {"Action": "RunInstances", "ImageId": "ami-1", "MinCount": "1", "MaxCount": "1"}
        allowed = await self.signedPost(params, path=self.testPath)
        self.assertEqual(allowed.status, 200, allowed.body)
        refused = await self.signedPost(
            params, user=BOB, path=self.testPath, accessKey=f"{BOB.access}:alice"
        )
        self.assertEqual(refused.status, 403)
        self.assertEqual(refused.errorCode(), "UnauthorizedOperation")
        self.assertEqual(
            refused.errorMessage(), "You are not authorized to perform this operation."
        )
        managerOfOwn = await self.signedPost(params, user=BOB, path=self.testPath)
        self.assertEqual(managerOfOwn.status, 200)
        superuser = await self.signedPost(
            params, user=ROOT, path=self.testPath, accessKey=f"{ROOT.access}:alice"
        )
        self.assertEqual(superuser.status, 200)

    async def test_adminAPIRefusesNonSuperusers(self):
        response = await self.signedPost(
            {"Action": "DescribeUsers"}, path="/services/Admin"
        )
        self.assertEqual(response.status, 403)
        self.assertEqual(response.errorCode(), "UnauthorizedOperation")

    # What an action receives

    async def test_actionCall(self):
        """
        The action gets the parameters converted to boto3's input shape,
        the context (with the client's address) and the version.
        """
        client = await self.makeClient()
        await self.inThread(client.close)
        response = await self.signedPost(
            {
                "Action": "RunInstances",
                "Version": "2016-11-15",
                "ImageId": "ami-1",
                "MinCount": "1",
                "MaxCount": "3",
                "EbsOptimized": "true",
                "UserData": base64.b64encode(b"#!/bin/sh").decode(),
                "SecurityGroup.2": "web",
                "SecurityGroup.1": "default",
                "BlockDeviceMapping.1.DeviceName": "/dev/sdb",
                "BlockDeviceMapping.1.Ebs.VolumeSize": "10",
                "TagSpecification.1.ResourceType": "instance",
                "TagSpecification.1.Tag.1.Key": "Name",
                "TagSpecification.1.Tag.1.Value": "web server",
                "Placement.AvailabilityZone": "nova",
            },
            path=self.testPath,
        )
        self.assertEqual(response.status, 200, response.body)
        [call] = self.calls
        self.assertEqual(call.action, "RunInstances")
        self.assertEqual(call.version, "2016-11-15")
        self.assertEqual(
            call.params,
            {
                "ImageId": "ami-1",
                "MinCount": 1,
                "MaxCount": 3,
                "EbsOptimized": True,
                "UserData": base64.b64encode(b"#!/bin/sh").decode(),
                "SecurityGroups": ["default", "web"],
                "BlockDeviceMappings": [{"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 10}}],
                "TagSpecifications": [
                    {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web server"}]}
                ],
                "Placement": {"AvailabilityZone": "nova"},
            },
        )
        self.assertEqual(call.context.userId, "alice")
        self.assertEqual(call.context.projectId, "alice")
        self.assertEqual(call.context.remoteAddress, "127.0.0.1")
        self.assertIs(call.backends, self.backends)

    async def test_boto3InputReachesAction(self):
        """
        What boto3 serializes (lists, nested structures, booleans) is what
        the action gets back.
        """
        client = await self.makeClient(path=self.testPath)
        request = {
            "ImageId": "ami-1",
            "MinCount": 1,
            "MaxCount": 2,
            "KeyName": "k",
            "SecurityGroupIds": ["sg-1", "sg-2"],
            "BlockDeviceMappings": [
                {"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 8, "DeleteOnTermination": True}}
            ],
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}
            ],
        }
        result = await self.inThread(client.run_instances, **request)
        self.assertEqual(result["ReservationId"], "r-1")
        [call] = self.calls
        params = dict(call.params)
        self.assertTrue(params.pop("ClientToken"))
        self.assertEqual(params, request)

    async def test_deferredAndNoOutput(self):
        ok = await self.signedPost({"Action": "DescribeInstanceStatus"}, path=self.testPath)
        self.assertEqual(ok.status, 200)
        root = ok.xml()
        self.assertEqual(root.find(EC2_NAMESPACE + "nextToken").text, "t")
        none = await self.signedPost(
            {"Action": "RebootInstances", "InstanceId.1": "i-1"}, path=self.testPath
        )
        self.assertEqual(none.status, 200, none.body)
        self.assertEqual(none.xml().find(EC2_NAMESPACE + "return").text, "true")

    # Conversion errors

    async def test_unknownParameter(self):
        response = await self.signedPost({"Action": "DescribeRegions", "Colour": "blue"})
        self.assertEqual(response.status, 400)
        self.assertEqual(response.errorCode(), "UnknownParameter")
        self.assertEqual(response.errorMessage(), "The parameter Colour is not recognized")

    async def test_missingParameter(self):
        response = await self.signedPost({"Action": "CreateKeyPair"})
        self.assertEqual(response.errorCode(), "MissingParameter")
        self.assertEqual(
            response.errorMessage(), "The request must contain the parameter KeyName"
        )

    async def test_missingNestedParameter(self):
        response = await self.signedPost(
            {"Action": "RunInstances", "MinCount": "1"}, path=self.testPath
        )
        self.assertEqual(response.errorCode(), "MissingParameter")
        self.assertEqual(
            response.errorMessage(), "The request must contain the parameter MaxCount"
        )

    async def test_malformedValues(self):
        cases = [
            ({"MaxCount": "lots"}, "InvalidParameterValue"),
            ({"MaxCount": "99999999999"}, "InvalidParameterValue"),
            ({"EbsOptimized": "maybe"}, "InvalidParameterValue"),
            ({"SecurityGroup": "web"}, "UnknownParameter"),
            ({"SecurityGroup.first": "web"}, "UnknownParameter"),
            ({"ImageId.1": "ami-2"}, "InvalidParameterValue"),
            ({"KeyName.1": "k"}, "UnknownParameter"),
            ({"Placement": "nova"}, "UnknownParameter"),
            ({"Placement.Colour": "red"}, "UnknownParameter"),
            ({"SecurityGroup.1": "a", "SecurityGroup.01": "b"}, "MalformedQueryString"),
            ({"BlockDeviceMapping.1": "x", "BlockDeviceMapping.1.DeviceName": "y"},
             "InvalidParameterValue"),
            ({"a..b": "x"}, "UnknownParameter"),
            ({"UserData": "x"}, None),
        ]
        for extra, code in cases:
            params = {"Action": "RunInstances", "ImageId": "ami-1", "MinCount": "1", "MaxCount": "1"}
            params.update(extra)
            response = await self.signedPost(params, path=self.testPath)
            self.assertEqual(response.errorCode(), code, (extra, response.body))
            if code is not None:
                self.assertEqual(response.status, 400)

    async def test_hugeIndex(self):
        """
        A list index of any size is an index, not an allocation.
        """
        response = await self.signedPost(
            {"Action": "DescribeKeyPairs", "KeyName.99999999999": "nope"}
        )
        self.assertEqual(response.errorCode(), "InvalidKeyPair.NotFound")

    async def test_notUTF8(self):
        """
        Bytes that are not UTF-8 are signed as sent and refused as values.
        """
        response = await self.signedPost(
            {"Action": "CreateKeyPair", "KeyName": "caf\udce9"}
        )
        self.assertEqual(response.status, 400, response.body)
        self.assertEqual(response.errorCode(), "InvalidParameterValue")
        self.assertIn("not valid UTF-8", response.errorMessage())

    async def test_duplicateParameter(self):
        path = self.config.ec2_path
        signed = signV2("POST", self.host, path, {"Action": "DescribeRegions"}, ALICE)
        body = encodeForm(signed) + b"&Action=DescribeRegions"
        response = await self.raw(
            "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        self.assertEqual(response.errorCode(), "MalformedQueryString")

    async def test_nonASCIIQuery(self):
        answer = await self.rawBytes(
            b"GET " + self.config.ec2_path.encode() + b"?Action=D\xe9scribe HTTP/1.1\r\n"
            b"Host: " + self.host.encode() + b"\r\nConnection: close\r\n\r\n"
        )
        self.assertTrue(answer.startswith(b"HTTP/1.1 400 "), answer)

    # DryRun

    async def test_dryRun(self):
        client = await self.makeClient()
        with self.assertRaises(ClientError) as caught:
            await self.inThread(client.create_key_pair, KeyName="dry", DryRun=True)
        self.assertEqual(caught.exception.response["Error"]["Code"], "DryRunOperation")
        self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], 412)
        self.assertEqual((await self.inThread(client.describe_key_pairs))["KeyPairs"], [])

    async def test_dryRunUnauthorized(self):
        response = await self.signedPost(
            {"Action": "RunInstances", "ImageId": "a", "MinCount": "1", "MaxCount": "1",
             "DryRun": "true"},
            user=BOB, path=self.testPath, accessKey=f"{BOB.access}:alice",
        )
        self.assertEqual(response.errorCode(), "UnauthorizedOperation")

    # HTTP

    async def test_methodNotAllowed(self):
        response = await self.raw("PUT", self.config.ec2_path, b"")
        self.assertEqual(response.status, 405)
        self.assertEqual(response.errorCode(), "InvalidRequest")

    async def test_contentType(self):
        response = await self.signedPost(
            {"Action": "DescribeRegions"}, contentType="application/json"
        )
        self.assertEqual(response.status, 415)
        response = await self.signedPost(
            {"Action": "DescribeRegions"},
            contentType="application/x-www-form-urlencoded; charset=iso-8859-1",
        )
        self.assertEqual(response.status, 415)
        response = await self.signedPost(
            {"Action": "DescribeRegions"},
            contentType="Application/X-WWW-Form-URLEncoded;Charset=\"UTF-8\"",
        )
        self.assertEqual(response.status, 200)
        response = await self.signedPost({"Action": "DescribeRegions"}, contentType=None)
        self.assertEqual(response.status, 200)

    async def test_tooLarge(self):
        """
        A body over the limit is refused with 413 (declared or not) and
        the server goes on serving.
        """
        params = {"Action": "DescribeRegions", "Padding": "x" * (self.config.ec2_max_request_bytes + 10)}
        response = await self.signedPost(params)
        self.assertEqual(response.status, 413)
        self.assertEqual(response.errorCode(), "RequestEntityTooLarge")
        after = await self.signedPost({"Action": "DescribeRegions"})
        self.assertEqual(after.status, 200)

    async def test_tooLargeChunked(self):
        body = b"Action=DescribeRegions&Padding=" + b"x" * (self.config.ec2_max_request_bytes + 10)
        chunked = b"".join(
            b"%x\r\n" % (len(body[i:i + 65536]),) + body[i:i + 65536] + b"\r\n"
            for i in range(0, len(body), 65536)
        ) + b"0\r\n\r\n"
        answer = await self.rawBytes(
            b"POST " + self.config.ec2_path.encode() + b" HTTP/1.1\r\nHost: "
            + self.host.encode() + b"\r\nConnection: close\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + chunked
        )
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer[:200])
        self.assertIn(b"<Code>RequestEntityTooLarge</Code>", answer)

    async def test_endlessBodyCut(self):
        """
        A body that goes on far past the limit has its connection closed.
        """
        limit = self.config.ec2_max_request_bytes
        chunk = b"x" * 65536
        data = (
            b"POST " + self.config.ec2_path.encode() + b" HTTP/1.1\r\nHost: "
            + self.host.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
            + (b"10000\r\n" + chunk + b"\r\n") * (limit * 17 // 65536 + 2)
        )
        try:
            answer = await self.rawBytes(data)
        except OSError:
            answer = b""
        self.assertNotIn(b"200 OK", answer)

    # Failures

    async def test_unexpectedErrorIsInternalErrorLoggedOnce(self):
        params = {"Action": "StopInstances", "InstanceId.1": "i-1"}
        response = await self.signedPost(params, path=self.testPath)
        self.assertEqual(response.status, 500)
        self.assertEqual(response.errorCode(), "InternalError")
        self.assertEqual(response.errorMessage(), "An internal error has occurred")
        self.assertNotIn(b"unexpected bug", response.body)
        self.assertNotIn(b"Traceback", response.body)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    async def test_serviceNotConfigured(self):
        """
        An action whose backend this nova-api lacks (this server has no
        compute, volume, network or image service) is answered with EC2's
        Unsupported naming the service, through the real action table,
        and nothing is logged.
        """
        for action, service in [
            ("DescribeVolumes", "volume"),
            ("DescribeInstances", "compute"),
            ("DescribeAddresses", "network"),
            ("DescribeSecurityGroups", "security group"),
        ]:
            response = await self.signedPost({"Action": action})
            self.assertEqual(response.status, 400, response.body)
            self.assertEqual(response.errorCode(), "Unsupported")
            self.assertEqual(
                response.errorMessage(),
                f"The {service} service is not configured on this server, so this "
                "request is unsupported.",
            )
        self.assertEqual(self.flushLoggedErrors(), [])

    async def test_misnamedOutputField(self):
        """
        An action returning a key its output shape lacks is a bug: 500,
        logged, never written.
        """
        response = await self.signedPost({"Action": "DescribeInstances"}, path=self.testPath)
        self.assertEqual(response.status, 500)
        self.assertNotIn(b"NextTokn", response.body)
        [error] = self.flushLoggedErrors(SerializationError)
        self.assertIn("NextTokn", str(error.value))

    async def test_clientGoneAway(self):
        """
        A client that disconnects before the answer does not break the
        server.
        """
        gate = defer.Deferred()
        self.calls = []

        def slow(call):
            return gate.addCallback(lambda _: {"Return": True})

        api = EC2API("Slow", loadEC2Model(), {"DeleteKeyPair": slow}, anyMember, self.backends)
        self.root.children[b"services"].putChild(b"Slow", EC2Resource(api, self.authManager))
        signed = signV2(
            "POST", self.host, "/services/Slow", {"Action": "DeleteKeyPair", "KeyName": "x"}, ALICE
        )
        body = encodeForm(signed)
        await self.rawBytes(
            b"POST /services/Slow HTTP/1.1\r\nHost: " + self.host.encode()
            + b"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body,
            readAnswer=False,
        )
        await task.deferLater(reactor, 0.2, lambda: None)
        gate.callback(None)
        after = await self.signedPost({"Action": "DescribeRegions"})
        self.assertEqual(after.status, 200)
        self.assertEqual(self.flushLoggedErrors(), [])


class WeakSignatureTests(APIServerMixin, TestCase):
    """
    Signature versions 0 and 1, as Cactus accepted them, behind
    C{--ec2_weak_signatures} (off by default).
    """

    def weakPost(self, params, version, user=ALICE, path=None):
        path = path or self.config.ec2_path
        signed = signWeak(params, user, version)
        return self.raw(
            "POST", path, encodeForm(signed),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )

    async def test_disabledByDefault(self):
        """
        Without the flag, a version 0 or 1 request is AuthFailure (401)
        saying those versions are disabled.
        """
        await self.startServer()
        self.assertFalse(self.config.ec2_weak_signatures)
        for version in ("0", "1"):
            response = await self.weakPost({"Action": "DescribeRegions"}, version)
            self.assertEqual((response.status, response.errorCode()), (401, "AuthFailure"))
            self.assertIn(f"Signature version {version} is disabled", response.errorMessage())

    async def test_enabled(self):
        """
        With the flag, version 0 and 1 requests to the EC2 and admin APIs
        are answered; a wrong secret is still AuthFailure.
        """
        await self.startServer(ec2_weak_signatures=True)
        for version in ("0", "1"):
            response = await self.weakPost({"Action": "DescribeRegions"}, version)
            self.assertEqual(response.status, 200, response.body)
            self.assertEqual(response.xml().tag, EC2_NAMESPACE + "DescribeRegionsResponse")
            response = await self.weakPost(
                {"Action": "DescribeUsers", "Version": "nova"}, version, user=ROOT,
                path="/services/Admin",
            )
            self.assertEqual(response.status, 200, response.body)
            impostor = TestUser("alice", ALICE.access, "not-the-secret")
            response = await self.weakPost({"Action": "DescribeRegions"}, version, impostor)
            self.assertEqual((response.status, response.errorCode()), (401, "AuthFailure"))
        # Version 1 signs every parameter; version 0 only Action and
        # Timestamp.
        signed = signWeak({"Action": "CreateKeyPair", "KeyName": "a"}, ALICE, "1")
        signed["KeyName"] = "b"
        response = await self.raw(
            "POST", self.config.ec2_path, encodeForm(signed),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        self.assertEqual((response.status, response.errorCode()), (401, "AuthFailure"))

    async def test_boto2Version1(self):
        """
        boto 2 signing with its version 1 handler works once the flag is
        on.
        """
        import boto.auth

        await self.startServer(ec2_weak_signatures=True)
        connection = self.botoConnection()
        connection._auth_handler = boto.auth.QuerySignatureV1AuthHandler(
            connection.host, boto.config, connection.provider
        )
        regions = await self.inThread(connection.get_all_regions)
        self.assertEqual([r.name for r in regions], ["nova"])


class EC2APITests(SynchronousTestCase):
    def test_authManagerAuthenticates(self):
        """
        The auth manager has the method the framework calls.
        """
        config = configFromFlags()
        manager = authManagerFromConfig(config, inlineDatabase("sqlite:", task.Clock()), task.Clock())
        self.assertTrue(verifyObject(IEC2Authenticator, manager, tentative=True))

    def test_actionNotInModel(self):
        with self.assertRaises(ModelError):
            EC2API("x", loadEC2Model(), {"LaunchRockets": lambda call: {}}, anyMember, None)

    def test_backendsNotConfigured(self):
        """
        A missing backend raises L{ServiceNotConfigured} when read, and
        L{Backends.configured} tells which are there.
        """
        backends = Backends(config=None, db=None, rpc=None, clock=None, volumes="v")
        self.assertEqual(backends.volumes, "v")
        self.assertTrue(backends.configured("volumes"))
        self.assertFalse(backends.configured("images"))
        error = self.assertRaises(ServiceNotConfigured, lambda: backends.images)
        self.assertEqual((error.ec2Code, error.httpStatus, error.service), ("Unsupported", 400, "image"))

    def test_actionNotCallable(self):
        with self.assertRaises(ModelError):
            EC2API("x", loadEC2Model(), {"DescribeRegions": "nope"}, anyMember, None)
