# -*- test-case-name: tests.test_quota -*-
"""
The quotas table: per-project overrides of the default limits
(L{nova.quota} holds the defaults).  A limit of -1 means unlimited.
"""

from storm.locals import DateTime, Int, Unicode

from nova.db.services import utcnow
from nova.db.store import readOnly

UNLIMITED = -1


class QuotaRow:
    __storm_table__ = "quotas"
    id = Int(primary=True)
    project_id = Unicode()
    resource = Unicode()
    hard_limit = Int()
    created_at = DateTime()
    updated_at = DateTime()


class QuotaStore:
    """
    Rows of the quotas table.
    """

    def __init__(self, transactor, clock):
        self.transactor = transactor
        self.clock = clock

    def get(self, projectId):
        """
        @return: L{Deferred} firing with a L{dict} from resource name to
            limit (L{int}, -1 for unlimited) of the project's overrides.
        """
        return self.transactor.transact(self.thd_get, projectId)

    @readOnly
    def thd_get(self, store, projectId):
        rows = store.find(QuotaRow, QuotaRow.project_id == projectId)
        return {row.resource: row.hard_limit for row in rows}

    def set(self, projectId, resource, limit):
        """
        Override one limit (-1: unlimited).

        @return: L{Deferred} firing with L{None}.
        """
        return self.transactor.transact(
            self.thd_set, projectId, resource, int(limit), utcnow(self.clock)
        )

    def thd_set(self, store, projectId, resource, limit, now):
        row = store.find(
            QuotaRow, QuotaRow.project_id == projectId, QuotaRow.resource == resource
        ).one()
        if row is None:
            row = QuotaRow()
            row.project_id, row.resource = projectId, resource
            row.created_at = now
            store.add(row)
        row.hard_limit = limit
        row.updated_at = now

    def delete(self, projectId, resource=None):
        """
        Remove one override (back to the default), or all of a project's.

        @return: L{Deferred} firing with L{None}.
        """
        return self.transactor.transact(self.thd_delete, projectId, resource)

    def thd_delete(self, store, projectId, resource):
        conditions = [QuotaRow.project_id == projectId]
        if resource is not None:
            conditions.append(QuotaRow.resource == resource)
        store.find(QuotaRow, *conditions).remove()
