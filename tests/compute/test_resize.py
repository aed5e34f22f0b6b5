"""
Resize (with confirm and revert), rebuild and rescue through
L{nova.compute.api.ComputeAPI}, down to the fake hypervisor through the
compute manager.
"""

import attr
from twisted.internet.defer import succeed
from twisted.trial.unittest import SynchronousTestCase

from nova import exception
from nova.compute import states
from nova.compute.api import hypervisorType
from nova.compute.errors import (
    IncorrectInstanceState,
    InstanceLimitExceeded,
    InstanceLocked,
    InstanceNotFound,
    InstanceTypeNotFound,
    InvalidParameterValue,
)
from nova.config import configFromFlags
from nova.virt import power
from tests.compute.util import ADMIN, ALICE, BOB, Cloud, DictQuotas


@attr.s
class Image:
    ec2_id = attr.ib()
    image_type = attr.ib(default="machine")
    state = attr.ib(default="available")
    kernel_id = attr.ib(default=None)
    ramdisk_id = attr.ib(default=None)


class Images:
    """
    The image service as the compute API and manager use it for rebuilds
    and rescues: images by id, the context's own or none.
    """

    def __init__(self, *images):
        self.images = {image.ec2_id: image for image in images}

    def getImage(self, context, imageId):
        from nova.db.images import ImageNotFound

        if imageId not in self.images:
            raise ImageNotFound(f"The image id '[{imageId}]' does not exist")
        return succeed(self.images[imageId])


class _Base(SynchronousTestCase):
    flags = {}

    def setUp(self):
        self.cloud = Cloud(self, quotas=DictQuotas(), **self.flags)
        self.images = Images(
            Image("ami-00000005"),
            Image("ami-00000006", kernel_id="aki-00000007", ramdisk_id="ari-00000008"),
            Image("aki-00000007", image_type="kernel"),
            Image("ami-00000009", state="pending"),
        )
        self.api = self.cloud.api
        self.api.images = self.images
        self.cloud.computes["h1"].images = self.images

    def running(self, **kw):
        _, [instance] = self.cloud.run(instanceType="m1.tiny", **kw)
        self.assertEqual(instance.state, states.RUNNING)
        return instance

    def guest(self, instance):
        return self.cloud.drivers["h1"].guests["instance-%08x" % (instance.id,)]

    def resources(self, instance):
        record = self.cloud.instance(instance.id)
        return (record.state, record.instance_type, record.vcpus, record.memory_mb, record.local_gb)


