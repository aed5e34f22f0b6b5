# -*- test-case-name: tests.image.test_db -*-
"""
The images and image_launch_permissions tables: machine, kernel and ramdisk
images registered from the object store.

An image is named by its EC2 id: C{ami-} (machine), C{aki-} (kernel) or
C{ari-} (ramdisk) and eight random hex digits.  It belongs to the project
that registered it; it is private unless C{is_public} (EC2's launch
permission group C{all}) or a launch permission names another project.

An image's C{state} moves C{pending} -> C{decrypting} -> C{untarring} ->
C{available} for a bundle, C{pending} -> C{available} for a plain object,
or to C{failed} with the reason in C{state_reason}.  Every change of state
is a compare-and-set: one conditional C{UPDATE}, so a registration that was
deregistered (or failed by another process) meanwhile cannot make it
available.
"""

import secrets

import attr
from storm.exceptions import IntegrityError
from storm.expr import And, Or, Select, Update
from storm.locals import Bool, DateTime, Int, Unicode

from nova import exception
from nova.db.services import utcnow
from nova.db.store import readOnly
from nova.db.tags import IMAGE, MAX_TAGS, thd_setTags

MACHINE = "machine"
KERNEL = "kernel"
RAMDISK = "ramdisk"
IMAGE_TYPES = (MACHINE, KERNEL, RAMDISK)

#: The EC2 id prefix of each image type.
PREFIXES = {MACHINE: "ami", KERNEL: "aki", RAMDISK: "ari"}
_TYPE_OF_PREFIX = {prefix: kind for kind, prefix in PREFIXES.items()}

PENDING = "pending"
DECRYPTING = "decrypting"
UNTARRING = "untarring"
AVAILABLE = "available"
FAILED = "failed"
STATES = (PENDING, DECRYPTING, UNTARRING, AVAILABLE, FAILED)

#: States of an image whose registration is still at work.
WORKING_STATES = (PENDING, DECRYPTING, UNTARRING)

#: The state EC2 shows for each of ours.
EC2_STATES = {
    PENDING: "pending",
    DECRYPTING: "pending",
    UNTARRING: "pending",
    AVAILABLE: "available",
    FAILED: "failed",
}

_ID_ATTEMPTS = 20


class ImageNotFound(exception.NotFound):
    """The image does not exist."""

    code = "ImageNotFound"
    ec2Code = "InvalidAMIID.NotFound"


class InvalidImageId(exception.Invalid):
    """The image id is malformed."""

    code = "InvalidImageId"
    ec2Code = "InvalidAMIID.Malformed"


def imageTypeOf(ec2Id):
    """
    @return: the image type an EC2 image id names (C{machine} for
        C{ami-...}), or C{None} if it is not an image id.
    """
    if not isinstance(ec2Id, str):
        return None
    prefix, dash, digits = ec2Id.partition("-")
    if not dash or len(digits) != 8 or prefix not in _TYPE_OF_PREFIX:
        return None
    if any(c not in "0123456789abcdef" for c in digits):
        return None
    return _TYPE_OF_PREFIX[prefix]


def checkImageId(ec2Id):
    """
    @return: C{ec2Id}, if it is a well-formed image id.
    @raise InvalidImageId: otherwise.
    """
    if imageTypeOf(ec2Id) is None:
        raise InvalidImageId(f"Invalid id: {ec2Id!r} (expecting 'ami-...', 'aki-...' or 'ari-...')")
    return ec2Id


def newImageId(imageType):
    """
    @return: a random EC2 id for an image of C{imageType}.
    """
    return "%s-%08x" % (PREFIXES[imageType], secrets.randbits(32))


class ImageRow:
    __storm_table__ = "images"
    id = Int(primary=True)
    ec2_id = Unicode()
    image_type = Unicode()
    project_id = Unicode()
    user_id = Unicode()
    location = Unicode()
    state = Unicode()
    state_reason = Unicode()
    architecture = Unicode()
    kernel_id = Unicode()
    ramdisk_id = Unicode()
    is_public = Bool()
    name = Unicode()
    description = Unicode()
    root_device_name = Unicode()
    disk_format = Unicode()
    size = Int()
    checksum = Unicode()
    created_at = DateTime()
    updated_at = DateTime()


class LaunchPermissionRow:
    __storm_table__ = "image_launch_permissions"
    id = Int(primary=True)
    image_id = Int()
    project_id = Unicode()


