"""
Tests for the admin API (C{/services/Admin}) with the client Nova shipped:
boto 2's C{EC2Connection} at C{/services/Admin} with C{APIVersion =
"nova"}, parsing with C{get_object}, C{get_list} and C{get_status} into
the classes below (as C{nova/adminclient.py} defined them).
"""

import re
import xml.etree.ElementTree as ET

from boto.exception import EC2ResponseError
from twisted.trial.unittest import TestCase

from nova.api.ec2.admin import ADMIN_ACTIONS, adminModel
from tests.api.ec2.cloud import CloudServerMixin
from tests.api.ec2.support import ALICE, ROOT, APIServerMixin


class UserInfo:
    def __init__(self, connection=None, username=None, endpoint=None):
        self.connection = connection
        self.username = username
        self.accesskey = self.secretkey = None

    def startElement(self, name, attrs, connection):
        return None

    def endElement(self, name, value, connection):
        if name == "username":
            self.username = str(value)
        elif name == "accesskey":
            self.accesskey = str(value)
        elif name == "secretkey":
            self.secretkey = str(value)


class UserRole:
    def __init__(self, connection=None):
        self.role = None

    def startElement(self, name, attrs, connection):
        return None

    def endElement(self, name, value, connection):
        if name == "role":
            self.role = value
        else:
            setattr(self, name, str(value))


class ProjectInfo:
    def __init__(self, connection=None):
        self.projectname = self.description = self.projectManagerId = None

    def startElement(self, name, attrs, connection):
        return None

    def endElement(self, name, value, connection):
        if name == "projectname":
            self.projectname = value
        elif name == "description":
            self.description = value
        elif name == "projectManagerId":
            self.projectManagerId = value
        else:
            setattr(self, name, str(value))


class ProjectMember:
    def __init__(self, connection=None):
        self.memberId = None

    def startElement(self, name, attrs, connection):
        return None

    def endElement(self, name, value, connection):
        if name == "member":
            self.memberId = value
        else:
            setattr(self, name, str(value))


class HostInfo:
    def __init__(self, connection=None):
        self.hostname = self.compute = self.volume = None
        self.instance_count = 0

    def startElement(self, name, attrs, connection):
        return None

    def endElement(self, name, value, connection):
        setattr(self, re.sub(r"([A-Z])", r"_\1", name).lower(), value)


