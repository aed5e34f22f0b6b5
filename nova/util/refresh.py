# -*- test-case-name: tests.test_refresh,tests.compute.test_manager,tests.network.test_manager -*-
"""
Refreshes that coalesce: what is asked for while a refresh runs waits,
together, for the next one, so that a burst of requests (a launch of many
instances, say) costs one or two refreshes rather than one each.
"""

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.python.failure import Failure


class RefreshQueue:
    """
    Runs one refresh at a time, of everything asked for since the last
    one started.
    """

    def __init__(self, refresh):
        """
        @param refresh: called with a L{dict} from each key asked for to
            the value it was last asked with; returns a L{Deferred} (or a
            result).
        """
        self._run = refresh
        self._pending = {}
        self._waiting = []
        self._running = False

    def request(self, key, value=None):
        """
        Ask for a refresh of C{key}: the one that starts next, which is now
        if none runs.

        @param value: what the refresh is given for C{key} (the newest
            value wins when C{key} is asked for again before it starts).
        @return: L{Deferred} firing with the result of the refresh that
            covers C{key}, or failing with its failure.
        """
        d = Deferred()
        self._pending[key] = value
        self._waiting.append(d)
        if not self._running:
            self._next()
        return d

    def _next(self):
        if not self._pending:
            self._running = False
            return
        self._running = True
        asked, self._pending = self._pending, {}
        waiting, self._waiting = self._waiting, []

        def done(result):
            for d in waiting:
                if isinstance(result, Failure):
                    d.errback(result)
                else:
                    d.callback(result)
            self._next()

        maybeDeferred(self._run, asked).addBoth(done)
