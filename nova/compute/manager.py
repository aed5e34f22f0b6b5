# -*- test-case-name: tests.compute.test_manager -*-
"""
The compute manager: runs, reboots, stops, starts, pauses, suspends and
terminates the instances of this host through an L{IVirtDriver}, and keeps
their rows in the database true to what the hypervisor says.

Requests for one instance run one at a time, in order of arrival.  The
API has already moved the instance into the state of the request
(C{rebooting}, C{stopping}, C{pending}, C{pausing}, C{unpausing},
C{suspending}, C{resuming}, C{shutting-down}); the manager does
the work and moves it on (or to C{error}, with the reason in
C{state_description}).  A request the instance's state does not allow
fails with L{IncorrectInstanceState}.  A start first makes the guest match
the instance's type, kernel and ramdisk, which may have changed while it
was stopped (L{nova.virt.interfaces.IVirtDriver.updateGuest}).

The periodic power-state sync moves a running instance whose guest shut
itself down to C{stopped}, or, when the instance's shutdown behavior
(C{instanceInitiatedShutdownBehavior}) is C{terminate}, terminates it
(its termination protection does not apply, as in EC2).  At start-up such
guests are only marked stopped: a host that restarted leaves every guest
off.

Resizes, reverts, rebuilds, rescues and unrescues
(L{ComputeManager.resizeInstance} ...) find the instance in the
intermediate state the API moved it to (C{resizing}, C{reverting},
C{rebuilding}, C{rescuing}, C{unrescuing}), have the driver change the
guest and settle it (C{resized}, C{running}, C{rescued}); one that fails
goes to C{error}, and one nova-compute was doing when it stopped goes to
C{error} at its next start (the guest may be half changed).  A confirmed
resize only has the driver drop the old guest it kept.

A snapshot (L{ComputeManager.snapshotInstance}) copies an instance's root
disk through the driver into the object store with an
L{nova.compute.snapshots.IImageUploader}, then has nova-objectstore make it
the data of the machine image the compute API reserved; the image fails,
with the reason, if any step does.  The instance keeps its state.

Each instance's security groups are enforced by an L{IFirewallDriver}
(C{--firewall_driver}): its filter is applied before its guest is spawned,
applied again to every live instance when nova-compute starts, removed
when its guest is destroyed, and rebuilt when the network API's fanout
C{refreshSecurityGroup(securityGroupId)} says a group's rules or members
changed.
"""

from collections import OrderedDict

import attr

from twisted.internet.defer import DeferredLock, fail, gatherResults, inlineCallbacks
from twisted.logger import Logger

from nova import exception
from nova.compute import states
from nova.compute.blockdevices import BlockDeviceHost
from nova.compute.firewall import IFirewallDriver, buildInstanceFilter, buildInstanceFilters
from nova.compute.flags import FIREWALL_DRIVERS, VIRT_DRIVERS
from nova.compute.instance_types import getInstanceType
from nova.compute.names import InstanceNamer
from nova.compute.network import NetworkRPCClient
from nova.context import adminContext
from nova.db.instances import (
    TERMINATE_ON_SHUTDOWN,
    IncorrectInstanceState,
    InstanceNotFound,
)
from nova.db.services import utcnow
from nova.drivers import loadDriver
from nova.image.api import ImageAPI
from nova.manager import Manager, expose
from nova.network.api import setupComputeNetwork
from nova.network.flags import NETWORK_DRIVERS
from nova.network.interfaces import INetworkDriver
from nova.network.security_groups import SecurityGroupAPI
from nova.quota import QuotaEngine
from nova.util.outage import outageOf
from nova.util.refresh import RefreshQueue
from nova.virt import power
from nova.virt.errors import GuestNotFound, VirtError
from nova.virt.interfaces import InstanceSpec, IVirtDriver, VolumeConnection
from nova.volume.api import VolumeAPI


def _isoTime(when):
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


#: The state an instance settles in for each power state of its guest
#: (C{None}: none, the instance goes to C{error}).
_SETTLED = {
    power.RUNNING: states.RUNNING,
    power.BLOCKED: states.RUNNING,
    power.SHUTDOWN: states.STOPPED,
    power.SHUTOFF: states.STOPPED,
    power.PAUSED: states.PAUSED,
    power.SUSPENDED: states.SUSPENDED,
}

#: The states the periodic sync moves when the guest's power state says
#: so, and those it also settles at start-up (a request was under way).
_SYNCED = frozenset({states.RUNNING, states.STOPPED, states.PAUSED, states.SUSPENDED})
_SETTLED_AT_RESTART = frozenset(
    {
        states.REBOOTING,
        states.STOPPING,
        states.PENDING,
        states.PAUSING,
        states.UNPAUSING,
        states.SUSPENDING,
        states.RESUMING,
    }
)

#: Requests nova-compute cannot settle at start-up from the power state
#: alone (the guest may be half-changed): the instance goes to C{error}.
_FAILED_AT_RESTART = {
    states.RESIZING: "resize",
    states.REVERTING: "revert of a resize",
    states.REBUILDING: "rebuild",
    states.RESCUING: "rescue",
    states.UNRESCUING: "unrescue",
}


