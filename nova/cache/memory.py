# -*- test-case-name: tests.cache.test_memory -*-
"""
L{MemoryCache}: an L{ICache} in a dict, expiring on an injected clock.  The
embedded default: each process has its own, so counters (failed logins) are
per process.
"""

from twisted.internet.defer import fail, succeed
from zope.interface import implementer

from nova.cache.interfaces import ICache


@implementer(ICache)
class MemoryCache:
    """
    @ivar entries: a L{dict} from key to C{(value, expiresAt or None)};
        expired entries linger until read or swept.
    """

    # Expired entries are swept after this many writes.
    sweepEvery = 1000

    def __init__(self, clock):
        """
        @param clock: an L{IReactorTime}; C{clock.seconds()} is now.
        """
        self.clock = clock
        self.entries = {}
        self._writes = 0

    def _expiry(self, ttl):
        if ttl is None:
            return None
        if ttl <= 0:
            raise ValueError(f"ttl must be positive, not {ttl!r}")
        return self.clock.seconds() + ttl

    def _live(self, key):
        entry = self.entries.get(key)
        if entry is None:
            return None
        value, expiresAt = entry
        if expiresAt is not None and expiresAt <= self.clock.seconds():
            del self.entries[key]
            return None
        return entry

    def _wrote(self):
        self._writes += 1
        if self._writes % self.sweepEvery == 0:
            now = self.clock.seconds()
            for key in [
                k for k, (_, at) in self.entries.items() if at is not None and at <= now
            ]:
                del self.entries[key]

    def get(self, key):
        entry = self._live(key)
        return succeed(None if entry is None else entry[0])

    def set(self, key, value, ttl=None):
        try:
            expiresAt = self._expiry(ttl)
        except ValueError as e:
            return fail(e)
        self.entries[key] = (value, expiresAt)
        self._wrote()
        return succeed(None)

    def delete(self, *keys):
        for key in keys:
            self.entries.pop(key, None)
        return succeed(None)

    def increment(self, key, ttl):
        entry = self._live(key)
        try:
            if entry is None:
                value, expiresAt = 1, self._expiry(ttl)
            else:
                value, expiresAt = int(entry[0]) + 1, entry[1]
        except ValueError as e:
            return fail(e)
        self.entries[key] = (str(value), expiresAt)
        self._wrote()
        return succeed(value)
