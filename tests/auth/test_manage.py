"""
Tests for L{nova.auth.manage}: the C{user}, C{project} and C{role}
categories of C{nova-manage}, run through L{nova.manage.run} on a SQLite
database under a temporary state path (and once on slapd and Redis).
"""

import io
import os
import stat
import subprocess
import uuid
import zipfile

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from twisted.internet import defer, reactor
from twisted.trial.unittest import TestCase

from nova import manage
from nova.auth.manage import novarc
from nova.auth.interfaces import User
from nova.config import configFromFlags
from tests.util import LDAP_URL, REDIS, requireServer


class ManageTestMixin:
    extraFlags = ()

    @defer.inlineCallbacks
    def setUp(self):
        self.state = os.path.abspath(self.mktemp())
        os.makedirs(self.state)
        self.flags = [f"--state_path={self.state}", *self.extraFlags]
        code, out, err = yield self.nova("db", "sync")
        self.assertEqual(code, 0, err)

    @defer.inlineCallbacks
    def nova(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        code = yield manage.run(reactor, [*self.flags, *argv], out, err)
        return code, out.getvalue(), err.getvalue()

    @defer.inlineCallbacks
    def ok(self, *argv):
        code, out, err = yield self.nova(*argv)
        self.assertEqual((code, err), (0, ""), argv)
        return out

    @defer.inlineCallbacks
    def error(self, *argv):
        code, out, err = yield self.nova(*argv)
        self.assertEqual(code, 1, (argv, out))
        self.assertTrue(err.startswith("error: "), err)
        return err


class ManageTests(ManageTestMixin, TestCase):
    @defer.inlineCallbacks
    def test_users(self):
        out = yield self.ok("user", "create", "alice")
        lines = out.splitlines()
        self.assertEqual(len(lines), 2)
        self.assertRegex(lines[0], r"\Aexport EC2_ACCESS_KEY=[0-9a-f-]{36}\Z")
        self.assertRegex(lines[1], r"\Aexport EC2_SECRET_KEY=\S{40}\Z")
        self.assertEqual((yield self.ok("user", "exports", "alice")), out)
        out = yield self.ok("user", "admin", "root", "root-ak", "root-sk")
        self.assertEqual(out, "export EC2_ACCESS_KEY=root-ak\nexport EC2_SECRET_KEY=root-sk\n")
        self.assertEqual((yield self.ok("user", "list")), "alice\nroot\n")
        out = yield self.ok("user", "modify", "alice", "new-ak", "", "T")
        self.assertIn("access key new-ak, admin True", out)
        out = yield self.ok("user", "modify", "alice", "", "new-sk", "")
        self.assertIn("access key new-ak, admin True", out)
        self.assertEqual(
            (yield self.ok("user", "exports", "alice")),
            "export EC2_ACCESS_KEY=new-ak\nexport EC2_SECRET_KEY=new-sk\n",
        )
        err = yield self.error("user", "modify", "alice", "", "", "maybe")
        self.assertIn("expected T or F", err)
        err = yield self.error("user", "create", "alice")
        self.assertIn("exists", err)
        err = yield self.error("user", "create", "bad name")
        self.assertIn("invalid user name", err)
        yield self.ok("user", "delete", "alice")
        self.assertEqual((yield self.ok("user", "list")), "root\n")
        err = yield self.error("user", "exports", "alice")
        self.assertIn("no user 'alice'", err)

    @defer.inlineCallbacks
    def test_usage(self):
        code, out, err = yield self.nova("user", "create")
        self.assertEqual(code, 2)
        self.assertIn("user create <name> [access] [secret]", err)
        code, out, err = yield self.nova("project", "create", "p")
        self.assertEqual(code, 2)
        self.assertIn("project zipfile <project_id> <user_id> [filename]", err)
        code, out, err = yield self.nova("role")
        self.assertIn("role has <user> <role> [project]", err)

    @defer.inlineCallbacks
    def test_projectsAndRoles(self):
        yield self.ok("user", "create", "alice")
        yield self.ok("user", "create", "bob")
        out = yield self.ok("project", "create", "proj", "alice", "a project")
        self.assertIn("managed by alice", out)
        yield self.ok("project", "add", "proj", "bob")
        self.assertEqual((yield self.ok("project", "list")), "proj\n")
        self.assertEqual((yield self.ok("project", "list", "bob")), "proj\n")
        err = yield self.error("project", "add", "proj", "bob")
        self.assertIn("already a member", err)

        yield self.ok("role", "add", "bob", "sysadmin", "proj")
        self.assertEqual((yield self.ok("role", "has", "bob", "sysadmin", "proj")), "False\n")
        yield self.ok("role", "add", "bob", "sysadmin")
        self.assertEqual((yield self.ok("role", "has", "bob", "sysadmin", "proj")), "True\n")
        self.assertEqual((yield self.ok("role", "has", "bob", "netadmin", "proj")), "False\n")
        self.assertEqual(
            (yield self.ok("role", "has", "alice", "projectmanager", "proj")), "True\n"
        )
        err = yield self.error("role", "add", "bob", "cloudadmin", "proj")
        self.assertIn("global only", err)
        err = yield self.error("role", "add", "bob", "wizard")
        self.assertIn("no role 'wizard'", err)
        yield self.ok("role", "remove", "bob", "sysadmin")
        self.assertEqual((yield self.ok("role", "has", "bob", "sysadmin", "proj")), "False\n")

        out = yield self.ok("project", "modify", "proj", "bob", "new description")
        self.assertIn("managed by bob", out)
        err = yield self.error("project", "remove", "proj", "bob")
        self.assertIn("manages project", err)
        yield self.ok("project", "remove", "proj", "alice")
        self.assertEqual((yield self.ok("project", "list", "alice")), "")
        yield self.ok("project", "delete", "proj")
        self.assertEqual((yield self.ok("project", "list")), "")

    @defer.inlineCallbacks
    def test_quota(self):
        yield self.ok("user", "create", "alice")
        yield self.ok("project", "create", "proj", "alice")
        out = yield self.ok("project", "quota", "proj")
        self.assertEqual(
            out,
            "instances: 10\ncores: 20\nvolumes: 10\ngigabytes: 1000\n"
            "floating_ips: 10\nmetadata_items: 128\n",
        )
        self.assertEqual((yield self.ok("project", "quota", "proj", "instances", "50")),
                         out.replace("instances: 10", "instances: 50"))
        out = yield self.ok("project", "quota", "proj", "gigabytes", "unlimited")
        self.assertIn("gigabytes: unlimited\n", out)
        self.assertEqual((yield self.ok("project", "quota", "proj", "cores")), "cores: 20\n")
        err = yield self.error("project", "quota", "proj", "ram", "5")
        self.assertIn("no quota resource 'ram'", err)
        err = yield self.error("project", "quota", "proj", "cores", "many")
        self.assertIn("number or 'unlimited'", err)
        err = yield self.error("project", "quota", "ghost")
        self.assertIn("no project", err)
        # Deleting the project drops its overrides.
        yield self.ok("project", "delete", "proj")
        yield self.ok("project", "create", "proj", "alice")
        self.assertIn("instances: 10\n", (yield self.ok("project", "quota", "proj")))

    @defer.inlineCallbacks
    def test_environment(self):
        self.flags += ["--ec2_host=cloud.example.com", "--s3_host=s3.example.com",
                       "--s3_port=8080"]
        yield self.ok("user", "create", "alice", "alice-ak", "it's$secret")
        yield self.ok("project", "create", "proj", "alice")
        path = os.path.join(self.state, "novarc")
        yield self.ok("project", "environment", "proj", "alice", path)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        env = sourced(path)
        self.assertEqual(env["EC2_ACCESS_KEY"], "alice-ak:proj")
        self.assertEqual(env["EC2_SECRET_KEY"], "it's$secret")
        self.assertEqual(env["AWS_ACCESS_KEY_ID"], "alice-ak:proj")
        self.assertEqual(env["AWS_SECRET_ACCESS_KEY"], "it's$secret")
        self.assertEqual(env["EC2_URL"], "http://cloud.example.com:8773/services/Cloud")
        self.assertEqual(env["AWS_ENDPOINT_URL_EC2"], env["EC2_URL"])
        self.assertEqual(env["S3_URL"], "http://s3.example.com:8080")
        self.assertEqual(env["AWS_ENDPOINT_URL_S3"], env["S3_URL"])
        self.assertEqual(env["AWS_DEFAULT_REGION"], "nova")
        self.assertEqual(env["EC2_PRIVATE_KEY"], os.path.join(self.state, "pk.pem"))
        self.assertEqual(env["NOVA_CERT"], os.path.join(self.state, "cloud-cert.pem"))
        self.assertEqual(env["EUCALYPTUS_CERT"], env["NOVA_CERT"])

    @defer.inlineCallbacks
    def test_zipfile(self):
        yield self.ok("user", "create", "alice", "alice-ak", "alice-sk")
        yield self.ok("user", "create", "bob", "bob-ak", "bob-sk")
        yield self.ok("project", "create", "proj", "alice")
        path = os.path.join(self.state, "nova.zip")
        out = yield self.ok("project", "zipfile", "proj", "alice", path)
        self.assertEqual(out, f"wrote {path}\n")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with zipfile.ZipFile(path) as archive:
            self.assertEqual(
                sorted(archive.namelist()),
                ["cacert.pem", "cert.pem", "cloud-cert.pem", "novarc", "pk.pem"],
            )
            files = {name: archive.read(name) for name in archive.namelist()}
        certificate = x509.load_pem_x509_certificate(files["cert.pem"])
        authority = x509.load_pem_x509_certificate(files["cacert.pem"])
        certificate.verify_directly_issued_by(authority)
        self.assertIn("alice", certificate.subject.rfc4514_string())
        key = serialization.load_pem_private_key(files["pk.pem"], None)
        self.assertEqual(
            key.public_key().public_numbers(), certificate.public_key().public_numbers()
        )
        self.assertIn(b"export EC2_ACCESS_KEY=alice-ak:proj\n", files["novarc"])
        self.assertEqual(files["cloud-cert.pem"], files["cacert.pem"])

        err = yield self.error("project", "zipfile", "proj", "bob", path)
        self.assertIn("not a member", err)
        out = yield self.ok("user", "revoke", "alice")
        self.assertEqual(out, "revoked 1 certificate(s) of alice\n")
        out = yield self.ok("user", "revoke", "alice", "proj")
        self.assertEqual(out, "revoked 0 certificate(s) of alice\n")


class ProjectCATests(ManageTestMixin, TestCase):
    extraFlags = ("--use_project_ca",)

    @defer.inlineCallbacks
    def test_zipfileWithProjectCA(self):
        """
        With project CAs, the user's certificate is signed by the project's
        CA (cacert.pem), and bundles are still encrypted to the cloud
        certificate (cloud-cert.pem).
        """
        yield self.ok("user", "create", "alice")
        yield self.ok("project", "create", "proj", "alice")
        path = os.path.join(self.state, "nova.zip")
        yield self.ok("project", "zipfile", "proj", "alice", path)
        with zipfile.ZipFile(path) as archive:
            files = {name: archive.read(name) for name in archive.namelist()}
        certificate = x509.load_pem_x509_certificate(files["cert.pem"])
        projectCA = x509.load_pem_x509_certificate(files["cacert.pem"])
        cloud = x509.load_pem_x509_certificate(files["cloud-cert.pem"])
        certificate.verify_directly_issued_by(projectCA)
        projectCA.verify_directly_issued_by(cloud)
        self.assertNotEqual(projectCA, cloud)


class LDAPAndRedisManageTests(ManageTestMixin, TestCase):
    """
    The same commands with the LDAP driver on slapd and the Redis cache:
    their services start and stop around each command.
    """

    @defer.inlineCallbacks
    def setUp(self):
        host, _, port = LDAP_URL.rpartition("/")[2].partition(":")
        requireServer("slapd", host, int(port or 389))
        requireServer("Redis", *REDIS)
        self.prefix = "m" + uuid.uuid4().hex[:10]
        self.extraFlags = (
            "--auth_driver=ldap",
            f"--ldap_url={LDAP_URL}",
            "--cache_backend=redis",
            f"--redis_prefix=novatest:{self.prefix}:",
        )
        yield ManageTestMixin.setUp(self)

    @defer.inlineCallbacks
    def test_lifecycle(self):
        user, other, project = (f"{self.prefix}-{n}" for n in ("alice", "bob", "proj"))
        yield self.ok("user", "create", user)
        self.addCleanup(self.nova, "user", "delete", user)
        yield self.ok("user", "create", other)
        self.addCleanup(self.nova, "user", "delete", other)
        yield self.ok("project", "create", project, user)
        self.addCleanup(self.nova, "project", "delete", project)
        yield self.ok("project", "add", project, other)
        yield self.ok("role", "add", other, "netadmin")
        yield self.ok("role", "add", other, "netadmin", project)
        self.assertEqual((yield self.ok("role", "has", other, "netadmin", project)), "True\n")
        self.assertIn(user, (yield self.ok("user", "list")).splitlines())
        self.assertEqual((yield self.ok("project", "list", other)), f"{project}\n")
        yield self.ok("project", "remove", project, other)
        self.assertEqual((yield self.ok("role", "has", other, "netadmin", project)), "False\n")
        yield self.ok("role", "remove", other, "netadmin")


def sourced(path):
    """
    @return: the environment a shell has after sourcing C{path}.
    """
    output = subprocess.run(
        ["bash", "-c", f". {path} && env -0"],
        check=True,
        capture_output=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    ).stdout
    return dict(item.split("=", 1) for item in output.decode().split("\0") if "=" in item)


class NovarcTests(TestCase):
    def test_quoting(self):
        text = novarc(configFromFlags(), User("u", "ak", "a'b\"c$d`e"), "p")
        self.assertIn("export EC2_SECRET_KEY='a'\"'\"'b\"c$d`e'\n", text)


class ScrubTests(ManageTestMixin, TestCase):
    @defer.inlineCallbacks
    def test_scrub(self):
        """
        C{project scrub} (and C{account scrub}) deletes a project's security
        groups, a group named by another's rule after that one; groups with
        instances stay and are listed.
        """
        from nova.db.api import inlineDatabase
        from nova.db.security_groups import RuleSpec

        db = inlineDatabase(f"sqlite:{self.state}/nova.sqlite", reactor)
        self.addCleanup(db.transactor.close)
        web = yield db.securityGroups.create("p1", "u", "web", "web servers")
        source = yield db.securityGroups.create("p1", "u", "admins", "named by web's rule")
        yield db.securityGroups.addRules(web.id, [RuleSpec("tcp", 22, 22, groupId=source.id)])
        busy = yield db.securityGroups.create("p1", "u", "busy", "has an instance")
        instance = yield db.instances.create(
            reservation_id="r", project_id="p1", user_id="u", instance_type="m1.tiny",
            vcpus=1, memory_mb=512, local_gb=0,
        )
        yield db.securityGroups.addInstance(busy.id, instance.id)
        other = yield db.securityGroups.create("p2", "u", "web", "another project's")
        out = yield self.ok("account", "scrub", "p1")
        lines = out.splitlines()
        self.assertEqual(lines[0], "project p1 scrubbed: network released, 2 security group(s) deleted")
        self.assertEqual(len(lines), 2)
        self.assertTrue(lines[1].startswith("kept security group busy: "), lines[1])
        left = yield db.securityGroups.list()
        self.assertEqual(sorted((g.project_id, g.name) for g in left), [("p1", "busy"), ("p2", "web")])
        self.assertEqual(other.name, "web")
        out = yield self.ok("project", "scrub", "nobody")
        self.assertEqual(out, "project nobody scrubbed: network released, 0 security group(s) deleted\n")
