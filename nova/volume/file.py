# -*- test-case-name: tests.volume.test_file -*-
"""
The file volume driver: each volume is a file under C{--volumes_path},
raw (a sparse file) or qcow2 (made with C{qemu-img}), that the compute
driver of the same host (or of a host sharing the directory) attaches as
a disk; or, with C{--volume_export=iscsi}, a raw file that tgtd exports
as an iSCSI target (L{nova.volume.lvm.TgtExporter}), which compute hosts
reach over the network.

Snapshots are copies: a sparse copy that skips holes and runs of zeros,
so a snapshot costs only the data the volume holds, and a snapshot never
depends on its volume (the volume can be deleted, the snapshot stays).  A
volume made from a snapshot is a copy of it, grown to the volume's size.
Files are made under a temporary name and linked into place, so a failed
or interrupted operation never leaves a half-written file under a
volume's name, and nothing is ever overwritten.

File work runs in threads; C{qemu-img} runs through an
L{nova.util.process.IProcessRunner}.  Snapshots of a volume that is
attached and being written are crash-consistent at best: the copy is not
atomic.
"""

import errno
import os

from twisted.internet.defer import fail, inlineCallbacks, succeed
from twisted.internet.threads import deferToThreadPool
from zope.interface import implementer

from nova.util.process import ProcessError, ReactorProcessRunner, runChecked
from nova.volume.errors import VolumeBackendError
from nova.volume.interfaces import IVolumeDriver
from nova.volume.names import checkName

GIB = 1 << 30
CHUNK = 1 << 20
_ZEROS = bytes(CHUNK)

FORMATS = ("raw", "qcow2")


def _dataSegments(fd, length):
    """
    Yield the C{(start, end)} ranges of a file that may hold data,
    skipping holes where the file system says where they are.
    """
    offset = 0
    while offset < length:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as e:
            if e.errno == errno.ENXIO:
                return
            if e.errno in (errno.EINVAL, errno.EOPNOTSUPP):
                yield offset, length
                return
            raise
        end = min(os.lseek(fd, start, os.SEEK_HOLE), length)
        if end <= start:
            return
        yield start, end
        offset = end


def _isZero(chunk):
    if len(chunk) == CHUNK:
        return chunk == _ZEROS
    return chunk == bytes(len(chunk))


def _writeAll(fd, data, offset):
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def sparseCopy(source, target, size=0):
    """
    Copy C{source} to a new file C{target}, leaving holes where
    C{source} has holes or zeros, then extend C{target} to at least
    C{size} bytes.  Blocking: run it in a thread.

    @raise FileExistsError: if C{target} exists.
    """
    fdIn = os.open(source, os.O_RDONLY)
    try:
        fdOut = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            length = os.fstat(fdIn).st_size
            for start, end in _dataSegments(fdIn, length):
                offset = start
                while offset < end:
                    chunk = os.pread(fdIn, min(CHUNK, end - offset), offset)
                    if not chunk:
                        break
                    if not _isZero(chunk):
                        _writeAll(fdOut, chunk, offset)
                    offset += len(chunk)
            os.ftruncate(fdOut, max(length, size))
            os.fsync(fdOut)
        finally:
            os.close(fdOut)
    finally:
        os.close(fdIn)


