# -*- test-case-name: tests.scheduler.test_sweeper -*-
"""
The sweep of stuck work: instances, volumes, snapshots and images that stay
in a transitional state (C{pending}, C{shutting-down}, C{rebooting},
C{creating}, C{attaching}, C{decrypting}, ...) longer than
C{--stuck_work_timeout} seconds, because a message, a daemon or the
database went away while they were being worked on.

What is safe to do again is sent again, once:

  - a C{pending} instance with no host: C{runInstance} to the scheduler
    (which schedules only a pending instance without a host);
  - a C{pending} instance on a host whose compute service is up:
    C{runInstance} to C{compute.<host>} (which spawns only a pending
    instance that was never launched);
  - a C{shutting-down} instance on a host whose compute service is up:
    C{terminateInstance} to C{compute.<host>} (terminating twice does
    nothing more).

Everything else that is stuck, and whatever is still stuck
C{--stuck_work_timeout} seconds after it was sent again, goes to C{error}
(images to C{failed}) with the reason in its C{state_description}
(volumes and snapshots: C{status_description}; images: C{state_reason}),
which EC2 shows as C{StateReason} and C{nova-manage vm list} in its
reason column.  Every move is a compare-and-set on the state, so work that
moved on meanwhile is left alone, and several schedulers may sweep at
once.
"""

from datetime import timedelta

from twisted.internet.defer import inlineCallbacks
from twisted.logger import Logger

from nova import exception
from nova.compute import states
from nova.db import images, volumes
from nova.db.instances import IncorrectInstanceState, InstanceNotFound
from nova.db.services import utcnow


#: Volume and snapshot statuses a volume host leaves.
VOLUME_TRANSITIONS = frozenset(
    {volumes.CREATING, volumes.ATTACHING, volumes.DETACHING, volumes.DELETING}
)
SNAPSHOT_TRANSITIONS = frozenset({volumes.CREATING, volumes.DELETING})


class StuckWorkSweeper:
    """
    Finds stuck work and sends it again or fails it.

    @ivar resent: C{(kind, id)} -> the clock's time it was sent again, for
        what was sent again and is still stuck.
    """

    log = Logger()

    def __init__(self, config, db, rpc, clock, schedulerTopic="scheduler"):
        """
        @param config: with C{stuck_work_timeout} (seconds; 0 turns the
            sweep off) and C{service_down_time}.
        """
        self.timeout = config.stuck_work_timeout
        self.serviceDownTime = config.service_down_time
        self.db = db
        self.rpc = rpc
        self.clock = clock
        self.schedulerTopic = schedulerTopic
        self.resent = {}

    @inlineCallbacks
    def sweep(self, context):
        """
        Run one sweep.

        @return: L{Deferred} firing with a L{dict}: C{resent} and C{failed},
            each a L{list} of C{(kind, id)}: the numeric id of an instance,
            volume or snapshot, the EC2 id of an image.
        """
        report = {"resent": [], "failed": []}
        if self.timeout <= 0:
            return report
        now = utcnow(self.clock)
        before = now - timedelta(seconds=self.timeout)
        stillStuck = set()
        instances = yield self.db.instances.list(states=states.TRANSITIONAL)
        for instance in instances:
            if instance.updated_at > before:
                continue
            key = ("instance", instance.id)
            stillStuck.add(key)
            yield self._instance(context, instance, key, now, report)
        vols = yield self.db.volumes.list(statuses=VOLUME_TRANSITIONS)
        for volume in vols:
            if volume.updated_at > before:
                continue
            reason = self._reason(volume.status, volume.updated_at, now)
            try:
                yield self.db.volumes.transition(
                    volume.id, {volume.status}, volumes.ERROR, status_description=reason
                )
            except (volumes.IncorrectVolumeState, volumes.VolumeNotFound):
                continue
            self._failed(report, "volume", volume.id, reason)
        snapshots = yield self.db.volumes.listSnapshots(statuses=SNAPSHOT_TRANSITIONS)
        for snapshot in snapshots:
            if snapshot.updated_at > before:
                continue
            reason = self._reason(snapshot.status, snapshot.updated_at, now)
            try:
                yield self.db.volumes.transitionSnapshot(
                    snapshot.id, {snapshot.status}, volumes.ERROR, status_description=reason
                )
            except (volumes.IncorrectSnapshotState, volumes.SnapshotNotFound):
                continue
            self._failed(report, "snapshot", snapshot.id, reason)
        working = yield self.db.images.find(states=images.WORKING_STATES)
        for image in working:
            if image.updated_at > before:
                continue
            reason = self._reason(image.state, image.updated_at, now)
            changed = yield self.db.images.setState(
                image.ec2_id, images.FAILED, expected=(image.state,), reason=reason
            )
            if changed:
                self._failed(report, "image", image.ec2_id, reason)
        for key in list(self.resent):
            if key not in stillStuck:
                del self.resent[key]
        return report

    def _reason(self, state, since, now, extra=""):
        seconds = int((now - since).total_seconds())
        return f"stuck in {state} for {seconds} s{extra}"[:255]

    def _failed(self, report, kind, ident, reason, name=None):
        report["failed"].append((kind, ident))
        self.log.warn(
            "{kind} {name}: {reason}; now in error",
            kind=kind,
            name=ident if name is None else name,
            reason=reason,
        )

    @inlineCallbacks
    def _instance(self, context, instance, key, now, report):
        sentAt = self.resent.get(key)
        if sentAt is None:
            target = yield self._resendTarget(instance, now)
            if target is not None:
                topic, method = target
                try:
                    yield self.rpc.cast(context, topic, method, {"instanceId": instance.id})
                except exception.RPCError as e:
                    self.log.warn(
                        "could not send {method} for i-{id:08x} again: {error}",
                        method=method,
                        id=instance.id,
                        error=e,
                    )
                    return
                self.resent[key] = self.clock.seconds()
                report["resent"].append(key)
                self.log.info(
                    "i-{id:08x} stuck in {state}: sent {method} to {topic} again",
                    id=instance.id,
                    state=instance.state,
                    method=method,
                    topic=topic,
                )
                return
            extra = "" if instance.host is None else f" on {instance.host}"
        elif self.clock.seconds() - sentAt < self.timeout:
            return
        else:
            extra = f"; sent again {int(self.clock.seconds() - sentAt)} s ago without effect"
        reason = self._reason(instance.state, instance.updated_at, now, extra)
        try:
            yield self.db.instances.transition(
                instance.id, {instance.state}, states.ERROR, state_description=reason
            )
        except (IncorrectInstanceState, InstanceNotFound):
            return
        self.resent.pop(key, None)
        self._failed(report, "instance", instance.id, reason, f"i-{instance.id:08x}")

    @inlineCallbacks
    def _resendTarget(self, instance, now):
        """
        @return: L{Deferred} firing with C{(topic, method)} to send again,
            or C{None} when sending again is not safe.
        """
        if instance.state == states.PENDING and instance.host is None:
            return (self.schedulerTopic, "runInstance")
        if instance.host is None or instance.state not in (states.PENDING, states.SHUTTING_DOWN):
            return None
        if instance.state == states.PENDING and instance.launched_at is not None:
            # Started again from stopped: not a launch the compute repeats.
            return None
        services = yield self.db.services.list(host=instance.host, topic="compute")
        if not any(s.isUp(now, self.serviceDownTime) and not s.disabled for s in services):
            return None
        method = "runInstance" if instance.state == states.PENDING else "terminateInstance"
        return (f"compute.{instance.host}", method)