class ComputeManager(Manager):
    """
    Runs instances on this host through a virt driver.

    @ivar driver: the L{IVirtDriver}.
    @ivar network: the L{nova.compute.network.INetworkClient}.
    @ivar namer: the L{InstanceNamer} of C{--instance_name_template}.
    @ivar firewall: the L{IFirewallDriver}.
    @ivar consoleLogs: the last console output of instances terminated
        here, by instance id (at most C{--console_log_cache} of them).
    """

    log = Logger()

    def __init__(
        self,
        config,
        db,
        rpc,
        clock,
        driver=None,
        network=None,
        firewall=None,
        networkDriver=None,
        imageUploader=None,
        images=None,
        volumes=None,
    ):
        """
        @param driver: an L{IVirtDriver}; by default the one
            C{--connection_type} names.
        @param networkDriver: the L{nova.network.interfaces.INetworkDriver}
            that makes the bridge (and VLAN or VXLAN interface) an instance
            joins on this host; by default the one C{--network_driver}
            names.
        @param network: an L{nova.compute.network.INetworkClient}; by
            default L{NetworkRPCClient} over C{rpc}.
        @param firewall: an L{IFirewallDriver}; by default the one
            C{--firewall_driver} names.
        @param imageUploader: the L{nova.compute.snapshots.IImageUploader}
            snapshots are stored with, or C{None}: this host then fails
            every snapshot.
        @param images: the image service snapshots are completed with; by
            default an L{ImageAPI} over C{rpc}.
        @param volumes: the volume service that records the volumes of a
            terminated instance as detached (its
            C{detachAllFromInstance(context, instanceId)}); by default a
            L{nova.volume.api.VolumeAPI}.
        @raise nova.config.ConfigError: for an unknown driver or a bad
            C{--instance_name_template}.
        """
        Manager.__init__(self, config, db, rpc, clock)
        if driver is None:
            driver = loadDriver(IVirtDriver, VIRT_DRIVERS, config.connection_type, config)
        self.driver = driver
        self.network = network if network is not None else NetworkRPCClient(rpc)
        if firewall is None:
            firewall = loadDriver(
                IFirewallDriver, FIREWALL_DRIVERS, config.firewall_driver, config, reactor=clock
            )
        self.firewall = firewall
        if networkDriver is None:
            networkDriver = loadDriver(
                INetworkDriver, NETWORK_DRIVERS, config.network_driver, config
            )
        self.networkDriver = networkDriver
        self.namer = InstanceNamer(config.instance_name_template)
        self.imageUploader = imageUploader
        self.images = images if images is not None else ImageAPI(db, rpc)
        if volumes is None:
            # Volumes made for instances count against the project's quotas.
            volumes = VolumeAPI(config, db, rpc, clock, QuotaEngine.fromConfig(config, db))
        self.volumes = volumes
        self.blockDeviceHost = BlockDeviceHost(db, self.volumes, clock)
        self.consoleLogs = OrderedDict()
        self._locks = {}
        self._refresh = RefreshQueue(self._refreshGroups)
        # The instances whose filters were removed while a refresh ran: it
        # must not put them back.
        self._removedDuringRefresh = None

    # -- helpers ---------------------------------------------------------

    def instanceName(self, instance):
        """
        @param instance: an L{nova.db.records.InstanceRecord}.
        @return: the name of its guest on the hypervisor.
        """
        return self.namer.name(instance.id)

    def _locked(self, instanceId, fn, *args):
        """
        Run C{fn(*args)} once no other request for the instance runs.
        """
        lock = self._locks.get(instanceId)
        if lock is None:
            lock = self._locks[instanceId] = DeferredLock()
        d = lock.run(fn, *args)

        def forget(result):
            if not lock.locked and not lock.waiting:
                self._locks.pop(instanceId, None)
            return result

        return d.addBoth(forget)

    def _now(self):
        return utcnow(self.clock)

    def _keepConsole(self, instanceId, text):
        limit = self.config.console_log_cache
        if limit <= 0:
            return
        self.consoleLogs[instanceId] = text
        self.consoleLogs.move_to_end(instanceId)
        while len(self.consoleLogs) > limit:
            self.consoleLogs.popitem(last=False)

    @inlineCallbacks
    def _settle(self, instanceId, fromState, toState, **fields):
        """
        Move the instance out of C{fromState}; if something else moved it
        meanwhile (a termination), leave it.

        @return: L{Deferred} firing with the record, or C{None} if it was
            left alone.
        """
        try:
            record = yield self.db.instances.transition(
                instanceId, {fromState}, toState, **fields
            )
        except (IncorrectInstanceState, InstanceNotFound):
            return None
        return record

    def _fail(self, instanceId, fromState, reason, **fields):
        self.log.warn(
            "instance i-{id:08x} failed: {reason}", id=instanceId, reason=reason
        )
        return self._settle(
            instanceId,
            fromState,
            states.ERROR,
            state_description=reason[:255],
            **fields,
        )

    @inlineCallbacks
    def _powerState(self, name):
        try:
            info = yield self.driver.getInfo(name)
        except GuestNotFound:
            return power.NOSTATE
        return info["state"]

    # -- run -------------------------------------------------------------

    @expose
    def runInstance(self, context, instanceId):
        """
        Spawn a pending instance on this host: get it a fixed address from
        the network service, boot its guest, and mark it running.

        @return: L{Deferred} firing with C{None}; failing with the reason
            the instance went to C{error}.
        """
        return self._locked(instanceId, self._runInstance, context, instanceId)

    @inlineCallbacks
    def _runInstance(self, context, instanceId):
        instance = yield self.db.instances.get(instanceId)
        if instance.state != states.PENDING or instance.launched_at is not None:
            self.log.info(
                "not spawning i-{id:08x}: it is {state}", id=instanceId, state=instance.state
            )
            return None
        if instance.host != self.host:
            # Sent here directly, not by a scheduler (which records the
            # host it picked): claim it.
            instance = yield self._settle(
                instanceId, states.PENDING, states.PENDING, host=self.host
            )
            if instance is None:
                return None
        name = self.instanceName(instance)
        try:
            networkInfo = yield self.network.allocateForInstance(context, instance)
        except Exception as e:
            outage = outageOf(e)
            if outage is not None:
                # The network host's database or the broker is out: the
                # launch is not lost but postponed.  The instance stays
                # pending and never launched, and the sweep of stuck work
                # (nova.scheduler.sweeper) sends it to this host again.
                self.log.warn(
                    "i-{id:08x} waits: its network host's {outage} is out ({error})",
                    id=instanceId,
                    outage=outage,
                    error=e,
                )
                yield self._releaseNetwork(context, instanceId)
                return None
            yield self._fail(instanceId, states.PENDING, f"network allocation failed: {e}")
            # The address may have been allocated even if the answer was lost.
            yield self._releaseNetwork(context, instanceId)
            raise
        networkInfo = networkInfo or {}
        instance = yield self._settle(
            instanceId, states.PENDING, states.PENDING, fixed_ip=networkInfo.get("address")
        )
        if instance is None:
            yield self._releaseNetwork(context, instanceId)
            return None
        try:
            if networkInfo.get("bridge"):
                yield setupComputeNetwork(self.networkDriver, self.config, networkInfo)
            yield self._applyFilter(instance, networkInfo)
            blockDevices, ebsRoot = yield self.blockDeviceHost.prepare(context, instance)
            spec = InstanceSpec.fromRecord(name, instance)
            if ebsRoot:
                # The root volume is the guest's first disk: no local one.
                spec = attr.evolve(spec, imageId=None)
            yield self.driver.spawn(spec, networkInfo, blockDevices)
            powerState = yield self._powerState(name)
        except Exception as e:
            yield self._fail(instanceId, states.PENDING, f"spawn failed: {e}")
            yield self._removeFilter(instanceId)
            yield self._releaseNetwork(context, instanceId)
            raise
        running = yield self._settle(
            instanceId,
            states.PENDING,
            states.RUNNING,
            power_state=powerState,
            launched_at=self._now(),
            state_description=None,
        )
        if running is None:
            # Terminated while it booted: the termination either follows
            # (shutting-down) or already happened without a guest.
            current = yield self.db.instances.get(instanceId)
            if current.state == states.TERMINATED:
                yield self._destroyGuest(current)
                yield self._detachVolumes(context, instanceId)
                yield self._releaseNetwork(context, instanceId)
        return None

    @inlineCallbacks
    def _releaseNetwork(self, context, instanceId):
        try:
            instance = yield self.db.instances.get(instanceId)
            yield self.network.deallocateForInstance(context, instance)
        except Exception:
            self.log.failure("releasing the address of i-{id:08x} failed", id=instanceId)

    @inlineCallbacks
    def _detachVolumes(self, context, instanceId):
        """
        The instance's guest is gone, and its disks with it: record its
        volumes as detached (C{available}).  A failure is logged.
        """
        try:
            detached = yield self.volumes.detachAllFromInstance(context, instanceId)
        except Exception:
            self.log.failure("detaching the volumes of i-{id:08x} failed", id=instanceId)
            return
        for volume in detached:
            self.log.info(
                "{volume} detached from terminated i-{id:08x}", volume=volume.ec2Id, id=instanceId
            )

    @inlineCallbacks
    def _destroyGuest(self, instance):
        name = self.instanceName(instance)
        try:
            output = yield self.driver.getConsoleOutput(name)
        except GuestNotFound:
            output = None
        if output is not None:
            self._keepConsole(instance.id, output)
        try:
            yield self.driver.destroy(name)
        except GuestNotFound:
            pass
        yield self._removeFilter(instance.id)

    # -- security groups -------------------------------------------------

    @inlineCallbacks
    def _applyFilter(self, instance, networkInfo=None):
        """
        Put the instance's security groups in force (nothing if it has no
        fixed address).
        """
        instanceFilter = yield buildInstanceFilter(self.db, self.config, instance, networkInfo)
        if instanceFilter is not None:
            yield self.firewall.applyInstanceFilter(instanceFilter)

    @inlineCallbacks
    def _removeFilter(self, instanceId):
        if self._removedDuringRefresh is not None:
            self._removedDuringRefresh.add(instanceId)
        try:
            yield self.firewall.removeInstanceFilter(instanceId)
        except Exception:
            self.log.failure("removing the filter of i-{id:08x} failed", id=instanceId)

    @expose
    def refreshSecurityGroup(self, context, securityGroupId):
        """
        A security group's rules or members changed (the network API's
        fanout): rebuild the filters of this host's live instances in it.
        Requests that arrive while a refresh runs are served together by
        the next one.

        @return: L{Deferred} firing with the number of instances whose
            filter the refresh that served this request rebuilt.
        """
        return self._refresh.request(securityGroupId)

    @inlineCallbacks
    def _refreshGroups(self, groupIds):
        """
        Rebuild the filters of this host's live members of C{groupIds},
        with a few queries whatever their number.

        @return: L{Deferred} firing with the number of filters rebuilt.
        """
        self._removedDuringRefresh = removed = set()
        try:
            instances = yield self.db.securityGroups.liveMembersOnHost(sorted(groupIds), self.host)
            count = yield self._applyFilters(instances, removed)
        finally:
            self._removedDuringRefresh = None
        return count

    @inlineCallbacks
    def _applyFilters(self, instances, skip=frozenset()):
        """
        Build and apply the filters of C{instances}, except those in
        C{skip}; a failure is logged for its instance and does not stop
        the others.

        @return: L{Deferred} firing with the number applied.
        """
        filters = yield buildInstanceFilters(self.db, self.config, instances)
        applied = []
        for instanceFilter in filters:
            if instanceFilter.instanceId in skip:
                continue
            d = self.firewall.applyInstanceFilter(instanceFilter)
            d.addErrback(
                lambda f, instanceId: self.log.failure(
                    "applying the filter of i-{id:08x} failed", f, id=instanceId
                ),
                instanceFilter.instanceId,
            )
            applied.append(d)
        yield gatherResults(applied)
        return len(applied)

    # -- terminate -------------------------------------------------------

    @expose
    def terminateInstance(self, context, instanceId):
        """
        Destroy an instance's guest, release its address and mark it
        terminated.  Terminating a terminated instance does nothing.

        @return: L{Deferred} firing with C{None}.
        """
        return self._locked(instanceId, self._terminateInstance, context, instanceId)

    @inlineCallbacks
    def _terminateInstance(self, context, instanceId):
        instance = yield self.db.instances.get(instanceId)
        if instance.state == states.TERMINATED:
            return None
        if instance.state != states.SHUTTING_DOWN:
            states.TERMINATE.check(instance)
            instance = yield self.db.instances.transition(
                instanceId, states.TERMINATE.allowed, states.SHUTTING_DOWN, action="terminate"
            )
        try:
            yield self._destroyGuest(instance)
        except Exception as e:
            yield self._fail(instanceId, states.SHUTTING_DOWN, f"terminate failed: {e}")
            raise
        yield self._detachVolumes(context, instanceId)
        yield self.blockDeviceHost.release(context, instanceId)
        yield self._releaseNetwork(context, instanceId)
        yield self._settle(
            instanceId,
            states.SHUTTING_DOWN,
            states.TERMINATED,
            power_state=power.NOSTATE,
            terminated_at=self._now(),
        )
        return None

    # -- reboot, stop, start ---------------------------------------------

    @inlineCallbacks
    def _act(self, instanceId, action, operate, prepare=None):
        """
        Do C{action} to an instance: move it to the action's state (unless
        the API did), call C{prepare(guestName, instance)} (if given, with
        the instance's record) and C{operate(guestName)}, then settle it in
        the state its guest's power state means.  If either fails the
        instance goes to C{error}.
        """
        instance = yield self.db.instances.get(instanceId)
        if action is states.START and instance.launched_at is None:
            raise IncorrectInstanceState(
                f"The instance '{instance.ec2Id}' was never launched; it cannot be started."
            )
        if instance.state != action.to:
            if not action.check(instance):
                return None
            instance = yield self.db.instances.transition(
                instanceId, action.allowed, action.to, action=action.name
            )
        name = self.instanceName(instance)
        try:
            if prepare is not None:
                yield prepare(name, instance)
            yield operate(name)
            powerState = yield self._powerState(name)
        except Exception as e:
            yield self._fail(instanceId, action.to, f"{action.name} failed: {e}")
            raise
        fields = {"power_state": powerState, "state_description": None}
        final = _SETTLED.get(powerState, states.STOPPED if powerState in power.OFF else None)
        if final == states.RUNNING and instance.launched_at is None:
            fields["launched_at"] = self._now()
        if final is None:
            final = states.ERROR
            fields["state_description"] = f"guest is {power.name(powerState)} after {action.name}"
        yield self._settle(instanceId, action.to, final, **fields)
        return None

    @expose
    def rebootInstance(self, context, instanceId):
        """
        Reboot a running instance.

        @return: L{Deferred} firing with C{None}.
        """
        return self._locked(
            instanceId, self._act, instanceId, states.REBOOT, self.driver.reboot
        )

    @expose
    def stopInstance(self, context, instanceId):
        """
        Power off a running instance, keeping its guest (state C{stopped}).

        @return: L{Deferred} firing with C{None}.
        """
        return self._locked(
            instanceId, self._act, instanceId, states.STOP, self.driver.powerOff
        )

    @expose
    def startInstance(self, context, instanceId):
        """
        Power on a stopped instance, its guest first made to match the
        instance's current type (vCPUs and memory), kernel and ramdisk,
        which may have changed while it was stopped.

        @return: L{Deferred} firing with C{None}.
        """
        return self._locked(
            instanceId,
            self._act,
            instanceId,
            states.START,
            self.driver.powerOn,
            self._updateGuest,
        )

    @expose
    def pauseInstance(self, context, instanceId):
        """
        Freeze a running instance's guest in memory (state C{paused}).

        @return: L{Deferred} firing with C{None}.
        """
        return self._locked(
            instanceId, self._act, instanceId, states.PAUSE, self.driver.pause
        )

    @expose
    def unpauseInstance(self, context, instanceId):
        """
        Let a paused instance's guest run again (state C{running}).

        @return: L{Deferred} firing with C{None}.
        """
        return self._locked(
            instanceId, self._act, instanceId, states.UNPAUSE, self.driver.unpause
        )

    @expose
    def suspendInstance(self, context, instanceId):
        """
        Save a running instance's guest to disk and stop it (state
        C{suspended}); it keeps its host and its address.

        @return: L{Deferred} firing with C{None}.
        """
        return self._locked(
            instanceId, self._act, instanceId, states.SUSPEND, self.driver.suspend
        )

    @expose
    def resumeInstance(self, context, instanceId):
        """
        Restore a suspended instance's guest from disk (state C{running}).

        @return: L{Deferred} firing with C{None}.
        """
        return self._locked(
            instanceId, self._act, instanceId, states.RESUME, self.driver.resume
        )

    @expose
    def snapshotInstance(self, context, instanceId, imageId, noReboot=False):
        """
        Copy an instance's root disk (L{IVirtDriver.snapshot}) to the
        object at the location of the reserved image C{imageId}, then have
        the image service copy it in as the image's data; the image goes
        to C{failed}, with the reason, if anything fails.  The instance
        keeps its state (its guest its power state).

        @param context: the requester's context (the upload is owned by
            its project).
        @param noReboot: copy the disk of a running guest as it runs
            (EC2's C{NoReboot}) instead of saving the guest first.
        @return: L{Deferred} firing with C{None} once the image service has
            the data (it becomes C{available} when it has copied it).
        """
        return self._locked(
            instanceId, self._snapshotInstance, context, instanceId, imageId, bool(noReboot)
        )

    @inlineCallbacks
    def _snapshotInstance(self, context, instanceId, imageId, noReboot=False):
        try:
            instance = yield self.db.instances.get(instanceId)
            if instance.state in (states.SHUTTING_DOWN, states.TERMINATED, states.ERROR):
                raise IncorrectInstanceState(
                    f"The instance '{instance.ec2Id}' is {instance.state}; it cannot be imaged."
                )
            if self.imageUploader is None:
                raise exception.NovaError(
                    f"nova-compute on {self.host} has no object store to put snapshots in"
                )
            image = yield self.images.getImage(context, imageId)
            name = self.instanceName(instance)
            result = yield self.imageUploader.upload(
                context, image.location, lambda path: self.driver.snapshot(name, path, noReboot)
            )
            yield self.images.completeImage(context, imageId)
        except Exception as e:
            try:
                yield self.images.failImage(context, imageId, f"snapshot failed: {e}")
            except exception.NovaError:
                self.log.failure("marking {imageId} failed failed", imageId=imageId)
            raise
        self.log.info(
            "i-{id:08x}: snapshot of {size} bytes stored for {imageId}",
            id=instanceId,
            size=result.get("size"),
            imageId=imageId,
        )
        return None

    # -- resize, rebuild, rescue ----------------------------------------

    @inlineCallbacks
    def _changeGuest(self, instanceId, action, done, operate):
        """
        Do what the API asked by moving the instance to C{action.to}: call
        C{operate(guestName, instance)}, then settle the instance in
        C{done}, or in C{error} if C{operate} fails.

        @param action: a L{states.Action}.
        @return: L{Deferred} firing with C{None}; failing with
            L{IncorrectInstanceState} if the instance is not in the
            action's state, or with what C{operate} failed with.
        """
        busy = action.to
        instance = yield self.db.instances.get(instanceId)
        if instance.state != busy:
            raise IncorrectInstanceState(
                f"The instance '{instance.ec2Id}' is {instance.state}; it cannot be "
                f"{action.participle}."
            )
        name = self.instanceName(instance)
        try:
            yield operate(name, instance)
            powerState = yield self._powerState(name)
        except Exception as e:
            yield self._fail(instanceId, busy, f"{action.name} failed: {e}")
            raise
        yield self._settle(instanceId, busy, done, power_state=powerState, state_description=None)
        return None

    @expose
    def resizeInstance(self, context, instanceId):
        """
        Give a C{resizing} instance's guest the vCPUs and memory of the
        type its record names now (L{IVirtDriver.resize}); the old guest
        is kept until the resize is confirmed or reverted.  The instance
        ends C{resized}.

        @return: L{Deferred} firing with C{None}.
        """
        return self._locked(
            instanceId,
            self._changeGuest,
            instanceId,
            states.RESIZE,
            states.RESIZED,
            self._resizeGuest,
        )

    @inlineCallbacks
    def _resizeGuest(self, name, instance):
        itype = yield getInstanceType(self.db, self.config, instance.instance_type)
        spec = attr.evolve(
            InstanceSpec.fromRecord(name, instance),
            vcpus=itype.vcpus,
            memoryMb=itype.memory_mb,
            localGb=itype.local_gb,
        )
        yield self.driver.resize(spec)

    @expose
    def confirmResize(self, context, instanceId):
        """
        Drop the old guest a confirmed resize kept (the API has moved the
        instance back to C{running}).

        @return: L{Deferred} firing with C{None}.
        """
        return self._locked(instanceId, self._confirmResize, instanceId)

    @inlineCallbacks
    def _confirmResize(self, instanceId):
        instance = yield self.db.instances.get(instanceId)
        try:
            yield self.driver.confirmResize(self.instanceName(instance))
        except GuestNotFound:
            self.log.warn("i-{id:08x}: no guest to confirm the resize of", id=instanceId)
        return None

    @expose
    def revertResize(self, context, instanceId):
        """
        Give a C{reverting} instance its old guest back
        (L{IVirtDriver.revertResize}); it ends C{running}.

        @return: L{Deferred} firing with C{None}.
        """
        return self._locked(
            instanceId,
            self._changeGuest,
            instanceId,
            states.REVERT_RESIZE,
            states.RUNNING,
            lambda name, instance: self.driver.revertResize(name),
        )

    @expose
    def rebuildInstance(self, context, instanceId):
        """
        Replace a C{rebuilding} instance's guest with one made afresh from
        the image its record names now (L{IVirtDriver.rebuild}), with the
        network description its address already has; it ends C{running}.

        @return: L{Deferred} firing with C{None}.
        """
        return self._locked(
            instanceId,
            self._changeGuest,
            instanceId,
            states.REBUILD,
            states.RUNNING,
            lambda name, instance: self._rebuildGuest(context, name, instance),
        )

    @inlineCallbacks
    def _rebuildGuest(self, context, name, instance):
        # The network service answers with the address the instance holds.
        networkInfo = yield self.network.allocateForInstance(context, instance)
        yield self._applyFilter(instance, networkInfo)
        yield self.driver.rebuild(InstanceSpec.fromRecord(name, instance), networkInfo or {})

    @expose
    def rescueInstance(self, context, instanceId):
        """
        Boot a C{rescuing} instance's guest from the rescue image
        (C{--rescue_image_id}, by default its own image) with its own root
        disk attached second (L{IVirtDriver.rescue}); it ends C{rescued}.

        @return: L{Deferred} firing with C{None}.
        """
        return self._locked(
            instanceId,
            self._changeGuest,
            instanceId,
            states.RESCUE,
            states.RESCUED,
            lambda name, instance: self._rescueGuest(context, name, instance),
        )

    @inlineCallbacks
    def _rescueGuest(self, context, name, instance):
        spec = InstanceSpec.fromRecord(name, instance)
        imageId = self.config.rescue_image_id
        if imageId:
            image = yield self.images.getImage(context, imageId)
            spec = attr.evolve(
                spec,
                imageId=imageId,
                kernelId=image.kernel_id or spec.kernelId,
                ramdiskId=image.ramdisk_id or spec.ramdiskId,
            )
        yield self.driver.rescue(spec)

    @expose
    def unrescueInstance(self, context, instanceId):
        """
        Boot an C{unrescuing} instance's guest as it was before its rescue
        (L{IVirtDriver.unrescue}); it ends C{running}.

        @return: L{Deferred} firing with C{None}.
        """
        return self._locked(
            instanceId,
            self._changeGuest,
            instanceId,
            states.UNRESCUE,
            states.RUNNING,
            lambda name, instance: self.driver.unrescue(name),
        )

    def _updateGuest(self, name, instance):
        """
        Make the guest match the instance's record.

        @param instance: an L{nova.db.records.InstanceRecord}.
        @return: L{Deferred} firing with C{None}.
        """
        return self.driver.updateGuest(InstanceSpec.fromRecord(name, instance))

    # -- console, volumes, host ------------------------------------------

    @expose
    def getConsoleOutput(self, context, instanceId):
        """
        @return: L{Deferred} firing with a L{dict}: C{output} (the guest's
            console text; for an instance terminated here, its last output)
            and C{timestamp} (ISO 8601, UTC).
        """
        return self._getConsoleOutput(instanceId)

    @inlineCallbacks
    def _getConsoleOutput(self, instanceId):
        instance = yield self.db.instances.get(instanceId)
        try:
            output = yield self.driver.getConsoleOutput(self.instanceName(instance))
        except GuestNotFound:
            output = self.consoleLogs.get(instanceId, "")
        return {"output": output, "timestamp": _isoTime(self._now())}

    @expose
    def getVncConsole(self, context, instanceId):
        """
        Where the instance's guest serves its VNC console, read from the
        hypervisor (for libvirt, the live domain XML).

        @return: L{Deferred} firing with a L{dict}: C{host}, C{port} and
            C{password}; failing with
            L{nova.virt.errors.ConsoleUnavailable} when the guest has no
            VNC server, or L{GuestNotFound}.
        """
        d = self.db.instances.get(instanceId)
        d.addCallback(lambda instance: self.driver.getVncConsole(self.instanceName(instance)))
        return d

    @expose
    def getDiagnostics(self, context, instanceId):
        """
        @return: L{Deferred} firing with the diagnostics of the instance's
            guest (L{nova.virt.interfaces.IVirtDriver.getDiagnostics});
            failing with L{IncorrectInstanceState} if it has no guest
            here.
        """
        return self._getDiagnostics(instanceId)

    @inlineCallbacks
    def _getDiagnostics(self, instanceId):
        instance = yield self.db.instances.get(instanceId)
        try:
            diagnostics = yield self.driver.getDiagnostics(self.instanceName(instance))
        except GuestNotFound:
            raise IncorrectInstanceState(
                f"The instance '{instance.ec2Id}' has no guest on {self.host}; "
                f"it is {instance.state}."
            )
        return diagnostics

    @expose
    def attachVolume(
        self, context, instanceId, devicePath=None, mountpoint=None, connection=None,
        exportInfo=None,
    ):
        """
        Attach a volume to a running instance as C{mountpoint}.

        @param connection: how to reach the volume: the JSON form of a
            L{nova.virt.interfaces.VolumeConnection} (what the volume API
            sends).
        @param devicePath: instead of C{connection}, a path on this host
            (or an C{iscsi://} URL), read with
            L{VolumeConnection.fromPath}.
        @param exportInfo: the name earlier volume APIs gave C{connection}.
        @return: L{Deferred} firing with C{None}; failing with
            L{nova.virt.errors.VirtError} for a missing or bad connection.
        """
        try:
            if not isinstance(mountpoint, str):
                raise VirtError(f"attachVolume needs a mount point, not {mountpoint!r}")
            given = connection if connection is not None else exportInfo
            if given is not None:
                volume = VolumeConnection.fromDict(given)
            elif devicePath is not None:
                volume = VolumeConnection.fromPath(devicePath)
            else:
                raise VirtError("attachVolume needs a connection")
        except VirtError as e:
            return fail(e)
        return self._locked(
            instanceId, self._volumeAction, instanceId, "attach a volume to",
            lambda name: self.driver.attachVolume(name, volume, mountpoint),
        )

    @expose
    def detachVolume(self, context, instanceId, mountpoint):
        """
        Detach the device a running instance has at C{mountpoint}.

        @return: L{Deferred} firing with C{None}.
        """
        return self._locked(
            instanceId, self._volumeAction, instanceId, "detach a volume from",
            lambda name: self.driver.detachVolume(name, mountpoint),
        )

    @inlineCallbacks
    def _volumeAction(self, instanceId, what, operate):
        instance = yield self.db.instances.get(instanceId)
        if instance.state != states.RUNNING:
            raise IncorrectInstanceState(
                f"The instance '{instance.ec2Id}' is {instance.state}; cannot {what} it."
            )
        yield operate(self.instanceName(instance))
        return None

    @expose
    def getHostStats(self, context):
        """
        @return: L{Deferred} firing with the driver's host statistics.
        """
        return self.driver.getHostStats()

    # -- start-up and periodic reconciliation ----------------------------

    @inlineCallbacks
    def initHost(self):
        """
        Connect the driver, then reconcile the database with the
        hypervisor: instances whose guest vanished go to C{error},
        interrupted requests are settled from the guests' power states,
        guests that carry an instance name but belong to no live
        instance are destroyed, and the security-group filters of the
        live instances are applied again.
        """
        yield self.driver.initHost(self.host)
        yield self.firewall.initHost()
        yield self.reconcile(restart=True)
        instances = yield self.db.instances.list(host=self.host)
        yield self._applyFilters(
            [
                instance
                for instance in instances
                if instance.state not in (states.TERMINATED, states.SHUTTING_DOWN)
                and instance.fixed_ip
            ]
        )

    def periodicTasks(self, context):
        """
        Sync the recorded power states with the hypervisor.
        """
        return self.reconcile(restart=False)

    @inlineCallbacks
    def reconcile(self, restart):
        """
        Bring this host's instance rows in line with the hypervisor.

        @param restart: C{True} at start-up, when no request is under way:
            instances in intermediate states are settled and orphan guests
            destroyed.  C{False} for the periodic sync, which only updates
            instances no request is working on.
        @return: L{Deferred} firing with C{None}.
        """
        instances = yield self.db.instances.list(host=self.host)
        guests = set((yield self.driver.listInstances()))
        live = {}
        for instance in instances:
            if instance.state == states.TERMINATED:
                continue
            name = self.instanceName(instance)
            live[name] = instance
            if not restart and instance.id in self._locks:
                continue
            try:
                if name in guests:
                    yield self._syncGuest(instance, name, restart)
                else:
                    yield self._guestMissing(instance, restart)
            except GuestNotFound:
                yield self._guestMissing(instance, restart)
        if restart:
            for name in sorted(guests - set(live)):
                if self.namer.instanceId(name) is None:
                    continue
                self.log.warn("destroying guest {name}: no live instance owns it", name=name)
                try:
                    yield self.driver.destroy(name)
                except GuestNotFound:
                    pass
                yield self._removeFilter(self.namer.instanceId(name))

    @inlineCallbacks
    def _guestMissing(self, instance, restart):
        state = instance.state
        if state == states.SHUTTING_DOWN:
            yield self._settle(
                instance.id,
                state,
                states.TERMINATED,
                power_state=power.NOSTATE,
                terminated_at=self._now(),
            )
        elif state == states.ERROR:
            if instance.power_state != power.NOSTATE:
                yield self.db.instances.update(instance.id, power_state=power.NOSTATE)
        elif state == states.PENDING and instance.launched_at is None:
            # Its runInstance request is still to come: it waits in this
            # host's queue (or, unacknowledged when the service stopped, is
            # delivered again), and the scheduler's sweep of stuck work
            # sends it again if it was lost.  runInstance spawns only a
            # pending instance that was never launched, so it runs once.
            if restart:
                self.log.info(
                    "i-{id:08x} is pending, not yet spawned: waiting for its request",
                    id=instance.id,
                )
        elif restart or state in _SYNCED:
            yield self._fail(
                instance.id,
                state,
                "the guest vanished from the hypervisor",
                power_state=power.NOSTATE,
            )

    @inlineCallbacks
    def _syncGuest(self, instance, name, restart):
        state = instance.state
        if state == states.SHUTTING_DOWN:
            if restart:
                yield self._terminateInstance(adminContext(), instance.id)
            return
        powerState = yield self._powerState(name)
        if restart and state in _FAILED_AT_RESTART:
            yield self._fail(
                instance.id,
                state,
                f"nova-compute restarted during the {_FAILED_AT_RESTART[state]}",
                power_state=powerState,
            )
            return
        fields = {}
        if powerState != instance.power_state:
            fields["power_state"] = powerState
        settleable = _SYNCED
        if restart:
            settleable |= _SETTLED_AT_RESTART
        target = state
        if state in settleable:
            if powerState in _SETTLED:
                target = _SETTLED[powerState]
                if target == states.RUNNING and instance.launched_at is None:
                    fields["launched_at"] = self._now()
            elif powerState == power.CRASHED:
                target = states.ERROR
                fields["state_description"] = "the guest crashed"
        if (
            not restart
            and state == states.RUNNING
            and target == states.STOPPED
            and instance.shutdown_behavior == TERMINATE_ON_SHUTDOWN
        ):
            yield self._terminateOnShutdown(instance, powerState)
            return
        if target == state and not fields:
            return
        yield self._settle(instance.id, state, target, **fields)

    @inlineCallbacks
    def _terminateOnShutdown(self, instance, powerState):
        """
        Terminate a running instance whose guest shut itself down, as its
        shutdown behavior says: it goes to C{shutting-down}, is terminated
        as L{terminateInstance} does, and leaves its security groups.
        """
        moving = yield self._settle(
            instance.id, states.RUNNING, states.SHUTTING_DOWN, power_state=powerState
        )
        if moving is None:
            return
        self.log.info(
            "i-{id:08x} shut itself down: terminating it, as its shutdown behavior says",
            id=instance.id,
        )
        context = adminContext()
        try:
            yield self._locked(instance.id, self._terminateInstance, context, instance.id)
        except exception.NovaError:
            self.log.failure("terminating i-{id:08x} failed", id=instance.id)
            return
        try:
            yield SecurityGroupAPI(self.db, self.rpc).removeInstance(context, instance.id)
        except exception.NovaError:
            self.log.failure(
                "removing i-{id:08x} from its security groups failed", id=instance.id
            )