class ResizeTests(_Base):
    def test_resizeAndConfirm(self):
        """
        A resized instance has the new type and its guest the type's
        vCPUs and memory; it counts with the larger type until confirmed.
        """
        instance = self.running()
        change = self.successResultOf(self.api.resizeInstance(ALICE, instance.ec2Id, "m1.small"))
        self.assertEqual((change.previousState, change.currentState), (states.RUNNING, states.RESIZING))
        self.cloud.flush()
        self.assertEqual(self.resources(instance), (states.RESIZED, "m1.small", 1, 2048, 20))
        self.assertEqual(self.cloud.instance(instance.id).old_instance_type, "m1.tiny")
        guest = self.guest(instance)
        self.assertEqual((guest.state, guest.spec.vcpus, guest.spec.memoryMb), (power.RUNNING, 1, 2048))
        change = self.successResultOf(self.api.confirmResize(ALICE, instance.id))
        self.assertEqual((change.previousState, change.currentState), (states.RESIZED, states.RUNNING))
        self.cloud.flush()
        self.assertEqual(self.resources(instance), (states.RUNNING, "m1.small", 1, 2048, 20))
        self.assertIsNone(self.cloud.instance(instance.id).old_instance_type)
        self.assertIsNone(self.guest(instance).resizedFrom)
        self.assertIn(("confirmResize", guest.spec.name), self.cloud.drivers["h1"].calls)

    def test_resizeAndRevert(self):
        instance = self.running()
        self.successResultOf(self.api.resizeInstance(ALICE, instance.id, "m1.small"))
        self.cloud.flush()
        change = self.successResultOf(self.api.revertResize(ALICE, instance.id))
        self.assertEqual(change.currentState, states.REVERTING)
        self.cloud.flush()
        self.assertEqual(self.resources(instance), (states.RUNNING, "m1.tiny", 1, 512, 0))
        guest = self.guest(instance)
        self.assertEqual((guest.state, guest.spec.memoryMb, guest.resizedFrom), (power.RUNNING, 512, None))

    def test_shrinkCountsTheLargerType(self):
        """
        While a resize to a smaller type awaits confirmation, the instance
        counts with the larger one.
        """
        _, [instance] = self.cloud.run(instanceType="m1.small")
        self.successResultOf(self.api.resizeInstance(ALICE, instance.id, "m1.tiny"))
        self.cloud.flush()
        self.assertEqual(self.resources(instance), (states.RESIZED, "m1.tiny", 1, 2048, 20))
        self.assertEqual(self.guest(instance).spec.memoryMb, 512)
        usage = self.successResultOf(self.cloud.db.instances.usageByProject("wonderland"))
        self.assertEqual(usage["ram"], 2048)
        self.successResultOf(self.api.confirmResize(ALICE, instance.id))
        self.cloud.flush()
        self.assertEqual(self.resources(instance), (states.RUNNING, "m1.tiny", 1, 512, 0))

    def test_quota(self):
        self.cloud.quotas.limits["wonderland"] = {"ram": 1024}
        instance = self.running()
        self.failureResultOf(
            self.api.resizeInstance(ALICE, instance.id, "m1.small"), InstanceLimitExceeded
        )
        self.assertEqual(self.resources(instance), (states.RUNNING, "m1.tiny", 1, 512, 0))

    def test_refused(self):
        """
        Unknown types, the same type, other projects' instances, locked
        instances and states other than running are refused, and nothing
        changes.
        """
        instance = self.running()
        for args, error in (
            (("m1.huge",), InstanceTypeNotFound),
            (("m1.tiny",), InvalidParameterValue),
            (("",), InvalidParameterValue),
            ((None,), InvalidParameterValue),
        ):
            self.failureResultOf(self.api.resizeInstance(ALICE, instance.id, *args), error)
        self.failureResultOf(self.api.resizeInstance(BOB, instance.id, "m1.small"), InstanceNotFound)
        self.failureResultOf(self.api.confirmResize(ALICE, instance.id), IncorrectInstanceState)
        self.failureResultOf(self.api.revertResize(ALICE, instance.id), IncorrectInstanceState)
        self.successResultOf(self.api.lockInstance(ADMIN, instance.id))
        self.failureResultOf(self.api.resizeInstance(ALICE, instance.id, "m1.small"), InstanceLocked)
        self.successResultOf(self.api.unlockInstance(ADMIN, instance.id))
        self.successResultOf(self.api.stopInstances(ALICE, [instance.id]))
        self.cloud.flush()
        self.failureResultOf(
            self.api.resizeInstance(ALICE, instance.id, "m1.small"), IncorrectInstanceState
        )
        self.assertEqual(self.resources(instance), (states.STOPPED, "m1.tiny", 1, 512, 0))

    def test_resizedRefusesOtherRequests(self):
        instance = self.running()
        self.successResultOf(self.api.resizeInstance(ALICE, instance.id, "m1.small"))
        self.cloud.flush()
        for request in (
            lambda: self.api.resizeInstance(ALICE, instance.id, "m1.medium"),
            lambda: self.api.rescueInstance(ALICE, instance.id),
            lambda: self.api.rebuildInstance(ALICE, instance.id, "ami-00000005"),
            lambda: self.api.pauseInstance(ALICE, instance.id),
        ):
            self.failureResultOf(request(), IncorrectInstanceState)
        self.assertEqual(self.cloud.instance(instance.id).state, states.RESIZED)

    def test_failedResizeIsError(self):
        instance = self.running()
        self.cloud.drivers["h1"].failOn("resize", exception.NovaError("no room"))
        self.successResultOf(self.api.resizeInstance(ALICE, instance.id, "m1.small"))
        self.cloud.flush()
        record = self.cloud.instance(instance.id)
        self.assertEqual(record.state, states.ERROR)
        self.assertIn("no room", record.state_description)

    def test_terminateResized(self):
        instance = self.running()
        self.successResultOf(self.api.resizeInstance(ALICE, instance.id, "m1.small"))
        self.cloud.flush()
        self.successResultOf(self.api.terminateInstances(ALICE, [instance.id]))
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.TERMINATED)
        self.assertEqual(self.cloud.drivers["h1"].guests, {})


