"""
Tests for C{nova-manage image}: bundling, uploading and registering on the
object store's own files.
"""

import os

from twisted.internet import defer, reactor
from twisted.trial.unittest import TestCase

from nova.db.api import inlineDatabase
from nova.db.images import AVAILABLE, KERNEL, MACHINE, RAMDISK, imageTypeOf
from tests.image.support import imageData, sharedCA
from tests.util import ManageMixin


class ImageCommandTests(ManageMixin, TestCase):
    timeout = 120

    @defer.inlineCallbacks
    def setUp(self):
        self.state = os.path.abspath(self.mktemp())
        os.makedirs(self.state)
        self.ca = sharedCA()
        code, _, err = yield self.manage("db", "sync")
        self.assertEqual(code, 0, err)

    def manageFlags(self):
        return (*ManageMixin.manageFlags(self), f"--ca_path={self.ca.path}", "--s3_fsync=false")

    def write(self, name, data):
        path = os.path.join(self.state, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def images(self):
        db = inlineDatabase(f"sqlite:{self.state}/nova.sqlite", reactor)
        self.addCleanup(db.transactor.close)
        return self.successResultOf(db.images.find())

    @defer.inlineCallbacks
    def test_registerAll(self):
        kernel = self.write("vmlinuz", b"kernel" * 1000)
        ramdisk = self.write("initrd.img", b"initrd" * 1000)
        data = imageData(3 * 1024 * 1024 + 1)
        machine = self.write("disk.img", data)
        code, out, err = yield self.manage("image", "register", kernel, ramdisk, machine, "proj1", "alice")
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertEqual([line.split()[1] for line in lines], ["kernel", "ramdisk", "machine"])
        self.assertEqual(lines[0].split()[2], "images-proj1/vmlinuz.manifest.xml")
        records = {imageTypeOf(r.ec2_id): r for r in self.images()}
        self.assertEqual(sorted(records), sorted([KERNEL, RAMDISK, MACHINE]))
        image = records[MACHINE]
        self.assertEqual(
            (image.state, image.project_id, image.user_id, image.kernel_id, image.ramdisk_id, image.is_public),
            (AVAILABLE, "proj1", "alice", records[KERNEL].ec2_id, records[RAMDISK].ec2_id, False),
        )
        with open(os.path.join(self.state, "images", image.ec2_id), "rb") as f:
            self.assertEqual(f.read(), data)

        code, out, _ = yield self.manage("image", "list")
        self.assertEqual(code, 0)
        header, *rows = out.splitlines()
        self.assertEqual(header.split(), ["Id", "Type", "State", "Project", "Visibility", "Location", "Name"])
        self.assertEqual(len(rows), 3)
        self.assertIn("private", rows[2])

        code, out, _ = yield self.manage("image", "set_public", image.ec2_id)
        self.assertEqual((code, out), (0, f"{image.ec2_id} is public\n"))
        code, out, _ = yield self.manage("image", "set_public", image.ec2_id, "false")
        self.assertEqual(out, f"{image.ec2_id} is private\n")
        code, out, _ = yield self.manage("image", "list", "nobody")
        self.assertEqual(len(out.splitlines()), 1)

        code, out, _ = yield self.manage("image", "deregister", image.ec2_id)
        self.assertEqual((code, out), (0, f"{image.ec2_id} deregistered\n"))
        self.assertFalse(os.path.exists(os.path.join(self.state, "images", image.ec2_id)))
        self.assertEqual(len(self.images()), 2)

    @defer.inlineCallbacks
    def test_registerWithoutProject(self):
        """
        Without a project the images belong to project C{nova} and are
        public; C{none} skips the kernel or ramdisk.
        """
        machine = self.write("disk.qcow2", b"QFI\xfb" + bytes(4000))
        code, out, err = yield self.manage("image", "register", "none", "none", machine)
        self.assertEqual(code, 0, err)
        (record,) = self.images()
        self.assertEqual(
            (record.project_id, record.is_public, record.kernel_id, record.disk_format),
            ("nova", True, None, "qcow2"),
        )

    @defer.inlineCallbacks
    def test_bundle(self):
        path = self.write("vmlinuz", b"k" * 5000)
        code, _, err = yield self.manage("image", "bundle", path, "kernels")
        self.assertEqual(code, 1)
        self.assertIn("bucket kernels does not exist: name a project=", err)
        code, out, err = yield self.manage("image", "bundle", path, "kernels", "kernel", "project=proj1")
        self.assertEqual((code, out), (0, "uploaded kernels/vmlinuz.manifest.xml\n"), err)
        keys = os.listdir(os.path.join(self.state, "buckets", "kernels", "keys"))
        self.assertEqual(len(keys), 2)
        code, out, err = yield self.manage(
            "image", "bundle", path, "kernels", "aki-0000000a", "arch=i386", "prefix=disk"
        )
        self.assertEqual((code, out), (0, "uploaded kernels/disk.manifest.xml\n"), err)
        code, _, err = yield self.manage("image", "bundle", path, "kernels", "sideways")
        self.assertEqual((code, err), (1, "error: unknown option 'sideways'\n"))
        code, _, err = yield self.manage("image", "bundle", path, "kernels", "project=other")
        self.assertIn("belongs to project proj1", err)
        code, _, err = yield self.manage("image", "bundle", "/nonexistent", "kernels")
        self.assertIn("no such file", err)

    @defer.inlineCallbacks
    def test_failureReported(self):
        code, _, err = yield self.manage("image", "register", "none", "none", "/nonexistent", "proj1")
        self.assertEqual(code, 1)
        self.assertIn("no such file: /nonexistent", err)

    @defer.inlineCallbacks
    def test_memoryStoreRefused(self):
        code, _, err = yield self.manage("--s3_store=memory", "image", "register", "none", "none", "x")
        self.assertEqual(code, 1)
        self.assertIn("--s3_store=filesystem", err)

    @defer.inlineCallbacks
    def test_usage(self):
        code, _, err = yield self.manage("image")
        self.assertEqual(code, 2)
        self.assertIn("image register <kernel> <ramdisk> <machine> [project] [user] [bucket]", err)
        self.assertIn("image set_public <imageId> [public]", err)
