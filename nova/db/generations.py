# -*- test-case-name: tests.db.test_generations -*-
"""
The generations table: named counters.  A process that caches what others
may change bumps a counter when it changes it, and the processes that
cache it poll the counter and stop trusting their cache when it moved
(L{nova.auth.manager.AuthManager}'s users, projects and roles).
"""

from storm.locals import Int, Unicode

from nova.db.store import readOnly


class GenerationRow:
    __storm_table__ = "generations"
    name = Unicode(primary=True)
    value = Int()


class GenerationStore:
    """
    Named counters.
    """

    def __init__(self, transactor, clock):
        self.transactor = transactor
        self.clock = clock

    def get(self, name):
        """
        @return: L{Deferred} firing with the counter's value (0 if it was
            never bumped).
        """
        return self.transactor.transact(self.thd_get, name)

    @readOnly
    def thd_get(self, store, name):
        row = store.get(GenerationRow, name)
        return 0 if row is None else row.value

    def bump(self, name):
        """
        Add one to a counter.

        @return: L{Deferred} firing with its new value.
        """
        return self.transactor.transact(self.thd_bump, name)

    def thd_bump(self, store, name):
        row = store.get(GenerationRow, name)
        if row is None:
            row = GenerationRow()
            row.name, row.value = name, 1
            store.add(row)
            store.flush()
            return 1
        # value + 1 in the database, so concurrent bumps all count.
        row.value = GenerationRow.value + 1
        store.flush()
        store.autoreload(row)
        return row.value