class AdminTests(APIServerMixin, TestCase):
    async def setUp(self):
        await self.startServer()
        self.admin = self.botoConnection(ROOT, path="/services/Admin", apiVersion="nova")

    def call(self, method, *args):
        return self.inThread(getattr(self.admin, method), *args)

    async def test_users(self):
        created = await self.call("get_object", "RegisterUser", {"Name": "carol"}, UserInfo)
        self.assertEqual(created.username, "carol")
        self.assertTrue(created.accesskey)
        self.assertTrue(created.secretkey)
        user = await self.call("get_object", "DescribeUser", {"Name": "carol"}, UserInfo)
        self.assertEqual((user.username, user.accesskey), ("carol", created.accesskey))
        self.assertIsNone(user.secretkey)
        users = await self.call("get_list", "DescribeUsers", {}, [("item", UserInfo)])
        self.assertEqual(
            sorted(u.username for u in users), ["alice", "bob", "carol", "root"]
        )
        self.assertEqual([u.secretkey for u in users], [None] * 4)
        self.assertTrue(
            await self.call("get_status", "DeregisterUser", {"Name": "carol"})
        )
        missing = await self.call("get_object", "DescribeUser", {"Name": "carol"}, UserInfo)
        self.assertIsNone(missing.username)

    async def test_projects(self):
        await self.call("get_object", "RegisterUser", {"Name": "dave"}, UserInfo)
        project = await self.call(
            "get_object",
            "RegisterProject",
            {"Name": "lab", "ManagerUser": "dave", "Description": None, "MemberUsers": None},
            ProjectInfo,
        )
        self.assertEqual(
            (project.projectname, project.projectManagerId, project.description),
            ("lab", "dave", "lab"),
        )
        described = await self.call("get_object", "DescribeProject", {"Name": "lab"}, ProjectInfo)
        self.assertEqual(described.projectManagerId, "dave")
        self.assertTrue(
            await self.call(
                "get_status", "ModifyProjectMember",
                {"User": "alice", "Project": "lab", "Operation": "add"},
            )
        )
        members = await self.call(
            "get_list", "DescribeProjectMembers", {"Name": "lab"}, [("item", ProjectMember)]
        )
        self.assertEqual(sorted(m.memberId for m in members), ["alice", "dave"])
        mine = await self.call(
            "get_list", "DescribeProjects", {"User": "alice"}, [("item", ProjectInfo)]
        )
        self.assertEqual(sorted(p.projectname for p in mine), ["alice", "lab"])
        everything = await self.call("get_list", "DescribeProjects", {}, [("item", ProjectInfo)])
        self.assertEqual(len(everything), 4)
        self.assertTrue(
            await self.call(
                "get_status", "ModifyProjectMember",
                {"User": "alice", "Project": "lab", "Operation": "remove"},
            )
        )
        self.assertTrue(
            await self.call(
                "get_status", "ModifyProject",
                {"Name": "lab", "ManagerUser": None, "Description": "the lab"},
            )
        )
        described = await self.call("get_object", "DescribeProject", {"Name": "lab"}, ProjectInfo)
        self.assertEqual(described.description, "the lab")
        self.assertTrue(await self.call("get_status", "DeregisterProject", {"Name": "lab"}))
        gone = await self.call("get_object", "DescribeProject", {"Name": "lab"}, ProjectInfo)
        self.assertIsNone(gone.projectname)

    async def test_roles(self):
        roles = await self.call(
            "get_list", "DescribeRoles", {"ProjectRoles": True}, [("item", UserRole)]
        )
        self.assertEqual(
            [r.role for r in roles], ["cloudadmin", "itsec", "sysadmin", "netadmin", "developer"]
        )
        globalRoles = await self.call(
            "get_list", "DescribeRoles", {"ProjectRoles": False}, [("item", UserRole)]
        )
        self.assertEqual([r.role for r in globalRoles], ["cloudadmin", "itsec"])
        self.assertTrue(
            await self.call(
                "get_status", "ModifyUserRole",
                {"User": "bob", "Role": "netadmin", "Project": None, "Operation": "add"},
            )
        )
        self.assertTrue(
            await self.call(
                "get_status", "ModifyUserRole",
                {"User": "bob", "Role": "netadmin", "Project": "alice", "Operation": "add"},
            )
        )
        held = await self.call(
            "get_list", "DescribeUserRoles", {"User": "bob", "Project": "alice"}, [("item", UserRole)]
        )
        self.assertEqual([r.role for r in held], ["netadmin"])
        self.assertTrue(
            await self.call(
                "get_status", "ModifyUserRole",
                {"User": "bob", "Role": "netadmin", "Project": "alice", "Operation": "remove"},
            )
        )
        held = await self.call(
            "get_list", "DescribeUserRoles", {"User": "bob", "Project": "alice"}, [("item", UserRole)]
        )
        self.assertEqual(list(held), [])

    async def test_badOperation(self):
        with self.assertRaises(EC2ResponseError) as caught:
            await self.call(
                "get_status", "ModifyProjectMember",
                {"User": "bob", "Project": "alice", "Operation": "promote"},
            )
        self.assertEqual(caught.exception.error_code, "InvalidParameterValue")

    async def test_unknownUserRefused(self):
        with self.assertRaises(EC2ResponseError) as caught:
            await self.call(
                "get_status", "ModifyProjectMember",
                {"User": "nobody", "Project": "alice", "Operation": "add"},
            )
        self.assertEqual(caught.exception.status, 400)

    async def test_hosts(self):
        await self.db.services.register("node1", "nova-compute", "compute", "nova")
        await self.db.services.register("node1", "nova-volume", "volume", "nova")
        await self.db.services.register("node2", "nova-network", "network", "nova")
        hosts = await self.call("get_list", "DescribeHosts", {}, [("item", HostInfo)])
        byName = {h.hostname: h for h in hosts}
        self.assertEqual(sorted(byName), ["node1", "node2"])
        self.assertEqual((byName["node1"].compute, byName["node1"].volume), ("up", "up"))
        self.assertEqual(byName["node1"].instance_count, "0")
        self.assertEqual(byName["node2"].network, "up")
        one = await self.call("get_object", "DescribeHost", {"Name": "node2"}, HostInfo)
        self.assertEqual(one.hostname, "node2")

    async def test_includeSecrets(self):
        """
        Secret keys are in DescribeUser(s) answers only when a cloud
        admin asks with IncludeSecrets=true.
        """
        user = await self.call(
            "get_object", "DescribeUser", {"Name": "bob", "IncludeSecrets": "true"}, UserInfo
        )
        self.assertEqual(user.secretkey, "bob-secret")
        users = await self.call(
            "get_list", "DescribeUsers", {"IncludeSecrets": "true"}, [("item", UserInfo)]
        )
        self.assertIn("bob-secret", [u.secretkey for u in users])
        users = await self.call(
            "get_list", "DescribeUsers", {"IncludeSecrets": "false"}, [("item", UserInfo)]
        )
        self.assertEqual({u.secretkey for u in users}, {None})

    async def test_xml(self):
        """
        The answers are EC2 documents in the C{nova} namespace.
        """
        response = await self.signedPost(
            {"Action": "DescribeUsers", "Version": "nova"}, user=ROOT, path="/services/Admin"
        )
        root = ET.fromstring(response.body)
        ns = "{http://ec2.amazonaws.com/doc/nova/}"
        self.assertEqual(root.tag, ns + "DescribeUsersResponse")
        self.assertEqual(
            [child.tag for child in root.find(ns + "userSet/" + ns + "item")],
            [ns + "username", ns + "accesskey"],
        )

    async def test_projectManagerNotDeregistered(self):
        """
        The auth manager's refusals are EC2 errors: a user who manages a
        project cannot be removed.
        """
        response = await self.signedPost(
            {"Action": "DeregisterUser", "Name": "bob"}, user=ROOT, path="/services/Admin"
        )
        self.assertEqual(response.status, 400, response.body)
        self.assertEqual(response.errorCode(), "InvalidParameterValue")

    async def test_membersRefused(self):
        member = self.botoConnection(ALICE, path="/services/Admin", apiVersion="nova")
        with self.assertRaises(EC2ResponseError) as caught:
            await self.inThread(member.get_list, "DescribeUsers", {}, [("item", UserInfo)])
        self.assertEqual(caught.exception.status, 403)
        self.assertEqual(caught.exception.error_code, "UnauthorizedOperation")

    def test_everyOperationHasAnAction(self):
        self.assertEqual(set(adminModel().operationNames()), set(ADMIN_ACTIONS))