class RebuildTests(_Base):
    def test_rebuild(self):
        """
        A rebuilt instance keeps its id and address, gets the image (and
        the image's kernel and ramdisk) and runs a new guest.
        """
        instance = self.running(kernelId="aki-00000002", ramdiskId="ari-00000003")
        change = self.successResultOf(self.api.rebuildInstance(ALICE, instance.ec2Id, "ami-00000006"))
        self.assertEqual(change.currentState, states.REBUILDING)
        self.cloud.flush()
        record = self.cloud.instance(instance.id)
        self.assertEqual(
            (record.state, record.image_id, record.kernel_id, record.ramdisk_id, record.fixed_ip),
            (states.RUNNING, "ami-00000006", "aki-00000007", "ari-00000008", instance.fixed_ip),
        )
        guest = self.guest(instance)
        self.assertEqual((guest.spec.imageId, guest.spec.kernelId, guest.state), ("ami-00000006", "aki-00000007", power.RUNNING))
        self.assertEqual(guest.boots, 1)

    def test_rebuildKeepsKernelWithoutOne(self):
        instance = self.running(kernelId="aki-00000002")
        self.successResultOf(self.api.rebuildInstance(ALICE, instance.id, "ami-00000005"))
        self.cloud.flush()
        record = self.cloud.instance(instance.id)
        self.assertEqual((record.image_id, record.kernel_id), ("ami-00000005", "aki-00000002"))

    def test_rebuildStopped(self):
        instance = self.running()
        self.successResultOf(self.api.stopInstances(ALICE, [instance.id]))
        self.cloud.flush()
        self.successResultOf(self.api.rebuildInstance(ALICE, instance.id, "ami-00000005"))
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.RUNNING)
        self.assertEqual(self.guest(instance).state, power.RUNNING)

    def test_badImages(self):
        from nova.db.images import ImageNotFound

        instance = self.running()
        self.failureResultOf(self.api.rebuildInstance(ALICE, instance.id, "ami-0000ffff"), ImageNotFound)
        for imageId in ("aki-00000007", "ami-00000009", "", None):
            self.failureResultOf(
                self.api.rebuildInstance(ALICE, instance.id, imageId), InvalidParameterValue
            )
        self.assertEqual(self.cloud.instance(instance.id).image_id, "ami-00000001")

    def test_failedRebuildIsError(self):
        instance = self.running()
        self.cloud.drivers["h1"].failOn("rebuild", exception.NovaError("disk full"))
        self.successResultOf(self.api.rebuildInstance(ALICE, instance.id, "ami-00000005"))
        self.cloud.flush()
        record = self.cloud.instance(instance.id)
        self.assertEqual((record.state, record.state_description), (states.ERROR, "rebuild failed: disk full"))