@attr.s(frozen=True)
class ImageRecord:
    """
    One image.

    @ivar ec2_id: C{ami-...}, C{aki-...} or C{ari-...}.
    @ivar image_type: C{machine}, C{kernel} or C{ramdisk}.
    @ivar project_id: the owning project.
    @ivar user_id: the user who registered it.
    @ivar location: C{bucket/key} of the manifest (or of the plain image
        object) it was registered from.
    @ivar state: one of L{STATES}.
    @ivar state_reason: why it C{failed}, or C{None}.
    @ivar architecture: C{x86_64}, C{i386}, ...
    @ivar kernel_id: for a machine image, the kernel it boots with.
    @ivar ramdisk_id: for a machine image, its ramdisk.
    @ivar is_public: whether every project may launch it (launch
        permission group C{all}).
    @ivar root_device_name: e.g. C{/dev/sda1}.
    @ivar disk_format: C{raw} or C{qcow2} for machine images, C{aki} and
        C{ari} for kernels and ramdisks, once known.
    @ivar size: the stored image's size in bytes, once available.
    @ivar checksum: the SHA-256 hex digest of the stored image, once
        available.
    @ivar launch_permissions: the projects (besides the owner) that may
        launch it, sorted.
    """

    id = attr.ib()
    ec2_id = attr.ib()
    image_type = attr.ib()
    project_id = attr.ib()
    user_id = attr.ib()
    location = attr.ib()
    state = attr.ib()
    state_reason = attr.ib()
    architecture = attr.ib()
    kernel_id = attr.ib()
    ramdisk_id = attr.ib()
    is_public = attr.ib()
    name = attr.ib()
    description = attr.ib()
    root_device_name = attr.ib()
    disk_format = attr.ib()
    size = attr.ib()
    checksum = attr.ib()
    created_at = attr.ib()
    updated_at = attr.ib()
    launch_permissions = attr.ib(default=(), converter=tuple)

    @classmethod
    def fromModel(cls, row, permissions=()):
        fields = {f.name: getattr(row, f.name) for f in attr.fields(cls) if f.name != "launch_permissions"}
        return cls(launch_permissions=sorted(permissions), **fields)

    @property
    def ec2State(self):
        """
        @return: the state EC2 shows: C{pending}, C{available} or
            C{failed}.
        """
        return EC2_STATES[self.state]

    @property
    def bucket(self):
        """
        @return: the bucket of C{location}.
        """
        return self.location.partition("/")[0]

    @property
    def key(self):
        """
        @return: the key of C{location}.
        """
        return self.location.partition("/")[2]

    def toDict(self):
        """
        @return: a JSON-safe L{dict} (times as ISO 8601 text), for RPC.
        """
        data = attr.asdict(self)
        data["launch_permissions"] = list(self.launch_permissions)
        for name in ("created_at", "updated_at"):
            if data[name] is not None:
                data[name] = data[name].isoformat()
        return data

    @classmethod
    def fromDict(cls, data):
        """
        @return: the record L{toDict} described.
        """
        from datetime import datetime

        fields = {f.name for f in attr.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        for name in ("created_at", "updated_at"):
            if isinstance(values.get(name), str):
                values[name] = datetime.fromisoformat(values[name])
        return cls(**values)


#: Columns a caller may set through L{ImageStore.create} and
#: L{ImageStore.update}.
_FIELDS = frozenset(f.name for f in attr.fields(ImageRecord)) - {
    "id",
    "ec2_id",
    "created_at",
    "updated_at",
    "launch_permissions",
}


def _checkFields(fields):
    unknown = set(fields) - _FIELDS
    if unknown:
        raise exception.Invalid(f"unknown image fields {sorted(unknown)}")


def _visible(projectId):
    """
    @return: the condition of the images a project may see and launch: its
        own, the public ones and those it has a launch permission for.
    """
    return Or(
        ImageRow.project_id == projectId,
        ImageRow.is_public == True,  # noqa: E712 (a Storm expression)
        ImageRow.id.is_in(
            Select(LaunchPermissionRow.image_id, LaunchPermissionRow.project_id == projectId)
        ),
    )


class ImageStore:
    """
    Rows of the images and image_launch_permissions tables.
    """

    def __init__(self, transactor, clock):
        self.transactor = transactor
        self.clock = clock

    # -- helpers ---------------------------------------------------------

    def _row(self, store, ec2Id):
        row = store.find(ImageRow, ImageRow.ec2_id == ec2Id).one()
        if row is None:
            raise ImageNotFound(f"The image id '{ec2Id}' does not exist")
        return row

    def _permissions(self, store, imageIds):
        found = {}
        if not imageIds:
            return found
        rows = store.find(LaunchPermissionRow, LaunchPermissionRow.image_id.is_in(list(imageIds)))
        for row in rows:
            found.setdefault(row.image_id, []).append(row.project_id)
        return found

    def _record(self, store, row):
        return ImageRecord.fromModel(row, self._permissions(store, [row.id]).get(row.id, ()))

    def _records(self, store, rows):
        rows = list(rows)
        permissions = self._permissions(store, [row.id for row in rows])
        return [ImageRecord.fromModel(row, permissions.get(row.id, ())) for row in rows]

    # -- creating --------------------------------------------------------

    def create(self, imageType, projectId, userId, location, state=PENDING, tags=(), **fields):
        """
        Add an image under a new random id of C{imageType}'s prefix, and
        its tags, in one transaction.

        @param tags: C{(key, value)} pairs (checked by the API).
        @param fields: further columns (C{name}, C{architecture},
            C{kernel_id}, ...).
        @return: L{Deferred} firing with the new L{ImageRecord}; failing
            with L{nova.db.tags.TagLimitExceeded} (and making nothing) for
            too many tags.
        """
        if imageType not in IMAGE_TYPES:
            raise exception.Invalid(f"unknown image type {imageType!r}")
        _checkFields(fields)
        return self.transactor.transact(
            self.thd_create,
            imageType,
            projectId,
            userId,
            location,
            state,
            fields,
            utcnow(self.clock),
            tuple(tags),
        )

    def thd_create(self, store, imageType, projectId, userId, location, state, fields, now, tags=()):
        for _ in range(_ID_ATTEMPTS):
            ec2Id = newImageId(imageType)
            if store.find(ImageRow, ImageRow.ec2_id == ec2Id).any() is not None:
                continue
            row = ImageRow()
            row.ec2_id = ec2Id
            row.image_type = imageType
            row.project_id = projectId
            row.user_id = userId
            row.location = location
            row.state = state
            row.is_public = False
            for name, value in fields.items():
                setattr(row, name, value)
            row.is_public = bool(row.is_public)
            row.created_at = row.updated_at = now
            store.add(row)
            try:
                store.flush()
            except IntegrityError:
                store.rollback()
                continue
            if tags:
                thd_setTags(store, [(ec2Id, IMAGE, projectId)], dict(tags), MAX_TAGS, now)
            return ImageRecord.fromModel(row)
        raise exception.DatabaseError("no free image id found")

    # -- reading ---------------------------------------------------------

    def get(self, ec2Id):
        """
        @return: L{Deferred} firing with the L{ImageRecord}; failing with
            L{ImageNotFound}.
        """
        return self.transactor.transact(self.thd_get, ec2Id)

    @readOnly
    def thd_get(self, store, ec2Id):
        return self._record(store, self._row(store, ec2Id))

    def find(self, ec2Ids=None, owners=None, visibleTo=None, launchableBy=None, states=None):
        """
        Select images; every argument given narrows the selection.

        @param ec2Ids: only these ids.
        @param owners: only images of these projects.
        @param visibleTo: only images this project may see: its own, the
            public ones and those shared with it.
        @param launchableBy: only images this project may launch other
            than its own: public ones and those shared with it (EC2's
            C{ExecutableBy}); C{"all"} means the public ones.
        @param states: only images in these states.
        @return: L{Deferred} firing with a L{list} of L{ImageRecord}s
            ordered by id.
        """
        return self.transactor.transact(
            self.thd_find,
            None if ec2Ids is None else list(ec2Ids),
            None if owners is None else list(owners),
            visibleTo,
            launchableBy,
            None if states is None else list(states),
        )

    @readOnly
    def thd_find(self, store, ec2Ids, owners, visibleTo, launchableBy, states):
        conditions = []
        if ec2Ids is not None:
            conditions.append(ImageRow.ec2_id.is_in(ec2Ids))
        if owners is not None:
            conditions.append(ImageRow.project_id.is_in(owners))
        if visibleTo is not None:
            conditions.append(_visible(visibleTo))
        if launchableBy is not None:
            if launchableBy == "all":
                conditions.append(ImageRow.is_public == True)  # noqa: E712
            else:
                conditions.append(
                    Or(
                        ImageRow.is_public == True,  # noqa: E712
                        ImageRow.id.is_in(
                            Select(
                                LaunchPermissionRow.image_id,
                                LaunchPermissionRow.project_id == launchableBy,
                            )
                        ),
                    )
                )
        if states is not None:
            conditions.append(ImageRow.state.is_in(states))
        rows = store.find(ImageRow, *conditions).order_by(ImageRow.id)
        return self._records(store, rows)

    # -- changing --------------------------------------------------------

    def setState(self, ec2Id, state, expected=None, reason=None, **fields):
        """
        Move an image to C{state} (compare-and-set).

        @param expected: the states the image must be in (any when
            C{None}).
        @param reason: the C{state_reason} to record (cleared when
            C{None}).
        @param fields: further columns to set at the same time (C{size},
            C{checksum}, C{disk_format}).
        @return: L{Deferred} firing with C{True} if the image was in an
            expected state and changed, C{False} if it is gone or was in
            another state.
        """
        _checkFields(fields)
        return self.transactor.transact(
            self.thd_setState,
            ec2Id,
            state,
            None if expected is None else list(expected),
            reason,
            fields,
            utcnow(self.clock),
        )

    def thd_setState(self, store, ec2Id, state, expected, reason, fields, now):
        condition = ImageRow.ec2_id == ec2Id
        if expected is not None:
            condition = And(condition, ImageRow.state.is_in(expected))
        fields = dict(fields, state=state, state_reason=reason, updated_at=now)
        values = {}
        for name, value in fields.items():
            column = getattr(ImageRow, name)
            values[column] = None if value is None else column.variable_factory(value=value)
        result = store.execute(Update(values, condition, ImageRow))
        store.invalidate()
        return result.rowcount == 1

    def update(self, ec2Id, **fields):
        """
        Change columns of an image (C{name}, C{description},
        C{is_public}, ...).

        @return: L{Deferred} firing with the changed L{ImageRecord};
            failing with L{ImageNotFound}.
        """
        _checkFields(fields)
        return self.transactor.transact(self.thd_update, ec2Id, fields, utcnow(self.clock))

    def thd_update(self, store, ec2Id, fields, now):
        row = self._row(store, ec2Id)
        for name, value in fields.items():
            setattr(row, name, value)
        row.updated_at = now
        return self._record(store, row)

    def addLaunchPermissions(self, ec2Id, projectIds):
        """
        Let projects launch an image.

        @return: L{Deferred} firing with the changed L{ImageRecord}.
        """
        return self.transactor.transact(
            self.thd_addLaunchPermissions, ec2Id, sorted(set(projectIds)), utcnow(self.clock)
        )

    def thd_addLaunchPermissions(self, store, ec2Id, projectIds, now):
        row = self._row(store, ec2Id)
        have = set(self._permissions(store, [row.id]).get(row.id, ()))
        for projectId in projectIds:
            if projectId in have:
                continue
            permission = LaunchPermissionRow()
            permission.image_id = row.id
            permission.project_id = projectId
            store.add(permission)
        row.updated_at = now
        store.flush()
        return self._record(store, row)

    def removeLaunchPermissions(self, ec2Id, projectIds):
        """
        Take back projects' permission to launch an image.

        @return: L{Deferred} firing with the changed L{ImageRecord}.
        """
        return self.transactor.transact(
            self.thd_removeLaunchPermissions, ec2Id, sorted(set(projectIds)), utcnow(self.clock)
        )

    def thd_removeLaunchPermissions(self, store, ec2Id, projectIds, now):
        row = self._row(store, ec2Id)
        if projectIds:
            store.find(
                LaunchPermissionRow,
                LaunchPermissionRow.image_id == row.id,
                LaunchPermissionRow.project_id.is_in(projectIds),
            ).remove()
        row.updated_at = now
        return self._record(store, row)

    def resetLaunchPermissions(self, ec2Id):
        """
        Make an image private again: not public, shared with no project.

        @return: L{Deferred} firing with the changed L{ImageRecord}.
        """
        return self.transactor.transact(self.thd_resetLaunchPermissions, ec2Id, utcnow(self.clock))

    def thd_resetLaunchPermissions(self, store, ec2Id, now):
        row = self._row(store, ec2Id)
        store.find(LaunchPermissionRow, LaunchPermissionRow.image_id == row.id).remove()
        row.is_public = False
        row.updated_at = now
        return self._record(store, row)

    def delete(self, ec2Id):
        """
        Remove an image and its launch permissions.

        @return: L{Deferred} firing with the L{ImageRecord} as it was;
            failing with L{ImageNotFound}.
        """
        return self.transactor.transact(self.thd_delete, ec2Id)

    def thd_delete(self, store, ec2Id):
        row = self._row(store, ec2Id)
        record = self._record(store, row)
        store.find(LaunchPermissionRow, LaunchPermissionRow.image_id == row.id).remove()
        store.remove(row)
        return record

    def failUnfinished(self, reason):
        """
        Fail every image whose registration is still at work (after a
        restart, when no process works on them any more).

        @return: L{Deferred} firing with the EC2 ids failed.
        """
        return self.transactor.transact(self.thd_failUnfinished, reason, utcnow(self.clock))

    def thd_failUnfinished(self, store, reason, now):
        rows = list(store.find(ImageRow, ImageRow.state.is_in(list(WORKING_STATES))))
        for row in rows:
            row.state = FAILED
            row.state_reason = reason
            row.updated_at = now
        return [row.ec2_id for row in rows]
