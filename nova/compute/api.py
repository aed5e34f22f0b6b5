# -*- test-case-name: tests.compute.test_api -*-
"""
The compute API that every API (EC2, OpenStack, admin) uses: it checks
what a request may do, writes the database, and casts to the scheduler
and the compute hosts.  It answers at once; the work happens on the
compute hosts.

Instances are named by their numeric id or their EC2 id (C{i-0000002a});
every method checks that they belong to the context's project (admins see
all) and answers L{InstanceNotFound} (EC2: C{InvalidInstanceID.NotFound})
for instances of other projects.

Besides what they are launched with, instances have two attributes that
L{ComputeAPI.modifyInstance} changes at any time: termination protection
(C{disable_api_termination}: while it is on, L{ComputeAPI.terminateInstances}
refuses the instance with L{OperationNotPermitted}) and what a shutdown
from inside the guest does (C{shutdown_behavior}, C{stop} or C{terminate}:
the compute manager's power-state sync acts on it).

An administrator may lock an instance (L{ComputeAPI.lockInstance}): while
it is locked, every request of a non-administrator that would change it
(terminate, reboot, stop, start, pause, unpause, suspend, resume, resize,
confirm or revert a resize, rebuild, rescue, unrescue, modify or update
its attributes, attach or detach a volume) is refused with
L{InstanceLocked} (EC2: C{OperationNotPermitted}).

A running instance can be resized to another type
(L{ComputeAPI.resizeInstance}): its host resizes the guest in place and
keeps the old one until L{ComputeAPI.confirmResize} drops it or
L{ComputeAPI.revertResize} restores it; meanwhile the instance counts
against the quotas with the larger type's vCPUs, memory and disk.  A
running or stopped one can be rebuilt from another machine image
(L{ComputeAPI.rebuildInstance}), keeping its id and addresses; a running
one rescued (L{ComputeAPI.rescueInstance}: a rescue image boots with its
disk attached second) and unrescued.  See L{nova.compute.states} for the
states each goes through.
"""

import base64
import binascii
import json
import random as _random
import re
from datetime import timedelta

import attr
from twisted.internet.defer import DeferredList, inlineCallbacks, maybeDeferred, succeed
from twisted.logger import Logger

from nova import exception
from nova.compute import states
from nova.compute.blockdevices import BlockDeviceAPI
from nova.compute.errors import (
    IdempotentParameterMismatch,
    InstanceLimitExceeded,
    InstanceLocked,
    InstanceNotFound,
    InvalidParameterValue,
    OperationNotPermitted,
)
from nova.compute.instance_types import getInstanceType, listInstanceTypes
from nova.compute.names import (
    ec2InstanceId,
    newMacAddress,
    newReservationId,
    parseInstanceId,
)
from nova.compute.snapshots import snapshotLocation
from nova.console.tokens import ConsoleTokenStore
from nova.db.images import AVAILABLE as IMAGE_AVAILABLE
from nova.db.images import MACHINE as MACHINE_IMAGE
from nova.db.instances import SHUTDOWN_BEHAVIORS, STOP_ON_SHUTDOWN
from nova.db.services import utcnow
from nova.db.tags import INSTANCE, MAX_TAGS
from nova.idempotency import checkClientToken, requestHash
from nova.image.api import ImageAPI
from nova.network.security_groups import SecurityGroupAPI
from nova.quota import QuotaEngine
from nova.virt.interfaces import VolumeConnection
from nova.volume.api import VolumeAPI

#: The quota resources RunInstances checks, with what one instance uses.
_QUOTA_RESOURCES = (
    ("instances", lambda itype: 1),
    ("cores", lambda itype: itype.vcpus),
    ("ram", lambda itype: itype.memory_mb),
)

#: What L{ComputeAPI.modifyInstance} changes only while the instance is
#: stopped (as EC2 does), and what it changes in any state but
#: shutting-down and terminated.
_CHANGED_WHEN_STOPPED = frozenset({"instanceType", "userData", "kernelId", "ramdiskId"})
_CHANGED_ANY_TIME = frozenset({"disableApiTermination", "shutdownBehavior", "securityGroups"})


def vncProxyURL(config, token):
    """
    @return: the websocket URL of the VNC console C{token} opens:
        C{--vncproxy_base_url} (by default
        C{ws://<osapi_host>:<osapi_port>/websockify}) with C{?token=}.
    """
    base = config.vncproxy_base_url or f"ws://{config.osapi_host}:{config.osapi_port}/websockify"
    return f"{base}{'&' if '?' in base else '?'}token={token}"


def gatherInOrder(deferreds):
    """
    Wait for independent operations started at once (reads that would
    otherwise wait for each other in turn).

    @param deferreds: L{Deferred}s.
    @return: L{Deferred} firing with their results, in order, once all
        have fired; failing with the failure of the first of them, in
        order, that failed.
    """

    def results(outcomes):
        for ok, value in outcomes:
            if not ok:
                return value
        return [value for _, value in outcomes]

    return DeferredList(list(deferreds), consumeErrors=True).addCallback(results)


def _limitedResources(limits, itype):
    """
    @param limits: a project's quota.
    @param itype: an instance type, or an instance (its C{vcpus} and
        C{memory_mb}).
    @return: C{(resource, limit, each)} for each of L{_QUOTA_RESOURCES}
        that the quota limits (a limit of 0 or more) and that an instance
        of C{itype} uses (C{each} of it, more than 0).
    """
    for resource, perInstance in _QUOTA_RESOURCES:
        limit = limits.get(resource)
        each = perInstance(itype)
        if limit is not None and limit >= 0 and each > 0:
            yield resource, limit, each


def _thd_createReservation(
    store, db, blockDevices, projectId, userId, clientToken, digest, rows, newId, groupIds,
    mappings, tags, limits, now
):
    """
    In one transaction: a reservation, its instances, their security
    group memberships, block device mappings and tags (or the reservation
    that C{clientToken} made).

    @param blockDevices: the L{nova.db.blockdevices.BlockDeviceStore}.
    @param tags: C{(key, value)} pairs for every instance.
    @param limits: the project's quota.  The instances' usage, counted in
        this transaction, is checked against it again: requests of the
        project that ran at once cannot together go beyond it.
    @return: C{(reservation, instances, created, referring)}: C{referring}
        the ids of the groups whose rules name the instances' groups
        (empty unless C{created}).
    @raise InstanceLimitExceeded: the project's usage with these instances
        goes beyond its quota (nothing is written).
    """
    reservation, instances, created = db.instances.thd_createReservation(
        store, projectId, userId, clientToken, digest, rows, newId, now
    )
    referring = []
    if created:
        usage = db.instances.thd_usageByProject(store, projectId)
        over = [
            resource
            for resource, limit, _ in _limitedResources(limits, instances[0])
            if usage[resource] > limit
        ]
        if over:
            raise InstanceLimitExceeded(
                f"Instance quota exceeded ({', '.join(over)}): other requests of the "
                f"project took what the quota allowed"
            )
        instanceIds = [i.id for i in instances]
        db.securityGroups.thd_addInstances(store, groupIds, instanceIds, now)
        if mappings:
            blockDevices.thd_setInstanceMappings(store, instanceIds, mappings)
        if tags:
            db.tags.thd_setTags(
                store,
                [(i.ec2Id, INSTANCE, projectId) for i in instances],
                dict(tags),
                MAX_TAGS,
                now,
            )
        referring = db.securityGroups.thd_groupsReferring(store, groupIds)
    return reservation, instances, created, referring


