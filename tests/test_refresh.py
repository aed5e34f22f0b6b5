"""
Tests for L{nova.util.refresh}.
"""

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from nova.util.refresh import RefreshQueue


class RefreshQueueTests(SynchronousTestCase):
    def setUp(self):
        self.runs = []
        self.queue = RefreshQueue(self.refresh)

    def refresh(self, asked):
        d = Deferred()
        self.runs.append((asked, d))
        return d

    def test_requestsDuringARunShareTheNext(self):
        """
        The first request runs at once; those that come while it runs
        wait for one more run, given each key with its newest value.
        """
        first = self.queue.request("a", 1)
        self.assertEqual([asked for asked, _ in self.runs], [{"a": 1}])
        later = [self.queue.request("a", 2), self.queue.request("b"), self.queue.request("a", 3)]
        self.assertEqual(len(self.runs), 1)
        self.assertNoResult(first)
        self.runs[0][1].callback("one")
        self.assertEqual(self.successResultOf(first), "one")
        self.assertEqual([asked for asked, _ in self.runs][1:], [{"a": 3, "b": None}])
        for d in later:
            self.assertNoResult(d)
        self.runs[1][1].callback("two")
        self.assertEqual([self.successResultOf(d) for d in later], ["two"] * 3)
        # Nothing more was asked for: nothing more runs, and the next
        # request runs at once.
        self.assertEqual(len(self.runs), 2)
        self.queue.request("c")
        self.assertEqual(len(self.runs), 3)

    def test_failureGoesToItsRunOnly(self):
        """
        A run that fails fails its requests; the next run goes on.
        """
        first = self.queue.request("a")
        second = self.queue.request("b")
        self.runs[0][1].errback(ValueError("broken"))
        self.failureResultOf(first, ValueError)
        self.assertNoResult(second)
        self.runs[1][1].callback("fine")
        self.assertEqual(self.successResultOf(second), "fine")

    def test_synchronousRefresh(self):
        """
        A refresh may return a plain result, or raise.
        """
        queue = RefreshQueue(lambda asked: sorted(asked))
        self.assertEqual(self.successResultOf(queue.request("x")), ["x"])
        broken = RefreshQueue(lambda asked: 1 / 0)
        self.failureResultOf(broken.request("x"), ZeroDivisionError)
        self.assertEqual(self.successResultOf(queue.request("y")), ["y"])
