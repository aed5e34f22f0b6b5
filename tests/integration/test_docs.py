"""
The commands README.md and docs/*.md show, run as written (see
L{tests.integration.docs}): the quick start, bundling and registering
images, nova-manage's shell, and booting a real guest with libvirt.
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile

from twisted.trial.unittest import SkipTest, TestCase

from tests.integration import docs
from tests.util import requireCondition


def freePorts(count):
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class MarksTests(TestCase):
    """
    Every block of the docs that shows a command is run by a scenario or
    says why not.
    """

    def test_everyCommandBlockIsMarked(self):
        unmarked = docs.unmarkedCommandBlocks()
        self.assertEqual(
            [], unmarked,
            "code blocks with commands need <!-- doc-test: SCENARIO --> or "
            "<!-- doc-test: skip REASON --> before them",
        )

    def test_skipsSayWhy(self):
        for page in docs.PAGES:
            with open(os.path.join(docs.ROOT, page)) as f:
                for number, line in enumerate(f, 1):
                    found = docs._MARK.match(line.strip())
                    if found and found.group("what") == "skip":
                        self.assertTrue(found.group("reason"), f"{page}:{number}")

    def test_scenariosAreRun(self):
        """
        Each scenario the pages name has a test here (a misspelt name
        would silently run nothing).
        """
        named = {b.mark for b in docs.allBlocks() if b.mark not in (None, "skip")}
        self.assertEqual({"quickstart", "images", "manage", "libvirt"}, named)

    def test_parser(self):
        """
        Indented and fenced blocks are found with their marks, and
        continuation lines are joined.
        """
        directory = tempfile.mkdtemp(dir=os.getcwd())
        self.addCleanup(shutil.rmtree, directory)
        page = os.path.join(directory, "page.md")
        with open(page, "w") as f:
            f.write(
                "Text:\n\n<!-- doc-test: one -->\n\n    make run\n    aws ec2 x \\\n"
                "        --y 1\n\nMore text.\n\n    not marked\n\n"
                "<!-- doc-test: skip a reason -->\n```sh\nip link\n```\n"
            )
        blocks = docs.pageBlocks(os.path.relpath(page, docs.ROOT))
        self.assertEqual(
            [("one", ["make run", "aws ec2 x --y 1"]), (None, ["not marked"]),
             ("skip", ["ip link"])],
            [(b.mark, b.commands()) for b in blocks],
        )


class ScenarioTests(TestCase):
    """
    Each scenario in a fresh directory and state, with the cloud the
    quick start runs (on ports of the test's own, given as C{make run}'s
    C{FLAGS}).
    """

    def session(self):
        stale = subprocess.run(
            ["make", "-q", ".venv/.installed"], cwd=docs.ROOT, capture_output=True
        ).returncode
        if stale:
            self.fail("the virtualenv is older than setup.py: run `make venv` (the pages' "
                      "`make run` would install it again)")
        directory = tempfile.mkdtemp(dir=os.getcwd())
        # Readable by QEMU's own user, as a checkout is.
        os.chmod(directory, 0o755)
        self.addCleanup(shutil.rmtree, directory, True)
        ec2, s3, osapi = freePorts(3)
        flags = f"--ec2_port={ec2} --s3_port={s3} --osapi_port={osapi}"
        session = docs.ShellSession(directory, env={"FLAGS": flags})
        self.addCleanup(session.close)
        return session

    def writeFile(self, session, name, size):
        with open(os.path.join(session.directory, name), "wb") as f:
            f.write(os.urandom(size))

    def test_quickstart(self):
        session = self.session()
        self.writeFile(session, "disk.img", 1 << 20)
        session.runBlocks(docs.scenario("quickstart"))
        listing = [out for command, out in session.transcript
                   if command == "aws ec2 describe-instances"][-1]
        self.assertIn('"InstanceType": "m1.tiny"', listing)
        self.assertIn(session.ids[docs.EXAMPLES["ami-XXXXXXXX"]], listing)

    def test_images(self):
        session = self.session()
        for name in ("disk.img", "vmlinuz", "initrd.img", "disk.qcow2"):
            self.writeFile(session, name, 64 << 10)
        session.runBlocks(docs.scenario("quickstart")[:1])
        session.runBlocks(docs.scenario("images"))
        # The bundle registered with the aws CLI decrypts and becomes
        # available; nova-manage's registration made myproject's images.
        states = self.poll(session, '$EC2 ec2 describe-images --filters Name=name,Values=debian '
                           '--query "Images[].State" --output text', lambda out: "pending" not in out)
        self.assertEqual("available", states.strip())
        listing = session.run("nova-manage image list myproject")
        self.assertRegex(listing, r"aki-[0-9a-f]{8} +kernel +available +myproject")
        self.assertRegex(listing, r"ari-[0-9a-f]{8} +ramdisk +available +myproject")

    def poll(self, session, command, done, attempts=60):
        """
        Run C{command} until C{done(output)}, at most C{attempts} times.
        """
        for _ in range(attempts):
            output = session.run(command)
            if done(output):
                return output
        self.fail(f"{command!r} still printed {output!r}")

    def test_manage(self):
        session = self.session()
        session.runBlocks(docs.scenario("quickstart")[:1])
        session.runBlocks(docs.scenario("manage"))
        self.assertIn("m1.tiny 512", session.transcript[-1][1])

    def test_libvirt(self):
        """
        docs/libvirt.md on one host: the test guest boots, reboots and is
        terminated through the EC2 API, on the bridge without an address
        the page makes (removed at the end).
        """
        from tests.integration.test_libvirt_guest import libvirtAnswers

        requireCondition(libvirtAnswers(), "libvirtd does not answer at qemu:///system")
        requireCondition(shutil.which("ip") is not None, "iproute2 is missing")
        exists = subprocess.run(["ip", "link", "show", "br100"], capture_output=True)
        if exists.returncode == 0:
            raise SkipTest("this host has a br100 already; the page makes its own")
        self.addCleanup(subprocess.run, ["ip", "link", "del", "br100"], capture_output=True)
        session = self.session()
        # After the cloud has stopped: the guests of a scenario that
        # failed before its terminate.
        self.addCleanup(self.destroyGuests, session)
        blocks = docs.scenario("libvirt")
        session.runBlocks(blocks, until={"get-console-output": ["NOVA READY", "NOVA BOOT 2"]},
                          attempts=120)
        console = [out for command, out in session.transcript if "get-console-output" in command]
        self.assertIn("NOVA POWER BUTTON", console[-1])
        listing = [out for command, out in session.transcript if "virsh" in command][0]
        domain = re.search(r"instance-[0-9a-f]+", listing).group()
        self.poll(session, "virsh -c qemu:///system list --all --name",
                  lambda out: domain not in out)

    def destroyGuests(self, session):
        instances = os.path.join(session.directory, "var", "instances")
        names = [n for n in os.listdir(instances) if n.startswith("instance-")] \
            if os.path.isdir(instances) else []
        for name in names:
            for action in ("destroy", "undefine"):
                subprocess.run(["virsh", "-c", "qemu:///system", action, name], capture_output=True)
