# -*- test-case-name: tests.test_files -*-
"""
Tests for L{nova.util.files}.
"""

import os
import stat

from twisted.trial.unittest import SynchronousTestCase

from nova.util import files


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class WriteAtomicallyTests(SynchronousTestCase):
    """
    L{files.writeAtomically}.
    """

    def test_replacesWithMode(self):
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, "file")
        old = os.umask(0o077)
        try:
            files.writeAtomically(path, b"one", 0o644)
        finally:
            os.umask(old)
        self.assertEqual(mode(path), 0o644)
        files.writeAtomically(path, b"two", 0o600)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"two")
        self.assertEqual(mode(path), 0o600)
        self.assertEqual(os.listdir(directory), ["file"])

    def test_failureLeavesOldFile(self):
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, "file")
        files.writeAtomically(path, b"old", 0o600)
        self.assertRaises(TypeError, files.writeAtomically, path, "not bytes", 0o600)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"old")
        self.assertEqual(os.listdir(directory), ["file"])

    def test_temporaryDirectory(self):
        """
        The temporary file may be written in another directory; none is
        left there.
        """
        directory = self.mktemp()
        temporary = os.path.join(directory, "tmp")
        os.makedirs(temporary)
        path = os.path.join(directory, "doc.json")
        files.writeAtomically(path, b"{}", fsync=False, temporaryDirectory=temporary)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"{}")
        self.assertEqual(os.listdir(temporary), [])
        self.assertEqual(sorted(os.listdir(directory)), ["doc.json", "tmp"])

    def test_relativePath(self):
        """
        A path without a directory is in the working directory.
        """
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        cwd = os.open(".", os.O_RDONLY)
        self.addCleanup(os.close, cwd)
        self.addCleanup(os.fchdir, cwd)
        os.chdir(directory)
        files.writeAtomically("novarc", b"export X=1\n", 0o600)
        with open(os.path.join(directory, "novarc"), "rb") as f:
            self.assertEqual(f.read(), b"export X=1\n")
        self.assertEqual(os.listdir(directory), ["novarc"])

    def test_failedRenameLeavesNothing(self):
        """
        When the rename fails (here: the target is a directory), the
        temporary file is removed.
        """
        directory = self.mktemp()
        os.makedirs(os.path.join(directory, "target"))
        self.assertRaises(
            OSError, files.writeAtomically, os.path.join(directory, "target"), b"x"
        )
        self.assertEqual(os.listdir(directory), ["target"])


class ReplaceFileTests(SynchronousTestCase):
    def setUp(self):
        self.directory = self.mktemp()
        os.makedirs(self.directory)
        self.temporary = os.path.join(self.directory, "new")
        with open(self.temporary, "wb") as f:
            f.write(b"data")

    def test_replaces(self):
        path = os.path.join(self.directory, "file")
        with open(path, "wb") as f:
            f.write(b"old")
        for fsync in (True, False):
            files.replaceFile(self.temporary, path, fsync=fsync)
            with open(path, "rb") as f:
                self.assertEqual(f.read(), b"data")
            self.assertEqual(os.listdir(self.directory), ["file"])
            with open(self.temporary, "wb") as f:
                f.write(b"data")

    def test_failedRenameRemovesTemporary(self):
        os.makedirs(os.path.join(self.directory, "target", "inside"))
        self.assertRaises(
            OSError, files.replaceFile, self.temporary, os.path.join(self.directory, "target")
        )
        self.assertEqual(os.listdir(self.directory), ["target"])


class HelperTests(SynchronousTestCase):
    def test_unlinkQuietly(self):
        path = self.mktemp()
        with open(path, "wb"):
            pass
        files.unlinkQuietly(path)
        self.assertFalse(os.path.exists(path))
        files.unlinkQuietly(path)

    def test_sync(self):
        """
        Syncing a file or a directory works on real ones and fails for
        missing ones.
        """
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, "f")
        with open(path, "wb") as f:
            f.write(b"x")
        files.syncFile(path)
        files.syncDirectory(directory)
        self.assertRaises(FileNotFoundError, files.syncFile, path + "-missing")
        self.assertRaises(NotADirectoryError, files.syncDirectory, path)


class PreadAllTests(SynchronousTestCase):
    def test_readsToTheEnd(self):
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(b"0123456789")
        fd = os.open(path, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        self.assertEqual(files.preadAll(fd, 2, 3), b"234")
        self.assertEqual(files.preadAll(fd, 8, 100), b"89")
        self.assertEqual(files.preadAll(fd, 20, 5), b"")


class RecordingReader(files.ThreadedFileReader):
    def __init__(self):
        self.reads = []
        self.closed = 0

    def readAtOnce(self, offset, length):
        return b"" if length == 0 else None

    def readInThread(self, offset, length):
        from twisted.internet.defer import Deferred

        d = Deferred()
        self.reads.append(d)
        return d

    def closeFiles(self):
        self.closed += 1


class ThreadedFileReaderTests(SynchronousTestCase):
    def test_closeWaitsForReads(self):
        """
        Closing with reads in flight closes the files when the last one
        ends, once.
        """
        reader = RecordingReader()
        first, second = reader.read(0, 5), reader.read(5, 5)
        reader.close()
        reader.close()
        self.assertEqual(reader.closed, 0)
        reader.reads[0].callback(b"01234")
        self.assertEqual(self.successResultOf(first), b"01234")
        self.assertEqual(reader.closed, 0)
        reader.reads[1].errback(OSError("gone"))
        self.failureResultOf(second, OSError)
        self.assertEqual(reader.closed, 1)
        self.assertRaises(ValueError, reader.read, 0, 1)

    def test_closeAtOnce(self):
        reader = RecordingReader()
        self.assertEqual(self.successResultOf(reader.read(0, 0)), b"")
        self.assertEqual(reader.reads, [])
        reader.close()
        self.assertEqual(reader.closed, 1)
