# -*- test-case-name: tests.test_files -*-
"""
Files for code that keeps its file work in threads.

Replacing files durably (L{writeAtomically}, L{replaceFile}): write a
temporary file, sync it, rename it over the old one (atomic: a reader sees
the old file or the new one, never part of either), then sync the
directory so the rename survives a crash.  These functions, and
L{preadAll}, block: call them from a worker thread, never on the reactor
thread.

Reading open files in threads (L{ThreadedFileReader}): a reader whose
L{close<ThreadedFileReader.close>} waits for the reads in flight before it
closes the files.
"""

import contextlib
import os
import tempfile

from twisted.internet.defer import succeed


def unlinkQuietly(path):
    """
    Remove the file at C{path} if it is there.
    """
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def syncFile(path):
    """
    Make the data of the file at C{path} durable.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def syncDirectory(path):
    """
    Make the names in the directory at C{path} (files just created,
    renamed or removed there) durable.
    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _commit(temporary, path, fsync):
    try:
        os.replace(temporary, path)
    except BaseException:
        unlinkQuietly(temporary)
        raise
    if fsync:
        syncDirectory(os.path.dirname(os.path.abspath(path)))


def replaceFile(temporary, path, fsync=True):
    """
    Put the complete file C{temporary} in the place of C{path} (on the
    same filesystem): sync its data, rename it over C{path}, sync
    C{path}'s directory.  If the rename fails, C{temporary} is removed.

    @param fsync: whether to sync; without, the replacement is still
        atomic but may not survive a crash.
    """
    if fsync:
        syncFile(temporary)
    _commit(temporary, path, fsync)


def writeAtomically(path, data, mode=0o644, fsync=True, temporaryDirectory=None):
    """
    Replace the file at C{path} with C{data}: write a new temporary file
    with C{mode}, then L{replaceFile}.  Whatever fails, the old file is
    left as it was and no temporary file is left.

    @param data: L{bytes}.
    @param mode: the permission bits, e.g. C{0o600}; the umask does not
        apply.
    @param fsync: whether to sync (see L{replaceFile}).
    @param temporaryDirectory: where to write the temporary file (on
        C{path}'s filesystem); C{path}'s directory if L{None}.
    """
    fd, temporary = tempfile.mkstemp(
        dir=temporaryDirectory or os.path.dirname(os.path.abspath(path)),
        prefix="." + os.path.basename(path) + ".",
    )
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
    except BaseException:
        unlinkQuietly(temporary)
        raise
    _commit(temporary, path, fsync)


def preadAll(fd, offset, length):
    """
    @return: up to C{length} bytes of the open file C{fd} from C{offset}:
        fewer only at its end.
    """
    pieces = []
    while length > 0:
        piece = os.pread(fd, length, offset)
        if not piece:
            break
        pieces.append(piece)
        offset += len(piece)
        length -= len(piece)
    return b"".join(pieces)


class ThreadedFileReader:
    """
    The reading side of an L{nova.objectstore.interfaces.IObjectReader}
    over open files whose reads run in worker threads: L{close} closes the
    files at once, or when the last read in flight ends.

    Subclasses define L{readInThread} and L{closeFiles}, and may define
    L{readAtOnce}.
    """

    _pending = 0
    _closed = False

    def readAtOnce(self, offset, length):
        """
        @return: the bytes, when they can be had without reading a file;
            L{None} otherwise.
        """
        return None

    def readInThread(self, offset, length):
        """
        @return: L{Deferred} firing with the bytes, read in a thread.
        """
        raise NotImplementedError()

    def closeFiles(self):
        """
        Close the files (called once, with no read in flight).
        """
        raise NotImplementedError()

    def read(self, offset, length):
        """
        @return: L{Deferred} firing with up to C{length} bytes from
            C{offset}.
        @raise ValueError: once the reader is closed.
        """
        if self._closed:
            raise ValueError("reader is closed")
        data = self.readAtOnce(offset, length)
        if data is not None:
            return succeed(data)
        self._pending += 1
        d = self.readInThread(offset, length)

        def done(result):
            self._pending -= 1
            if self._closed and not self._pending:
                self.closeFiles()
            return result

        return d.addBoth(done)

    def close(self):
        """
        Close the files now, or once the reads in flight end.
        """
        if self._closed:
            return
        self._closed = True
        if not self._pending:
            self.closeFiles()