def _thd_abandonReservation(store, db, blockDevices, reservationId, instances):
    """
    In one transaction: remove the memberships, block device mappings,
    tags, instances and reservation of a request that sent nothing.

    @param instances: the reservation's L{InstanceRecord}s.
    """
    instanceIds = [instance.id for instance in instances]
    for instanceId in instanceIds:
        db.securityGroups.thd_removeInstance(store, instanceId, None)
    blockDevices.thd_setInstanceMappings(store, instanceIds, ())
    db.tags.thd_deleteTags(store, [instance.ec2Id for instance in instances], None)
    return db.instances.thd_abandonReservation(store, reservationId)


def _checkShutdownBehavior(behavior):
    """
    @return: C{behavior}, or the default (C{stop}) for L{None}.
    @raise InvalidParameterValue: unless it is C{stop} or C{terminate}.
    """
    if behavior is None:
        return STOP_ON_SHUTDOWN
    if behavior not in SHUTDOWN_BEHAVIORS:
        raise InvalidParameterValue(
            f"Value ({behavior}) for parameter instanceInitiatedShutdownBehavior is "
            f"invalid. Valid values are 'stop' and 'terminate'."
        )
    return behavior


#: What EC2 allows in an image's name (CreateImage, RegisterImage).
_IMAGE_NAME = re.compile(r"\A[A-Za-z0-9()\[\] ./'@_-]{3,128}\Z")

#: The states of an instance whose disk CreateImage copies.
_IMAGEABLE = frozenset({states.RUNNING, states.STOPPED, states.PAUSED, states.SUSPENDED})