class RescueTests(_Base):
    def test_rescueAndUnrescue(self):
        instance = self.running()
        change = self.successResultOf(self.api.rescueInstance(ALICE, instance.ec2Id))
        self.assertEqual(change.currentState, states.RESCUING)
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.RESCUED)
        guest = self.guest(instance)
        self.assertEqual((guest.state, guest.rescuedSpec.imageId), (power.RUNNING, "ami-00000001"))
        change = self.successResultOf(self.api.rescueInstance(ALICE, instance.id))
        self.assertEqual((change.previousState, change.currentState), (states.RESCUED, states.RESCUED))
        self.failureResultOf(self.api.stopInstances(ALICE, [instance.id]), IncorrectInstanceState)
        change = self.successResultOf(self.api.unrescueInstance(ALICE, instance.id))
        self.assertEqual(change.currentState, states.UNRESCUING)
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.RUNNING)
        self.assertIsNone(self.guest(instance).rescuedSpec)
        self.failureResultOf(self.api.unrescueInstance(ALICE, instance.id), IncorrectInstanceState)

    def test_failedRescueIsError(self):
        instance = self.running()
        self.cloud.drivers["h1"].failOn("rescue", exception.NovaError("no rescue image"))
        self.successResultOf(self.api.rescueInstance(ALICE, instance.id))
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.ERROR)

    def test_terminateRescued(self):
        instance = self.running()
        self.successResultOf(self.api.rescueInstance(ALICE, instance.id))
        self.cloud.flush()
        self.successResultOf(self.api.terminateInstances(ALICE, [instance.id]))
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.TERMINATED)


class RescueImageFlagTests(_Base):
    flags = {"rescue_image_id": "ami-00000006"}

    def test_rescueImage(self):
        """
        C{--rescue_image_id} names the image rescued guests boot, with the
        image's kernel and ramdisk.
        """
        instance = self.running()
        self.successResultOf(self.api.rescueInstance(ALICE, instance.id))
        self.cloud.flush()
        spec = self.guest(instance).rescuedSpec
        self.assertEqual((spec.imageId, spec.kernelId, spec.ramdiskId), ("ami-00000006", "aki-00000007", "ari-00000008"))


class HypervisorTypeTests(SynchronousTestCase):
    def test_fromFlags(self):
        self.assertEqual(hypervisorType(configFromFlags()), "fake")
        for kind in ("kvm", "qemu", "xen", "lxc", "uml"):
            config = configFromFlags(connection_type="libvirt", libvirt_type=kind)
            self.assertEqual(hypervisorType(config), kind)

    def test_property(self):
        cloud = Cloud(self, connection_type="libvirt", libvirt_type="qemu")
        self.assertEqual(cloud.api.hypervisorType, "qemu")


class ManagerTests(_Base):
    def test_requestInWrongState(self):
        """
        A request the instance's state does not call for (a message that
        arrives late or twice) fails and changes nothing.
        """
        instance = self.running()
        manager = self.cloud.computes["h1"]
        for method in (
            manager.resizeInstance,
            manager.revertResize,
            manager.rebuildInstance,
            manager.rescueInstance,
            manager.unrescueInstance,
        ):
            self.failureResultOf(method(ALICE, instance.id), IncorrectInstanceState)
        self.assertEqual(self.cloud.instance(instance.id).state, states.RUNNING)
        self.assertEqual(self.guest(instance).boots, 1)

    def test_restartDuringRequestIsError(self):
        """
        An instance nova-compute was resizing, rebuilding or rescuing when
        it stopped goes to error when it starts again: its guest may be
        half changed.
        """
        instance = self.running()
        manager = self.cloud.computes["h1"]
        for state in (states.RESIZING, states.REBUILDING, states.RESCUING):
            self.successResultOf(self.cloud.db.instances.update(instance.id, state=state))
            self.successResultOf(manager.reconcile(restart=False))
            self.assertEqual(self.cloud.instance(instance.id).state, state)
            self.successResultOf(manager.reconcile(restart=True))
            record = self.cloud.instance(instance.id)
            self.assertEqual(record.state, states.ERROR)
            self.assertIn("nova-compute restarted during the", record.state_description)
