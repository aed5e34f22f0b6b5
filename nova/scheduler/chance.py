# -*- test-case-name: tests.scheduler.test_drivers -*-
"""
The chance scheduler: any live, enabled host of the topic, at random.
"""

import random as _random

from nova.scheduler.driver import SchedulerDriver


class ChanceScheduler(SchedulerDriver):
    """
    Picks a live, enabled host at random.

    @ivar random: the L{random.Random} it draws from.
    """

    def __init__(self, config, db, clock, random=None):
        SchedulerDriver.__init__(self, config, db, clock)
        self.random = random if random is not None else _random.Random()

    def choose(self, context, topic, request, hosts):
        return self.random.choice(hosts)
