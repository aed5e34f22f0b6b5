# -*- test-case-name: tests.db.test_api -*-
"""
L{NovaDatabase}: every table component over one transactor, built once by
C{makeService} and passed to the managers.
"""


from nova import exception
from nova.db import schema
from nova.db.auth import AuthStore
from nova.db.generations import GenerationStore
from nova.db.images import ImageStore
from nova.db.instance_types import InstanceTypeStore
from nova.db.instances import InstanceStore
from nova.db.networks import NetworkStore
from nova.db.security_groups import SecurityGroupStore
from nova.db.keypairs import KeyPairStore
from nova.db.quotas import QuotaStore
from nova.db.scheduling import SchedulingStore
from nova.db.services import ServiceStore
from nova.db.store import InlineTransactor, Transactor, openDatabase
from nova.db.tags import TagStore
from nova.db.tokens import TokenStore
from nova.db.volumes import VolumeStore


class SchemaOutOfDate(exception.DatabaseError):
    """The database schema is not the one this code needs."""

    code = "SchemaOutOfDate"


class NovaDatabase:
    """
    @ivar transactor: runs the transactions.
    @ivar services: a L{ServiceStore}.
    @ivar instances: an L{InstanceStore}.
    @ivar networks: a L{NetworkStore} (networks, fixed and floating IPs).
    @ivar securityGroups: a L{SecurityGroupStore}.
    @ivar instanceTypes: an L{InstanceTypeStore}.
    @ivar scheduling: a L{SchedulingStore} (the schedulers' queries).
    @ivar auth: an L{AuthStore} (the SQL auth driver's tables).
    @ivar keypairs: a L{KeyPairStore}.
    @ivar quotas: a L{QuotaStore}.
    @ivar volumes: a L{VolumeStore} (volumes and snapshots).
    @ivar images: an L{ImageStore} (images and their launch permissions).
    @ivar tags: a L{TagStore} (tags on EC2 resources).
    @ivar generations: a L{GenerationStore} (counters of changes to what
        processes cache).
    @ivar tokens: a L{TokenStore} (the OpenStack API's tokens).
    """

    def __init__(self, transactor, clock):
        self.transactor = transactor
        self.clock = clock
        self.services = ServiceStore(transactor, clock)
        self.instances = InstanceStore(transactor, clock)
        self.networks = NetworkStore(transactor, clock)
        self.securityGroups = SecurityGroupStore(transactor, clock)
        self.instanceTypes = InstanceTypeStore(transactor, clock)
        self.scheduling = SchedulingStore(transactor, clock)
        self.auth = AuthStore(transactor, clock)
        self.keypairs = KeyPairStore(transactor, clock)
        self.quotas = QuotaStore(transactor, clock)
        self.volumes = VolumeStore(transactor, clock)
        self.images = ImageStore(transactor, clock)
        self.tags = TagStore(transactor, clock)
        self.generations = GenerationStore(transactor, clock)
        self.tokens = TokenStore(transactor, clock)

    def sync(self, version=None):
        """
        Apply every pending schema patch (up to C{version}, if given).

        @return: L{Deferred} firing with the list of patches applied now.
        """
        return self.transactor.transact(schema.upgrade, version)

    def checkSchema(self):
        """
        @return: L{Deferred} firing when every schema patch is applied;
            failing with L{SchemaOutOfDate} otherwise.
        """
        d = self.transactor.transact(schema.pendingVersions)

        def check(pending):
            if pending:
                raise SchemaOutOfDate(
                    "database schema lacks patches "
                    f"{', '.join(map(str, pending))}: run `nova-manage db sync`"
                )

        return d.addCallback(check)

    def version(self):
        """
        @return: L{Deferred} firing with the newest applied patch number.
        """
        return self.transactor.transact(schema.currentVersion)


def databaseFromConfig(config, reactor):
    """
    Open the database that C{--sql_connection} names.

    @return: a L{NovaDatabase} whose transactor is an L{IService} that the
        caller must start (give it a parent).
    """
    transactor = Transactor(
        openDatabase(config.sql_connection), reactor, config.sql_max_threads
    )
    return NovaDatabase(transactor, reactor)


def inlineDatabase(uri, clock):
    """
    A database whose transactions run at once in the calling thread: for
    tests and tools.

    @return: a L{NovaDatabase}.
    """
    return NovaDatabase(InlineTransactor(openDatabase(uri)), clock)


__all__ = ["NovaDatabase", "databaseFromConfig", "inlineDatabase"]