@implementer(IVolumeDriver)
class FileVolumeDriver:
    """
    Volumes as files in one directory.

    @ivar path: the directory.
    @ivar volumeFormat: C{raw} or C{qcow2}.
    @ivar runner: the L{nova.util.process.IProcessRunner} for C{qemu-img}.
    """

    name = "file"

    def __init__(
        self, path, reactor, runner=None, volumeFormat="raw", commandTimeout=120.0, exporter=None
    ):
        """
        @param reactor: the reactor whose thread pool does the file work.
        @param runner: runs C{qemu-img}; by default a
            L{ReactorProcessRunner} over C{reactor}.
        @param exporter: a L{nova.volume.lvm.TgtExporter} that exports
            each (raw) volume file as an iSCSI target, or C{None} to
            export the files as they are.
        @raise ValueError: for an unknown format, or qcow2 files with an
            exporter (an iSCSI logical unit is raw).
        """
        if volumeFormat not in FORMATS:
            raise ValueError(f"volume format {volumeFormat!r} is not one of {', '.join(FORMATS)}")
        if exporter is not None and volumeFormat != "raw":
            raise ValueError("volumes exported over iSCSI must be raw files (--volume_format=raw)")
        self.exporter = exporter
        self.path = os.path.abspath(path)
        self.reactor = reactor
        self.volumeFormat = volumeFormat
        self.commandTimeout = commandTimeout
        if runner is None:
            runner = ReactorProcessRunner(reactor, timeout=commandTimeout)
        self.runner = runner

    @classmethod
    def fromConfig(cls, config, reactor):
        """
        @return: a L{FileVolumeDriver} over C{--volumes_path} and
            C{--volume_format}, exporting volumes as C{--volume_export}
            says (over iSCSI with the C{--iscsi_*} flags).
        @raise nova.config.ConfigError: for flag values it refuses.
        """
        from nova.config import ConfigError
        from nova.volume.lvm import TgtExporter

        runner = ReactorProcessRunner(reactor, timeout=config.volume_command_timeout)
        try:
            exporter = None
            if config.volume_export == "iscsi":
                exporter = TgtExporter.fromConfig(config, runner)
            return cls(
                config.volumes_path,
                reactor,
                runner=runner,
                volumeFormat=config.volume_format,
                commandTimeout=config.volume_command_timeout,
                exporter=exporter,
            )
        except ValueError as e:
            raise ConfigError(f"file volume driver: {e}")

    # -- helpers ---------------------------------------------------------

    def _inThread(self, fn, *args):
        return deferToThreadPool(self.reactor, self.reactor.getThreadPool(), fn, *args)

    def pathOf(self, name):
        """
        @return: the file of the volume or snapshot C{name}.
        @raise ValueError: for an unsafe name.
        """
        return os.path.join(self.path, checkName(name))

    def _tempPathOf(self, name):
        return os.path.join(self.path, "." + checkName(name) + ".tmp")

    def _thd_publish(self, temp, final):
        """
        Give the finished file C{temp} its name C{final}, never replacing
        a file.
        """
        try:
            os.link(temp, final)
        except FileExistsError:
            raise VolumeBackendError(f"{final} exists")
        finally:
            os.unlink(temp)

    def _thd_discard(self, path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def _thd_prepare(self, final, temp):
        """
        Check that C{final} does not exist, and remove a C{temp} left by
        an interrupted operation (operations on one name never overlap).
        """
        if os.path.lexists(final):
            raise VolumeBackendError(f"{final} exists")
        try:
            self._thd_discard(temp)
        except OSError as e:
            raise VolumeBackendError(f"cannot remove {temp}: {e}")

    def _qemuImg(self, *args):
        return runChecked(self.runner, ("qemu-img",) + args, timeout=self.commandTimeout)

    @inlineCallbacks
    def _guard(self, temp, work):
        """
        Run C{work()}; if it fails, remove C{temp} and fail with a
        L{VolumeBackendError}.
        """
        try:
            result = yield work()
        except (OSError, ProcessError, VolumeBackendError) as e:
            yield self._inThread(self._thd_discard, temp)
            if isinstance(e, VolumeBackendError):
                raise
            raise VolumeBackendError(str(e)) from e
        return result

    # -- IVolumeDriver ---------------------------------------------------

    def checkForSetupError(self):
        return self._checkForSetupError()

    @inlineCallbacks
    def _checkForSetupError(self):
        yield self._inThread(self._thd_checkDirectory)
        if self.exporter is not None:
            yield self.exporter.check()
        if self.volumeFormat == "qcow2":
            try:
                yield self._qemuImg("--version")
            except ProcessError as e:
                raise VolumeBackendError(f"qcow2 volumes need qemu-img: {e}")

    def _thd_checkDirectory(self):
        try:
            os.makedirs(self.path, exist_ok=True)
        except OSError as e:
            raise VolumeBackendError(f"cannot make the volumes directory {self.path}: {e}")
        if not os.path.isdir(self.path) or not os.access(self.path, os.W_OK | os.X_OK):
            raise VolumeBackendError(f"the volumes directory {self.path} is not writable")

    def createVolume(self, volume):
        return self._createVolume(volume)

    @inlineCallbacks
    def _createVolume(self, volume):
        final, temp = self.pathOf(volume.name), self._tempPathOf(volume.name)
        yield self._inThread(self._thd_prepare, final, temp)
        if self.volumeFormat == "raw":
            yield self._guard(
                temp, lambda: self._inThread(self._thd_makeSparse, temp, volume.size * GIB)
            )
        else:
            yield self._guard(
                temp,
                lambda: self._qemuImg("create", "-q", "-f", "qcow2", temp, f"{volume.size}G"),
            )
        yield self._guard(temp, lambda: self._inThread(self._thd_publish, temp, final))
        return final

    def _thd_makeSparse(self, path, size):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, size)
        finally:
            os.close(fd)

    def deleteVolume(self, volume):
        return self._delete(volume.name)

    def _delete(self, name):
        path = self.pathOf(name)

        def thd_delete():
            try:
                self._thd_discard(path)
            except OSError as e:
                raise VolumeBackendError(f"cannot remove {path}: {e}")

        return self._inThread(thd_delete)

    def createSnapshot(self, snapshot, volume):
        return self._copy(self.pathOf(volume.name), snapshot.name, 0, None)

    def deleteSnapshot(self, snapshot):
        return self._delete(snapshot.name)

    def createVolumeFromSnapshot(self, volume, snapshot):
        if volume.size < snapshot.size:
            return fail(
                VolumeBackendError(
                    f"volume {volume.name} ({volume.size} GiB) is smaller than snapshot "
                    f"{snapshot.name} ({snapshot.size} GiB)"
                )
            )
        grow = volume.size if volume.size > snapshot.size else None
        return self._copy(self.pathOf(snapshot.name), volume.name, volume.size * GIB, grow)

    @inlineCallbacks
    def _copy(self, source, name, size, growToGb):
        """
        Copy C{source} to the new file C{name}; for qcow2, grow the copy
        to C{growToGb} GiB (raw copies grow to C{size} bytes as they are
        made).
        """
        final, temp = self.pathOf(name), self._tempPathOf(name)
        yield self._inThread(self._thd_prepare, final, temp)
        if self.volumeFormat == "raw":
            yield self._guard(temp, lambda: self._inThread(sparseCopy, source, temp, size))
        else:
            yield self._guard(temp, lambda: self._inThread(sparseCopy, source, temp, 0))
            if growToGb is not None:
                yield self._guard(
                    temp,
                    lambda: self._qemuImg("resize", "-q", "-f", "qcow2", temp, f"{growToGb}G"),
                )
        yield self._guard(temp, lambda: self._inThread(self._thd_publish, temp, final))
        return final

    def exportVolume(self, volume):
        path = self.pathOf(volume.name)

        def thd_export():
            if not os.path.isfile(path):
                raise VolumeBackendError(f"no volume file {path}")
            return {"type": "file", "path": path, "format": self.volumeFormat}

        d = self._inThread(thd_export)
        if self.exporter is not None:
            d.addCallback(lambda _: self.exporter.export(volume, path))
        return d

    def removeExport(self, volume):
        if self.exporter is not None:
            return self.exporter.remove(volume)
        return succeed(None)

    def getStats(self):
        def thd_stats():
            try:
                st = os.statvfs(self.path)
            except OSError as e:
                raise VolumeBackendError(f"cannot read {self.path}: {e}")
            return {
                "driver": self.name,
                "total_gb": st.f_blocks * st.f_frsize / GIB,
                "free_gb": st.f_bavail * st.f_frsize / GIB,
            }

        return self._inThread(thd_stats)
