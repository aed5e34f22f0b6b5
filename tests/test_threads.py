"""
Tests for L{nova.util.threads}.
"""

import threading

from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from nova.util.threads import reactorThreads


class ReactorThreadsTests(TestCase):
    async def test_runsInAPoolThread(self):
        runInThread = reactorThreads(reactor)
        name = await runInThread(lambda suffix: threading.current_thread().name + suffix, "!")
        self.assertNotEqual(name, threading.current_thread().name + "!")
        self.assertTrue(name.endswith("!"))

    async def test_failure(self):
        def fails():
            raise ValueError("no")

        with self.assertRaises(ValueError):
            await reactorThreads(reactor)(fails)
