# -*- test-case-name: tests.volume.test_manage -*-
"""
C{nova-manage volume ...}: an operator's repairs of volumes, as Cactus
had them, done through the volume API with an administrator's context.
"""

from twisted.internet.defer import fail, inlineCallbacks

from nova import exception
from nova.context import adminContext
from nova.manage import Commands
from nova.volume.api import VolumeAPI


class _NoBus:
    """
    The bus of a C{nova-manage} run with C{--rpc_backend=local}, which
    reaches no daemon: every message fails with a clear error.
    """

    def _refuse(self, context, topic, method, args, **kwargs):
        return fail(
            exception.Invalid(
                f"{method} must reach {topic}, which needs the cloud's bus: "
                "run nova-manage with the cloud's --rpc_backend=amqp and --rabbit_* flags"
            )
        )

    call = cast = _refuse


class VolumeCommands(Commands):
    """
    Volumes (EC2 ids vol-0000000a, or numeric ids).
    """

    def _api(self):
        rpc = self.env.rpc
        return VolumeAPI(
            self.config, self.env.db, rpc if rpc is not None else _NoBus(),
            self.env.reactor, None,
        )

    @inlineCallbacks
    def do_delete(self, volume_id):
        """Delete a volume in any state: an attached one is detached first (in the database even if its compute host fails).

        Its volume host removes its export and data; a volume that never
        reached a host is removed from the database at once.
        """
        api = self._api()
        volume = yield api.getVolume(adminContext(), volume_id)
        if volume.host is not None and self.env.rpc is None:
            raise exception.Invalid(
                f"{volume.ec2Id} is on {volume.host}: deleting it needs the cloud's bus; run "
                "nova-manage with the cloud's --rpc_backend=amqp and --rabbit_* flags"
            )
        volume = yield api.forceDeleteVolume(adminContext(), volume.id)
        if volume.host is None:
            self.say(f"{volume.ec2Id} deleted (it had no volume host)")
        else:
            self.say(f"{volume.ec2Id} is deleting on {volume.host}")

    @inlineCallbacks
    def do_reattach(self, volume_id):
        """Attach an in-use volume to its instance again, as recorded (after a compute host restarted).

        The instance must be running; a guest that still has the device
        is left as it is.
        """
        volume = yield self._api().reattachVolume(adminContext(), volume_id)
        self.say(f"{volume.ec2Id} attached to {volume.instanceEc2Id} as {volume.mountpoint}")