class CredentialsInfo(UserInfo):
    """
    A user with the credentials zip, as Cactus's admin client read
    GenerateX509ForUser's answer.
    """

    file = None

    def endElement(self, name, value, connection):
        if name == "file":
            self.file = str(value)
        else:
            UserInfo.endElement(self, name, value, connection)


class InstanceTypeInfo:
    def __init__(self, connection=None):
        self.name = None

    def startElement(self, name, attrs, connection):
        return None

    def endElement(self, name, value, connection):
        setattr(self, name, str(value))


class X509Tests(APIServerMixin, TestCase):
    """
    GenerateX509ForUser, with the certificate authority in a temporary
    directory.
    """

    async def setUp(self):
        import os

        await self.startServer(ca_path=os.path.abspath(self.mktemp()))
        self.admin = self.botoConnection(ROOT, path="/services/Admin", apiVersion="nova")

    def call(self, method, *args):
        return self.inThread(getattr(self.admin, method), *args)

    async def test_generateX509ForUser(self):
        """
        The answer holds the user's keys and, base64, the zip nova-manage
        project zipfile makes: novarc for the project, a key and a
        certificate signed for it, the CA's and the cloud's certificates.
        """
        import base64
        import io
        import zipfile

        from cryptography import x509

        answer = await self.call(
            "get_object", "GenerateX509ForUser", {"Name": "bob", "Project": "alice"},
            CredentialsInfo,
        )
        self.assertEqual((answer.username, answer.accesskey), ("bob", "bob-access"))
        self.assertEqual(answer.secretkey, "bob-secret")
        archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(answer.file)))
        self.assertEqual(
            sorted(archive.namelist()),
            ["cacert.pem", "cert.pem", "cloud-cert.pem", "novarc", "pk.pem"],
        )
        self.assertIn("EC2_ACCESS_KEY=bob-access:alice", archive.read("novarc").decode())
        self.assertIn(b"PRIVATE KEY", archive.read("pk.pem"))
        certificate = x509.load_pem_x509_certificate(archive.read("cert.pem"))
        self.assertIn("bob", certificate.subject.rfc4514_string())
        # Without Project, the project named like the user.
        own = await self.call(
            "get_object", "GenerateX509ForUser", {"Name": "bob", "Project": None},
            CredentialsInfo,
        )
        archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(own.file)))
        self.assertIn("EC2_ACCESS_KEY=bob-access:bob", archive.read("novarc").decode())

    async def test_generateX509Refused(self):
        """
        An unknown user or project, or a project the user is not in, is
        InvalidParameterValue; members may not ask.
        """
        for params in (
            {"Name": "nobody"},
            {"Name": "bob", "Project": "nowhere"},
            {"Name": "alice", "Project": "bob"},
        ):
            with self.assertRaises(EC2ResponseError) as caught:
                await self.call("get_object", "GenerateX509ForUser", params, CredentialsInfo)
            self.assertEqual(
                (caught.exception.status, caught.exception.error_code),
                (400, "InvalidParameterValue"),
                params,
            )
        member = self.botoConnection(ALICE, path="/services/Admin", apiVersion="nova")
        with self.assertRaises(EC2ResponseError) as caught:
            await self.inThread(
                member.get_object, "GenerateX509ForUser", {"Name": "alice"}, CredentialsInfo
            )
        self.assertEqual(caught.exception.error_code, "UnauthorizedOperation")


class AdminInstanceTypesTests(CloudServerMixin, TestCase):
    async def setUp(self):
        await self.startCloud()
        self.admin = self.botoConnection(ROOT, path="/services/Admin", apiVersion="nova")

    async def test_describeInstanceTypes(self):
        """
        DescribeInstanceTypes lists the instance types as Cactus's admin
        API did.
        """
        types = await self.inThread(
            self.admin.get_list, "DescribeInstanceTypes", {}, [("item", InstanceTypeInfo)]
        )
        byName = {t.name: t for t in types}
        self.assertIn("m1.small", byName)
        small = byName["m1.small"]
        self.assertEqual(
            (small.memory_mb, small.vcpus, small.disk_gb, small.flavor_id),
            ("2048", "1", "20", "2"),
        )
