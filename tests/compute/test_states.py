"""
Tests for L{nova.compute.states}.
"""

from twisted.trial.unittest import SynchronousTestCase

from nova.compute import states


class Instance:
    def __init__(self, state):
        self.state = state
        self.ec2Id = "i-00000001"


class StatesTests(SynchronousTestCase):
    def test_ec2(self):
        self.assertEqual(states.ec2State(states.PENDING), (0, "pending"))
        self.assertEqual(states.ec2State(states.RUNNING), (16, "running"))
        self.assertEqual(states.ec2State(states.REBOOTING), (16, "running"))
        self.assertEqual(states.ec2State(states.SHUTTING_DOWN), (32, "shutting-down"))
        self.assertEqual(states.ec2State(states.TERMINATED), (48, "terminated"))
        self.assertEqual(states.ec2State(states.STOPPING), (64, "stopping"))
        self.assertEqual(states.ec2State(states.STOPPED), (80, "stopped"))
        self.assertEqual(states.ec2State(states.ERROR), (304, "error"))
        for state in (states.RESIZING, states.REVERTING, states.REBUILDING, states.RESCUING, states.UNRESCUING):
            self.assertEqual(states.ec2State(state), (0, "pending"))
        for state in (states.RESIZED, states.RESCUED):
            self.assertEqual(states.ec2State(state), (16, "running"))
        self.assertEqual(states.ec2State(states.PAUSING), (16, "running"))
        self.assertEqual(states.ec2State(states.PAUSED), (16, "running"))
        self.assertEqual(states.ec2State(states.UNPAUSING), (16, "running"))
        self.assertEqual(states.ec2State(states.SUSPENDING), (64, "stopping"))
        self.assertEqual(states.ec2State(states.SUSPENDED), (80, "stopped"))
        self.assertEqual(states.ec2State(states.RESUMING), (0, "pending"))
        self.assertEqual(set(states.EC2_STATES), states.ALL)

    def test_actions(self):
        table = {
            states.REBOOT: ({states.RUNNING}, {states.REBOOTING}),
            states.STOP: (
                {states.RUNNING, states.REBOOTING}, {states.STOPPING, states.STOPPED}
            ),
            states.START: ({states.STOPPED}, {states.PENDING, states.RUNNING}),
            states.PAUSE: ({states.RUNNING}, {states.PAUSING, states.PAUSED}),
            states.UNPAUSE: ({states.PAUSED}, {states.UNPAUSING, states.RUNNING}),
            states.SUSPEND: ({states.RUNNING}, {states.SUSPENDING, states.SUSPENDED}),
            states.RESUME: ({states.SUSPENDED}, {states.RESUMING, states.RUNNING}),
            states.TERMINATE: (
                states.ALL - {states.SHUTTING_DOWN, states.TERMINATED},
                {states.SHUTTING_DOWN, states.TERMINATED},
            ),
            states.RESIZE: ({states.RUNNING}, set()),
            states.CONFIRM_RESIZE: ({states.RESIZED}, set()),
            states.REVERT_RESIZE: ({states.RESIZED}, {states.REVERTING}),
            states.REBUILD: ({states.RUNNING, states.STOPPED}, set()),
            states.RESCUE: ({states.RUNNING}, {states.RESCUING, states.RESCUED}),
            states.UNRESCUE: ({states.RESCUED}, {states.UNRESCUING}),
        }
        for action, (allowed, ignored) in table.items():
            for state in states.ALL:
                if state in allowed:
                    self.assertTrue(action.check(Instance(state)))
                elif state in ignored:
                    self.assertFalse(action.check(Instance(state)))
                else:
                    error = self.assertRaises(
                        states.IncorrectInstanceState, action.check, Instance(state)
                    )
                    self.assertIn(f"it cannot be {action.participle}", str(error))