def _personalityText(personality):
    """
    @param personality: L{dict}s of C{path} (an absolute path) and
        C{contents} (base64 text).
    @return: their JSON text as an instance keeps them, or L{None} for
        none.
    @raise InvalidParameterValue: for anything else.
    """
    if not personality:
        return None
    files = []
    for item in personality:
        path = item.get("path") if isinstance(item, dict) else None
        contents = item.get("contents") if isinstance(item, dict) else None
        if not isinstance(path, str) or not path.startswith("/") or not isinstance(contents, str):
            raise InvalidParameterValue("personality files are {path, contents} of absolute paths")
        try:
            base64.b64decode(contents.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise InvalidParameterValue(f"the contents of {path} are not base64") from None
        files.append({"path": path, "contents": contents})
    return json.dumps(files, sort_keys=True)


def _checkGroupNames(securityGroups):
    for group in securityGroups:
        if not isinstance(group, str) or not group or "," in group:
            raise InvalidParameterValue(f"invalid security group name {group!r}")


def _checkTerminable(instance):
    """
    @raise OperationNotPermitted: if the instance's termination protection
        is on.
    """
    if instance.disable_api_termination:
        raise OperationNotPermitted(
            f"The instance '{instance.ec2Id}' may not be terminated. Modify its "
            f"'disableApiTermination' instance attribute and try again."
        )


def _checkUnlocked(context, instance):
    """
    @raise InstanceLocked: if the instance is locked and the context is
        not an administrator's.
    """
    if instance.locked and not context.isAdmin:
        raise InstanceLocked(
            f"The instance '{instance.ec2Id}' is locked by an administrator; "
            f"it cannot be changed until it is unlocked."
        )


def hypervisorType(config):
    """
    The hypervisor this cloud's compute hosts run guests on, as the flags
    say: C{--libvirt_type} (C{kvm}, C{qemu}, C{lxc}, C{uml}, C{xen}) with
    C{--connection_type=libvirt}, else the driver's name (C{fake}).

    @return: a L{str}.
    """
    connectionType = getattr(config, "connection_type", "fake")
    if connectionType == "libvirt":
        return getattr(config, "libvirt_type", "kvm")
    return connectionType


@attr.s(frozen=True)
class StateChange:
    """
    What a terminate, stop or start request did to one instance.

    @ivar instanceId: the numeric id.
    @ivar previousState: the state before the request.
    @ivar currentState: the state after it.
    """

    instanceId = attr.ib()
    previousState = attr.ib()
    currentState = attr.ib()

    @property
    def ec2Id(self):
        return ec2InstanceId(self.instanceId)


@attr.s(frozen=True)
class UnlimitedQuotas:
    """
    Quotas that allow everything: for tools and tests that do not test
    quotas.
    """

    def getQuota(self, projectId):
        return {}


class ComputeAPI:
    """
    Runs and manages instances on behalf of API requests.

    @ivar quotas: an object whose C{getQuota(projectId)} returns (or
        fires a L{Deferred} with) a L{dict} of the project's limits, such
        as L{nova.quota.QuotaEngine}; the keys used are C{instances},
        C{cores} and C{ram} (MiB), a missing key, C{None} or a negative
        limit meaning unlimited.
    """

    log = Logger()
    schedulerTopic = "scheduler"

    def __init__(
        self, config, db, rpc, clock, quotas=None, random=None, images=None, consoleTokens=None
    ):
        """
        @param quotas: see C{quotas} above; by default a
            L{nova.quota.QuotaEngine} with the C{--quota_*} defaults over
            C{db.quotas}.
        @param random: a L{random.Random} for reservation ids and MAC
            addresses.
        @param images: the L{nova.image.interfaces.IImageService} that
            reserves the images of snapshots; by default an L{ImageAPI}
            over C{rpc}.
        @param consoleTokens: the L{nova.console.tokens.ConsoleTokenStore}
            of VNC console tokens; by default one over C{db.transactor}.
        """
        self.config = config
        self.db = db
        self.rpc = rpc
        self.clock = clock
        if quotas is None:
            quotas = QuotaEngine.fromConfig(config, db)
        self.quotas = quotas
        self.random = random if random is not None else _random.SystemRandom()
        self.securityGroups = SecurityGroupAPI(db, rpc)
        self.images = images if images is not None else ImageAPI(db, rpc)
        self.blockDevices = BlockDeviceAPI(
            db, self.images, VolumeAPI(config, db, rpc, clock, self.quotas)
        )
        self.consoleTokens = (
            consoleTokens
            if consoleTokens is not None
            else ConsoleTokenStore(db.transactor, clock)
        )

    @property
    def hypervisorType(self):
        """
        The hypervisor of this cloud's guests (L{hypervisorType}).
        """
        return hypervisorType(self.config)

    # -- lookups ---------------------------------------------------------

    def _terminatedSince(self):
        return utcnow(self.clock) - timedelta(seconds=self.config.terminated_instance_ttl)

    def _visible(self, context, instance):
        if instance.deleted:
            return False
        if not context.isAdmin and instance.project_id != context.projectId:
            return False
        if (
            instance.state == states.TERMINATED
            and instance.terminated_at is not None
            and instance.terminated_at < self._terminatedSince()
        ):
            return False
        return True

    @inlineCallbacks
    def getInstance(self, context, instanceId):
        """
        @param instanceId: a numeric or EC2 id.
        @return: L{Deferred} firing with the L{InstanceRecord}; failing
            with L{InstanceNotFound} if there is none the context may see,
            or L{nova.compute.errors.InvalidInstanceIDMalformed}.
        """
        number = parseInstanceId(instanceId)
        try:
            instance = yield self.db.instances.get(number)
        except InstanceNotFound:
            instance = None
        if instance is None or not self._visible(context, instance):
            raise InstanceNotFound(
                f"The instance ID '{ec2InstanceId(number)}' does not exist"
            )
        return instance

    @inlineCallbacks
    def describeInstances(self, context, instanceIds=None, reservationId=None, within=None):
        """
        The instances the context may see: its project's (all, for
        admins), recently terminated ones included.

        @param instanceIds: numeric or EC2 ids to restrict to; any unknown
            id fails the request.
        @param within: numeric ids to narrow a listing without
            C{instanceIds} to, unknown ones ignored (what a filter
            allows), or L{None}.
        @return: L{Deferred} firing with a L{list} of L{InstanceRecord} by
            id; failing with L{InstanceNotFound} naming the unknown ids.
        """
        numbers = None
        if instanceIds:
            numbers = [parseInstanceId(i) for i in instanceIds]
        instances = yield self.db.instances.list(
            projectId=None if context.isAdmin else context.projectId,
            instanceIds=sorted(within) if numbers is None and within is not None else numbers,
            reservationId=reservationId,
            terminatedSince=self._terminatedSince(),
        )
        if numbers is not None:
            missing = sorted(set(numbers) - {i.id for i in instances})
            if missing:
                ids = ", ".join(ec2InstanceId(n) for n in missing)
                raise InstanceNotFound(f"The instance IDs '{ids}' do not exist")
        return instances

    @inlineCallbacks
    def imagesOfInstances(self, context, instances):
        """
        The images instances were launched from, whoever owns them now
        (describing an instance shows its image's architecture and root
        device).

        @param instances: L{InstanceRecord}s the context sees (from
            L{getInstance} or L{describeInstances}).
        @return: L{Deferred} firing with a L{dict} from image id to
            L{nova.db.images.ImageRecord}, for those that still exist.
        @raise InstanceNotFound: (in the L{Deferred}) for an instance the
            context does not see.
        """
        for instance in instances:
            if not context.isAdmin and instance.project_id != context.projectId:
                raise InstanceNotFound(f"The instance ID '{instance.ec2Id}' does not exist")
        imageIds = sorted({i.image_id for i in instances if i.image_id})
        if not imageIds:
            return {}
        images = yield self.db.images.find(ec2Ids=imageIds)
        return {image.ec2_id: image for image in images}

    def describeInstanceTypes(self, context):
        """
        The instance types any member may launch (not those marked
        deleted).

        @return: L{Deferred} firing with every
            L{nova.db.records.InstanceTypeRecord}, by flavor id.
        """
        return listInstanceTypes(self.db)

    # -- run -------------------------------------------------------------

    @inlineCallbacks
    def runInstances(
        self,
        context,
        imageId,
        minCount,
        maxCount,
        instanceType=None,
        keyName=None,
        keyData=None,
        userData=None,
        securityGroups=(),
        kernelId=None,
        ramdiskId=None,
        availabilityZone=None,
        clientToken=None,
        disableApiTermination=False,
        shutdownBehavior=None,
        blockDeviceMappings=(),
        configDrive=False,
        personality=(),
        tags=(),
    ):
        """
        Launch between C{minCount} and C{maxCount} instances, as many as
        the project's quota allows.

        @param instanceType: a type name, or C{None} for
            C{--default_instance_type}.
        @param keyData: the public key of C{keyName}, to inject.
        @param userData: the user data as given (base64 text in EC2).
        @param securityGroups: names of the instances' security groups.
        @param availabilityZone: a zone, or (admins) C{zone:host} to force
            a host.
        @param clientToken: an idempotency token (at most 64 ASCII
            characters): the same token in the same project answers with
            the first request's reservation.
        @param disableApiTermination: whether the instances are protected
            from L{terminateInstances}.
        @param shutdownBehavior: what a shutdown from inside a guest does:
            C{stop} (the default, for L{None}) or C{terminate}.
        @param blockDeviceMappings: the instances'
            L{nova.db.blockdevices.BlockDeviceMapping}s
            (L{nova.compute.blockdevices.BlockDeviceAPI.launchMappings}):
            their compute host makes their EBS volumes before they boot.
        @param configDrive: whether the guests get a config drive
            (L{nova.virt.configdrive}); personality files imply one.
        @param personality: files to hand each guest on its config drive:
            L{dict}s of C{path} (absolute) and C{contents} (base64 text),
            the quotas already checked by the API.
        @param tags: C{(key, value)} pairs each instance is tagged with,
            in the transaction that makes the instances (the API checked
            them).
        @return: L{Deferred} firing with C{(reservationId, instances,
            created)}: the reservation (C{r-} and eight hex digits), its
            L{InstanceRecord}s, state C{pending}, and whether this request
            made them (C{False} when C{clientToken} made them before: the
            instances as they are now).  Failing with
            L{InstanceLimitExceeded} when the quota allows fewer than
            C{minCount}, L{nova.compute.errors.InstanceTypeNotFound},
            L{InvalidParameterValue}, L{IdempotentParameterMismatch}.
        """
        if context.projectId is None:
            raise exception.NotAuthorized("RunInstances needs a project")
        minCount, maxCount = self._counts(minCount, maxCount)
        securityGroups = tuple(securityGroups or ()) or ("default",)
        _checkGroupNames(securityGroups)
        if not isinstance(disableApiTermination, bool):
            raise InvalidParameterValue("disableApiTermination must be true or false")
        shutdownBehavior = _checkShutdownBehavior(shutdownBehavior)
        checkClientToken(clientToken, InvalidParameterValue)
        personalityText = _personalityText(personality)
        # Only what differs from the defaults joins the digest, so that
        # tokens used before these parameters existed still replay.
        attributes = {}
        if configDrive or personalityText:
            attributes["configDrive"] = True
        if personalityText:
            attributes["personality"] = personalityText
        if disableApiTermination:
            attributes["disableApiTermination"] = True
        if shutdownBehavior != STOP_ON_SHUTDOWN:
            attributes["shutdownBehavior"] = shutdownBehavior
        if blockDeviceMappings:
            attributes["blockDeviceMappings"] = [
                attr.astuple(mapping) for mapping in blockDeviceMappings
            ]
        tags = tuple(tags)
        if tags:
            attributes["tags"] = sorted(dict(tags).items())
        digest = requestHash(
            imageId=imageId,
            minCount=minCount,
            maxCount=maxCount,
            instanceType=instanceType,
            keyName=keyName,
            userData=userData,
            securityGroups=sorted(securityGroups),
            kernelId=kernelId,
            ramdiskId=ramdiskId,
            availabilityZone=availabilityZone,
            **attributes,
        )
        # The reads are independent: they run at once.  A reservation the
        # client token made answers, whatever the others found.
        (foundOk, found), (readOk, reads) = yield DeferredList(
            [
                self.db.instances.findReservation(context.projectId, clientToken)
                if clientToken is not None
                else succeed(None),
                gatherInOrder(
                    [
                        getInstanceType(self.db, self.config, instanceType),
                        self.securityGroups.groupsNamed(context, securityGroups),
                        self._quotaAndUsage(context),
                    ]
                ),
            ],
            consumeErrors=True,
        )
        if not foundOk:
            found.raiseException()
        if found is not None:
            return self._replay(found, clientToken, digest)
        if not readOk:
            reads.raiseException()
        itype, groups, (limits, usage) = reads
        count = self._allowedCount(minCount, maxCount, itype, limits, usage)
        zone = availabilityZone.split(":", 1)[0] if availabilityZone else None
        rows = [
            {
                "image_id": imageId,
                "kernel_id": kernelId,
                "ramdisk_id": ramdiskId,
                "instance_type": itype.name,
                "vcpus": itype.vcpus,
                "memory_mb": itype.memory_mb,
                "local_gb": itype.local_gb,
                "launch_index": index,
                "key_name": keyName,
                "key_data": keyData,
                "user_data": userData,
                "availability_zone": zone or None,
                "security_groups": ",".join(securityGroups),
                "mac_address": newMacAddress(self.random),
                "disable_api_termination": disableApiTermination,
                "shutdown_behavior": shutdownBehavior,
                "config_drive": bool(configDrive or personalityText),
                "personality": personalityText,
                "state": states.PENDING,
            }
            for index in range(count)
        ]
        try:
            # The reservation, its instances, their security group
            # memberships and block device mappings in one transaction: all
            # of them or none.
            reservation, instances, created, referring = yield self.db.transactor.transact(
                _thd_createReservation,
                self.db,
                self.blockDevices.store,
                context.projectId,
                context.userId or "",
                clientToken,
                digest,
                rows,
                lambda: newReservationId(self.random),
                [group.id for group in groups],
                tuple(blockDeviceMappings),
                tags,
                limits,
                utcnow(self.clock),
            )
        except exception.DatabaseError:
            if clientToken is None:
                raise
            # Another request with this token won the race: answer as it.
            found = yield self.db.instances.findReservation(context.projectId, clientToken)
            if found is None:
                raise
            return self._replay(found, clientToken, digest)
        if created:
            try:
                # The memberships are made: this tells the compute hosts
                # whose rules name these groups.
                yield self.securityGroups.membersJoined(context, referring)
            except Exception:
                yield self._abandon(reservation, instances)
                raise
            yield self._schedule(context, reservation, instances, availabilityZone)
        return reservation.reservation_id, instances, created

    @inlineCallbacks
    def _abandon(self, reservation, instances):
        """
        The request fails before any of its instances was sent to the
        scheduler: remove what it wrote, so that it made nothing (a retry
        with its client token makes the instances anew).  If even that
        fails (the database is away), the instances stay C{pending} and
        the scheduler's sweep of stuck work sends them on later.
        """
        try:
            yield self.db.transactor.transact(
                _thd_abandonReservation,
                self.db,
                self.blockDevices.store,
                reservation.reservation_id,
                instances,
            )
        except exception.NovaError as e:
            self.log.warn(
                "could not remove reservation {reservation} of a failed request: {error}",
                reservation=reservation.reservation_id,
                error=e,
            )

    def _replay(self, found, clientToken, digest):
        reservation, instances = found
        if reservation.request_hash != digest:
            raise IdempotentParameterMismatch(
                f"client token {clientToken!r} was used with different parameters"
            )
        return reservation.reservation_id, instances, False

    def _counts(self, minCount, maxCount):
        try:
            minCount, maxCount = int(minCount), int(maxCount)
        except (TypeError, ValueError):
            raise InvalidParameterValue("MinCount and MaxCount must be integers")
        if minCount < 1:
            raise InvalidParameterValue("MinCount must be at least 1")
        if maxCount < minCount:
            raise InvalidParameterValue("MaxCount must not be less than MinCount")
        return minCount, maxCount

    def _quotaAndUsage(self, context):
        """
        @return: L{Deferred} firing with C{(limits, usage)}: the project's
            quota and what its instances use, read at once.
        """
        return gatherInOrder(
            [
                maybeDeferred(self.quotas.getQuota, context.projectId),
                self.db.instances.usageByProject(context.projectId),
            ]
        )

    def _allowedCount(self, minCount, maxCount, itype, limits, usage):
        """
        @param limits: the project's quota and C{usage} what its instances
            use (L{_quotaAndUsage}).
        @return: how many instances (at most C{maxCount}) the project's
            quota allows.
        @raise InstanceLimitExceeded: when that is below C{minCount}.
        """
        allowed = maxCount
        exceeded = []
        for resource, limit, each in _limitedResources(limits, itype):
            room = max(0, (limit - usage[resource]) // each)
            if room < minCount:
                exceeded.append(resource)
            allowed = min(allowed, room)
        if allowed < minCount:
            raise InstanceLimitExceeded(
                f"Instance quota exceeded ({', '.join(exceeded)}): you can run "
                f"{allowed} more instance(s) of type {itype.name}, not {minCount}"
            )
        return allowed

    @inlineCallbacks
    def _schedule(self, context, reservation, instances, availabilityZone):
        """
        Cast C{runInstance} to the scheduler for each instance.  If the
        first cast fails, the request made nothing (L{_abandon}); if a
        later one fails, the instances not sent go to C{error}.
        """
        for index, instance in enumerate(instances):
            try:
                yield self.rpc.cast(
                    context,
                    self.schedulerTopic,
                    "runInstance",
                    {"instanceId": instance.id, "availabilityZone": availabilityZone},
                )
            except exception.RPCError as e:
                if index == 0:
                    yield self._abandon(reservation, instances)
                    raise
                for unsent in instances[index:]:
                    yield self.db.instances.transition(
                        unsent.id,
                        {states.PENDING},
                        states.ERROR,
                        state_description=f"could not reach the scheduler: {e}"[:255],
                    )
                raise

    # -- terminate, reboot, stop, start ----------------------------------

    @inlineCallbacks
    def _owned(self, context, instanceIds):
        if not instanceIds:
            raise InvalidParameterValue("no instance ids given")
        found, seen = [], set()
        for instanceId in instanceIds:
            instance = yield self.getInstance(context, instanceId)
            if instance.id not in seen:
                seen.add(instance.id)
                found.append(instance)
        return found

    def _castCompute(self, context, instance, method):
        return self.rpc.cast(
            context, f"compute.{instance.host}", method, {"instanceId": instance.id}
        )

    @inlineCallbacks
    def _apply(self, context, instanceIds, action, method, guard=None):
        """
        Check that C{action} suits every instance, then move each to the
        action's state and cast C{method} to its host.  An instance whose
        cast fails (the bus is unreachable) goes back to its state, and the
        request fails with the L{nova.exception.RPCError}.

        @param guard: called with each instance the action would change,
            after the state checks and before anything changes; raises to
            refuse the whole request.
        @return: L{Deferred} firing with a L{list} of L{StateChange}.
        """
        instances = yield self._owned(context, instanceIds)
        todo = [(instance, action.check(instance)) for instance in instances]
        for instance, changesIt in todo:
            if changesIt:
                _checkUnlocked(context, instance)
                if guard is not None:
                    guard(instance)
        changes = []
        for instance, changesIt in todo:
            if not changesIt:
                changes.append(StateChange(instance.id, instance.state, instance.state))
                continue
            if instance.host is None and action is states.TERMINATE:
                # Never reached a host: nothing to clean up anywhere.
                updated = yield self.db.instances.transition(
                    instance.id,
                    action.allowed,
                    states.TERMINATED,
                    action=action.name,
                    terminated_at=utcnow(self.clock),
                )
            else:
                updated = yield self.db.instances.transition(
                    instance.id, action.allowed, action.to, action=action.name
                )
                try:
                    yield self._castCompute(context, updated, method)
                except exception.RPCError:
                    # The host was never told: put the instance back as it
                    # was, so that the request can simply be made again.
                    try:
                        yield self.db.instances.transition(
                            instance.id, {action.to}, instance.state
                        )
                    except states.IncorrectInstanceState:
                        pass
                    raise
            changes.append(StateChange(instance.id, instance.state, updated.state))
        return changes

    def terminateInstances(self, context, instanceIds):
        """
        Terminate instances: each goes to C{shutting-down} (or straight to
        C{terminated} if it never reached a host); terminating a
        terminated instance changes nothing.

        @param instanceIds: numeric or EC2 ids.
        @return: L{Deferred} firing with a L{list} of L{StateChange};
            failing with L{OperationNotPermitted} if termination
            protection covers any instance (then none is terminated).
        """
        return self._apply(
            context, instanceIds, states.TERMINATE, "terminateInstance", _checkTerminable
        )

    def stopInstances(self, context, instanceIds):
        """
        Stop running instances (C{running} -> C{stopping} -> C{stopped}).

        @return: L{Deferred} firing with a L{list} of L{StateChange};
            failing with L{nova.compute.errors.IncorrectInstanceState} if
            any instance cannot be stopped (then none is).
        """
        return self._apply(context, instanceIds, states.STOP, "stopInstance")

    def startInstances(self, context, instanceIds):
        """
        Start stopped instances (C{stopped} -> C{pending} -> C{running}).

        @return: L{Deferred} firing with a L{list} of L{StateChange};
            failing with L{nova.compute.errors.IncorrectInstanceState}.
        """
        return self._apply(context, instanceIds, states.START, "startInstance")

    @inlineCallbacks
    def rebootInstances(self, context, instanceIds):
        """
        Reboot running instances.

        @return: L{Deferred} firing with C{None}; failing with
            L{nova.compute.errors.IncorrectInstanceState}.
        """
        yield self._apply(context, instanceIds, states.REBOOT, "rebootInstance")
        return None

    # -- pause, unpause, suspend, resume ---------------------------------

    @inlineCallbacks
    def _applyOne(self, context, instanceId, action, method):
        [change] = yield self._apply(context, [instanceId], action, method)
        return change

    def pauseInstance(self, context, instanceId):
        """
        Freeze a running instance's guest in memory (C{running} ->
        C{pausing} -> C{paused}); pausing a paused instance changes
        nothing.

        @param instanceId: a numeric or EC2 id.
        @return: L{Deferred} firing with a L{StateChange}; failing with
            L{InstanceNotFound} or
            L{nova.compute.errors.IncorrectInstanceState}.
        """
        return self._applyOne(context, instanceId, states.PAUSE, "pauseInstance")

    def unpauseInstance(self, context, instanceId):
        """
        Let a paused instance run again (C{paused} -> C{unpausing} ->
        C{running}).

        @return: L{Deferred} firing with a L{StateChange}.
        """
        return self._applyOne(context, instanceId, states.UNPAUSE, "unpauseInstance")

    def suspendInstance(self, context, instanceId):
        """
        Save a running instance's guest to disk on its host and stop it
        (C{running} -> C{suspending} -> C{suspended}).

        @return: L{Deferred} firing with a L{StateChange}.
        """
        return self._applyOne(context, instanceId, states.SUSPEND, "suspendInstance")

    def resumeInstance(self, context, instanceId):
        """
        Restore a suspended instance from its saved memory (C{suspended} ->
        C{resuming} -> C{running}).

        @return: L{Deferred} firing with a L{StateChange}.
        """
        return self._applyOne(context, instanceId, states.RESUME, "resumeInstance")

    # -- resize, rebuild, rescue ----------------------------------------

    @inlineCallbacks
    def _request(self, context, instance, action, method, **fields):
        """
        Move one instance the context may change to the action's state
        (with C{fields}) and cast C{method} to its host; if the cast fails
        the instance goes back as it was and the request fails with the
        L{nova.exception.RPCError}.

        @return: L{Deferred} firing with a L{StateChange}.
        """
        _checkUnlocked(context, instance)
        if not action.check(instance):
            return StateChange(instance.id, instance.state, instance.state)
        if instance.host is None:
            raise states.IncorrectInstanceState(
                f"The instance '{instance.ec2Id}' has no host; it cannot be "
                f"{action.participle}."
            )
        updated = yield self.db.instances.transition(
            instance.id, action.allowed, action.to, action=action.name, **fields
        )
        try:
            yield self._castCompute(context, updated, method)
        except exception.RPCError:
            restore = {name: getattr(instance, name) for name in fields}
            try:
                yield self.db.instances.transition(
                    instance.id, {action.to}, instance.state, **restore
                )
            except states.IncorrectInstanceState:
                pass
            raise
        return StateChange(instance.id, instance.state, updated.state)

    @staticmethod
    def _typeFields(itype):
        return {
            "instance_type": itype.name,
            "vcpus": itype.vcpus,
            "memory_mb": itype.memory_mb,
            "local_gb": itype.local_gb,
        }

    @inlineCallbacks
    def resizeInstance(self, context, instanceId, instanceTypeName):
        """
        Give a running instance another instance type (C{running} ->
        C{resizing} -> C{resized}): its host gives the guest the type's
        vCPUs and memory and keeps the old guest until
        L{confirmResize} or L{revertResize}.  Meanwhile the instance counts
        against the project's quotas with the larger of the two types'
        vCPUs, memory and disk.

        @param instanceId: a numeric or EC2 id.
        @param instanceTypeName: the new type's name (C{m1.small}).
        @return: L{Deferred} firing with a L{StateChange}; failing with
            L{InstanceNotFound}, L{InstanceLocked},
            L{nova.compute.errors.InstanceTypeNotFound},
            L{InvalidParameterValue} (the type it has already),
            L{InstanceLimitExceeded} or
            L{nova.compute.errors.IncorrectInstanceState}.
        """
        if not isinstance(instanceTypeName, str) or not instanceTypeName:
            raise InvalidParameterValue(f"Invalid value '{instanceTypeName}' for InstanceType.")
        instance = yield self.getInstance(context, instanceId)
        _checkUnlocked(context, instance)
        states.RESIZE.check(instance)
        yield self.blockDevices.refuseEbs(instance, "resized")
        itype = yield getInstanceType(self.db, self.config, instanceTypeName)
        if itype.name == instance.instance_type:
            raise InvalidParameterValue(
                f"The instance '{instance.ec2Id}' is a {itype.name} already."
            )
        yield self._checkResize(instance, itype)
        change = yield self._request(
            context,
            instance,
            states.RESIZE,
            "resizeInstance",
            instance_type=itype.name,
            old_instance_type=instance.instance_type,
            vcpus=max(itype.vcpus, instance.vcpus),
            memory_mb=max(itype.memory_mb, instance.memory_mb),
            local_gb=max(itype.local_gb, instance.local_gb),
        )
        return change

    @inlineCallbacks
    def _resized(self, context, instanceId):
        instance = yield self.getInstance(context, instanceId)
        if instance.state != states.RESIZED or not instance.old_instance_type:
            raise states.IncorrectInstanceState(
                f"The instance '{instance.ec2Id}' is {instance.state}; no resize of it "
                f"awaits confirmation."
            )
        return instance

    @inlineCallbacks
    def confirmResize(self, context, instanceId):
        """
        Keep a resized instance's new type (C{resized} -> C{running}): its
        host drops the old guest, and it counts against the quotas with
        its new type alone.

        @return: L{Deferred} firing with a L{StateChange}; failing with
            L{InstanceNotFound}, L{InstanceLocked} or
            L{nova.compute.errors.IncorrectInstanceState} when no resize
            awaits confirmation.
        """
        instance = yield self._resized(context, instanceId)
        itype = yield getInstanceType(self.db, self.config, instance.instance_type)
        change = yield self._request(
            context,
            instance,
            states.CONFIRM_RESIZE,
            "confirmResize",
            old_instance_type=None,
            **self._typeFields(itype),
        )
        return change

    @inlineCallbacks
    def revertResize(self, context, instanceId):
        """
        Go back to a resized instance's old type and guest (C{resized} ->
        C{reverting} -> C{running}).

        @return: L{Deferred} firing with a L{StateChange}; failing as
            L{confirmResize}.
        """
        instance = yield self._resized(context, instanceId)
        itype = yield getInstanceType(self.db, self.config, instance.old_instance_type)
        change = yield self._request(
            context,
            instance,
            states.REVERT_RESIZE,
            "revertResize",
            old_instance_type=None,
            **self._typeFields(itype),
        )
        return change

    @inlineCallbacks
    def rebuildInstance(self, context, instanceId, imageId):
        """
        Give a running or stopped instance a new root disk made from a
        machine image (C{rebuilding} -> C{running}), keeping its id, its
        addresses and its type; it boots the image's kernel and ramdisk if
        the image names them, else its own.

        @param imageId: a machine image (C{ami-...}) the context may see,
            available.
        @return: L{Deferred} firing with a L{StateChange}; failing with
            L{InstanceNotFound}, L{InstanceLocked}, an image error
            (L{nova.db.images.ImageNotFound}),
            L{InvalidParameterValue} (not an available machine image) or
            L{nova.compute.errors.IncorrectInstanceState}.
        """
        if not isinstance(imageId, str) or not imageId:
            raise InvalidParameterValue(f"Invalid value '{imageId}' for ImageId.")
        instance = yield self.getInstance(context, instanceId)
        _checkUnlocked(context, instance)
        states.REBUILD.check(instance)
        yield self.blockDevices.refuseEbs(instance, "rebuilt")
        image = yield self.images.getImage(context, imageId)
        if image.image_type != MACHINE_IMAGE or image.state != IMAGE_AVAILABLE:
            raise InvalidParameterValue(
                f"The image '{imageId}' is not an available machine image."
            )
        if (yield self.blockDevices.imageMappings([image.ec2_id])):
            raise InvalidParameterValue(
                f"The image '{imageId}' is EBS-backed: an instance is not rebuilt from it."
            )
        change = yield self._request(
            context,
            instance,
            states.REBUILD,
            "rebuildInstance",
            image_id=image.ec2_id,
            kernel_id=image.kernel_id or instance.kernel_id,
            ramdisk_id=image.ramdisk_id or instance.ramdisk_id,
        )
        return change

    @inlineCallbacks
    def rescueInstance(self, context, instanceId):
        """
        Boot a running instance's host's rescue image in its place, with
        its root disk attached second (C{running} -> C{rescuing} ->
        C{rescued}); rescuing a rescued instance changes nothing.  The
        rescue image is C{--rescue_image_id}, by default the instance's
        own image.

        @return: L{Deferred} firing with a L{StateChange}; failing with
            L{InstanceNotFound}, L{InstanceLocked} or
            L{nova.compute.errors.IncorrectInstanceState}.
        """
        instance = yield self.getInstance(context, instanceId)
        yield self.blockDevices.refuseEbs(instance, "rescued")
        change = yield self._request(context, instance, states.RESCUE, "rescueInstance")
        return change

    @inlineCallbacks
    def unrescueInstance(self, context, instanceId):
        """
        Boot a rescued instance from its own disk again (C{rescued} ->
        C{unrescuing} -> C{running}).

        @return: L{Deferred} firing with a L{StateChange}; failing as
            L{rescueInstance}.
        """
        instance = yield self.getInstance(context, instanceId)
        change = yield self._request(context, instance, states.UNRESCUE, "unrescueInstance")
        return change

    # -- attributes ------------------------------------------------------

    @inlineCallbacks
    def modifyInstance(self, context, instanceId, **changes):
        """
        Change attributes of an instance, all or none.

        While the instance is C{stopped} only:

          - C{instanceType}: a type's name; C{vcpus}, C{memory_mb} and
            C{local_gb} follow, within the project's C{cores} and C{ram}
            quotas;
          - C{userData}: the user data as kept (base64 text in EC2), or
            L{None} for none;
          - C{kernelId}, C{ramdiskId}: image ids, or L{None} for none
            (the caller checks the images).

        In any state but C{shutting-down} and C{terminated}:

          - C{disableApiTermination}: a L{bool};
          - C{shutdownBehavior}: C{stop} or C{terminate};
          - C{securityGroups}: the names of the instance's groups (at
            least one); the memberships the firewall follows are the
            security group API's to change.

        @param instanceId: a numeric or EC2 id.
        @return: L{Deferred} firing with the updated L{InstanceRecord};
            failing with L{InstanceNotFound},
            L{nova.compute.errors.IncorrectInstanceState},
            L{nova.compute.errors.InstanceTypeNotFound},
            L{InstanceLimitExceeded} or L{InvalidParameterValue}.
        """
        unknown = set(changes) - _CHANGED_WHEN_STOPPED - _CHANGED_ANY_TIME
        if unknown:
            raise InvalidParameterValue(f"cannot modify {', '.join(sorted(unknown))}")
        if not changes:
            raise InvalidParameterValue("no attribute to modify")
        instance = yield self.getInstance(context, instanceId)
        _checkUnlocked(context, instance)
        if set(changes) & _CHANGED_WHEN_STOPPED:
            allowed = {states.STOPPED}
            if instance.state != states.STOPPED:
                raise states.IncorrectInstanceState(
                    f"The instance '{instance.ec2Id}' is not in the 'stopped' state."
                )
        else:
            allowed = states.LIVE - {states.SHUTTING_DOWN}
            if instance.state not in allowed:
                raise states.IncorrectInstanceState(
                    f"The instance '{instance.ec2Id}' is {instance.state}; its "
                    f"attributes cannot be modified."
                )
        fields = {}
        if "instanceType" in changes:
            name = changes["instanceType"]
            if not isinstance(name, str) or not name:
                raise InvalidParameterValue(f"Invalid value '{name}' for InstanceType.")
            itype = yield getInstanceType(self.db, self.config, name)
            yield self._checkResize(instance, itype)
            fields.update(
                instance_type=itype.name,
                vcpus=itype.vcpus,
                memory_mb=itype.memory_mb,
                local_gb=itype.local_gb,
            )
        for key, column in (
            ("userData", "user_data"),
            ("kernelId", "kernel_id"),
            ("ramdiskId", "ramdisk_id"),
        ):
            if key in changes:
                value = changes[key]
                if value is not None and not isinstance(value, str):
                    raise InvalidParameterValue(f"invalid {key} {value!r}")
                fields[column] = value or None
        if "disableApiTermination" in changes:
            value = changes["disableApiTermination"]
            if not isinstance(value, bool):
                raise InvalidParameterValue("disableApiTermination must be true or false")
            fields["disable_api_termination"] = value
        if "shutdownBehavior" in changes:
            behavior = changes["shutdownBehavior"]
            if behavior is None:
                raise InvalidParameterValue("instanceInitiatedShutdownBehavior needs a value")
            fields["shutdown_behavior"] = _checkShutdownBehavior(behavior)
        if "securityGroups" in changes:
            names = tuple(dict.fromkeys(changes["securityGroups"] or ()))
            if not names:
                raise InvalidParameterValue("an instance needs at least one security group")
            _checkGroupNames(names)
            fields["security_groups"] = ",".join(names)
        updated = yield self.db.instances.modify(
            instance.id, allowed, action="modify its attributes", **fields
        )
        return updated

    def lockInstance(self, context, instanceId):
        """
        Lock an instance (administrators only): until it is unlocked, only
        administrators may change it.  Locking a locked instance changes
        nothing.

        @param instanceId: a numeric or EC2 id.
        @return: L{Deferred} firing with the updated L{InstanceRecord};
            failing with L{nova.exception.NotAuthorized} for anyone else,
            L{InstanceNotFound}, or
            L{nova.compute.errors.IncorrectInstanceState} for a
            terminated instance.
        """
        return self._setLocked(context, instanceId, True)

    def unlockInstance(self, context, instanceId):
        """
        Unlock an instance (administrators only).

        @return: L{Deferred} firing with the updated L{InstanceRecord}, as
            L{lockInstance}.
        """
        return self._setLocked(context, instanceId, False)

    @inlineCallbacks
    def _setLocked(self, context, instanceId, locked):
        what = "lock" if locked else "unlock"
        if not context.isAdmin:
            raise exception.NotAuthorized(f"Only administrators may {what} instances.")
        instance = yield self.getInstance(context, instanceId)
        updated = yield self.db.instances.modify(
            instance.id, states.LIVE, action=f"{what} it", locked=locked
        )
        return updated

    @inlineCallbacks
    def _checkResize(self, instance, itype):
        """
        Check that the project's quotas allow the instance to become of
        type C{itype} (only growth is checked).

        @return: L{Deferred} firing with C{None}; failing with
            L{InstanceLimitExceeded}.
        """
        limits = yield maybeDeferred(self.quotas.getQuota, instance.project_id)
        usage = yield self.db.instances.usageByProject(instance.project_id)
        exceeded = []
        for resource, perInstance in _QUOTA_RESOURCES:
            limit = limits.get(resource)
            if limit is None or limit < 0:
                continue
            growth = perInstance(itype) - perInstance(instance)
            if growth > 0 and usage[resource] + growth > limit:
                exceeded.append(resource)
        if exceeded:
            raise InstanceLimitExceeded(
                f"Instance quota exceeded ({', '.join(exceeded)}): the instance "
                f"'{instance.ec2Id}' cannot become a {itype.name}"
            )

    # -- images ----------------------------------------------------------

    @inlineCallbacks
    def createImage(self, context, instanceId, name, description=None, noReboot=False, tags=()):
        """
        Make a machine image of the context's project from an instance's
        root disk (EC2's CreateImage for an instance-store instance): the
        image is reserved at once (C{pending}), with the kernel and ramdisk
        the instance boots (else its image's) and its image's architecture
        and root device name, and the instance's host copies the disk into
        the object store; the image becomes C{available} once
        nova-objectstore has it, or C{failed} with the reason.  The
        instance keeps its state.  By default a running or paused guest
        is cleanly stopped for the copy (its memory saved to disk, so the
        disk is quiescent) and restored after it; with C{noReboot} the
        disk is copied while the guest runs on, as EC2 warns, without a
        guarantee that the file systems on it are consistent.

        @param instanceId: a numeric or EC2 id.
        @param name: the image's name: 3 to 128 letters, digits, spaces
            and C{( ) [ ] . / - ' @ _}.
        @param description: at most 255 characters, or C{None}.
        @return: L{Deferred} firing with the new image's id (C{ami-...});
            failing with L{InvalidParameterValue}, L{InstanceNotFound},
            L{InstanceLocked}, L{nova.compute.errors.IncorrectInstanceState}
            (an instance that is not running, stopped, paused or
            suspended, or has no host), an image error (a kernel the
            project may not see), or L{nova.exception.RPCError} (then the
            image is failed).
        """
        if not isinstance(name, str) or not _IMAGE_NAME.match(name):
            raise InvalidParameterValue(
                f"Invalid value '{name}' for name: 3 to 128 letters, digits, spaces and "
                f"( ) [ ] . / - ' @ _ are allowed."
            )
        if description is not None and (not isinstance(description, str) or len(description) > 255):
            raise InvalidParameterValue("The description is text of up to 255 characters.")
        if not isinstance(noReboot, bool):
            raise InvalidParameterValue("NoReboot must be true or false.")
        if context.projectId is None:
            raise exception.NotAuthorized("CreateImage needs a project")
        instance = yield self.getInstance(context, instanceId)
        _checkUnlocked(context, instance)
        if instance.state not in _IMAGEABLE or instance.host is None:
            raise states.IncorrectInstanceState(
                f"The instance '{instance.ec2Id}' is {instance.state}; an image can be made "
                f"only of a running, stopped, paused or suspended instance."
            )
        sources = yield self.imagesOfInstances(context, [instance])
        source = sources.get(instance.image_id)
        record = yield self.images.reserveImage(
            context,
            snapshotLocation(context.projectId),
            name=name,
            description=description,
            architecture=source.architecture if source is not None else None,
            kernelId=instance.kernel_id or (source.kernel_id if source is not None else None),
            ramdiskId=instance.ramdisk_id or (source.ramdisk_id if source is not None else None),
            rootDeviceName=source.root_device_name if source is not None else None,
            tags=tags,
        )
        try:
            yield self.rpc.cast(
                context,
                f"compute.{instance.host}",
                "snapshotInstance",
                # Sent only when set: hosts that predate it still answer.
                {"instanceId": instance.id, "imageId": record.ec2_id}
                | ({"noReboot": True} if noReboot else {}),
            )
        except exception.RPCError as e:
            yield self.images.failImage(
                context, record.ec2_id, f"could not reach the instance's host: {e}"
            )
            raise
        self.log.info(
            "Imaging {instanceId} into {imageId} for project {project}",
            instanceId=instance.ec2Id,
            imageId=record.ec2_id,
            project=context.projectId,
        )
        return record.ec2_id

    # -- console and volumes ---------------------------------------------

    @inlineCallbacks
    def getConsoleOutput(self, context, instanceId):
        """
        @return: L{Deferred} firing with a L{dict}: C{instanceId} (the EC2
            id), C{timestamp} (ISO 8601) and C{output} (text; empty for an
            instance that never reached a host).
        """
        instance = yield self.getInstance(context, instanceId)
        if instance.host is None:
            result = {
                "output": "",
                "timestamp": utcnow(self.clock).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            }
        else:
            result = yield self.rpc.call(
                context,
                f"compute.{instance.host}",
                "getConsoleOutput",
                {"instanceId": instance.id},
            )
        return {"instanceId": instance.ec2Id, **result}

    @inlineCallbacks
    def getVncConsole(self, context, instanceId):
        """
        Open a running instance's VNC console for a while: ask its compute
        host where its guest's VNC server listens, and issue a token,
        bound to the instance, that lets nova-api's websocket proxy
        (L{nova.console.proxy}) connect a browser to it until the token
        expires (C{--vnc_token_ttl}).

        @param instanceId: a numeric or EC2 id.
        @return: L{Deferred} firing with a L{dict}: C{instanceId} (the EC2
            id), C{type} (C{novnc}), C{url} (the proxy's websocket URL
            with the token as C{?token=}, for noVNC), C{token},
            C{password} (the VNC password noVNC must give, or L{None}) and
            C{expires} (ISO 8601, UTC); failing with L{InstanceNotFound},
            L{nova.compute.errors.IncorrectInstanceState} for an instance
            that is not running, or
            L{nova.virt.errors.ConsoleUnavailable} when its hypervisor
            serves no VNC console.
        """
        instance = yield self.getInstance(context, instanceId)
        if instance.state != states.RUNNING or instance.host is None:
            raise states.IncorrectInstanceState(
                f"The instance '{instance.ec2Id}' is {instance.state}, not running: "
                f"it has no console"
            )
        console = yield self.rpc.call(
            context,
            f"compute.{instance.host}",
            "getVncConsole",
            {"instanceId": instance.id},
        )
        issued = yield self.consoleTokens.create(
            instance.id,
            instance.project_id,
            console["host"],
            console["port"],
            self.config.vnc_token_ttl,
        )
        return {
            "instanceId": instance.ec2Id,
            "type": "novnc",
            "url": vncProxyURL(self.config, issued.token),
            "token": issued.token,
            "password": console.get("password"),
            "expires": issued.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    @inlineCallbacks
    def getDiagnostics(self, context, instanceId):
        """
        The counters of an instance's guest, from its host (administrators
        only).

        @param instanceId: a numeric or EC2 id.
        @return: L{Deferred} firing with a L{dict}: C{instanceId} (the EC2
            id) and what L{nova.virt.interfaces.IVirtDriver.getDiagnostics}
            gives (C{state}, C{cpu_time}, C{vcpus}, C{memory_mb},
            C{memory}, C{disks}, C{interfaces}); failing with
            L{nova.exception.NotAuthorized} for anyone else,
            L{InstanceNotFound}, or
            L{nova.compute.errors.IncorrectInstanceState} for an instance
            that has no guest (never placed on a host, or terminated).
        """
        if not context.isAdmin:
            raise exception.NotAuthorized("Only administrators may see an instance's diagnostics.")
        instance = yield self.getInstance(context, instanceId)
        if instance.host is None or instance.state in (states.SHUTTING_DOWN, states.TERMINATED):
            raise states.IncorrectInstanceState(
                f"The instance '{instance.ec2Id}' is {instance.state}; it has no guest "
                f"to diagnose."
            )
        result = yield self.rpc.call(
            context,
            f"compute.{instance.host}",
            "getDiagnostics",
            {"instanceId": instance.id},
        )
        return {"instanceId": instance.ec2Id, **result}

    @inlineCallbacks
    def attachVolume(self, context, instanceId, connection, mountpoint):
        """
        Attach a volume to a running instance as C{mountpoint}.

        @param connection: how the instance's host reaches the volume: a
            L{nova.virt.interfaces.VolumeConnection}, its JSON form, or a
            path on that host (or an C{iscsi://} URL).
        @return: L{Deferred} firing with C{None}; failing with
            L{nova.virt.errors.VirtError} for a bad connection.
        """
        connection = VolumeConnection.coerce(connection)
        instance = yield self._runningOnHost(context, instanceId)
        yield self.rpc.call(
            context,
            f"compute.{instance.host}",
            "attachVolume",
            {"instanceId": instance.id, "mountpoint": mountpoint,
             "connection": connection.toDict()},
        )
        return None

    @inlineCallbacks
    def detachVolume(self, context, instanceId, mountpoint):
        """
        Detach what a running instance has at C{mountpoint}.

        @return: L{Deferred} firing with C{None}.
        """
        instance = yield self._runningOnHost(context, instanceId)
        yield self.rpc.call(
            context,
            f"compute.{instance.host}",
            "detachVolume",
            {"instanceId": instance.id, "mountpoint": mountpoint},
        )
        return None

    @inlineCallbacks
    def _runningOnHost(self, context, instanceId):
        instance = yield self.getInstance(context, instanceId)
        _checkUnlocked(context, instance)
        if instance.state != states.RUNNING or instance.host is None:
            raise states.IncorrectInstanceState(
                f"The instance '{instance.ec2Id}' is {instance.state}, not running"
            )
        return instance

    # -- names (the OpenStack API) ---------------------------------------

    @inlineCallbacks
    def updateInstance(self, context, instanceId, displayName=None, displayDescription=None):
        """
        Change an instance's display name and description (Nova's EC2
        C{UpdateInstance}), in any state but C{terminated}; L{None} leaves
        one as it is.

        @param displayName: text of at most 255 characters, or L{None}.
        @param displayDescription: text of at most 255 characters, or
            L{None}.
        @return: L{Deferred} firing with the updated L{InstanceRecord};
            failing with L{InstanceNotFound}, L{InstanceLocked},
            L{InvalidParameterValue} or
            L{nova.compute.errors.IncorrectInstanceState}.
        """
        fields = {}
        for name, value, column in (
            ("DisplayName", displayName, "display_name"),
            ("DisplayDescription", displayDescription, "display_description"),
        ):
            if value is None:
                continue
            if not isinstance(value, str) or len(value) > 255:
                raise InvalidParameterValue(f"{name} is text of at most 255 characters.")
            fields[column] = value
        instance = yield self.getInstance(context, instanceId)
        _checkUnlocked(context, instance)
        if not fields:
            return instance
        updated = yield self.db.instances.modify(
            instance.id, states.LIVE, action="update it", **fields
        )
        return updated

    @inlineCallbacks
    def renameInstance(self, context, instanceId, displayName):
        """
        Change an instance's display name (the OpenStack API's server
        name), in any state but C{terminated}.

        @param instanceId: a numeric or EC2 id.
        @param displayName: text of at most 255 characters.
        @return: L{Deferred} firing with the updated L{InstanceRecord};
            failing with L{InstanceNotFound}, L{InstanceLocked},
            L{InvalidParameterValue} or
            L{nova.compute.errors.IncorrectInstanceState}.
        """
        if not isinstance(displayName, str) or len(displayName) > 255:
            raise InvalidParameterValue("a name is text of at most 255 characters")
        instance = yield self.getInstance(context, instanceId)
        _checkUnlocked(context, instance)
        updated = yield self.db.instances.modify(
            instance.id, states.LIVE, action="rename it", display_name=displayName
        )
        return updated
