# -*- test-case-name: tests.test_quota -*-
"""
Per-project quotas: limits on what a project may hold at once.

Defaults come from the C{--quota_*} flags; an operator overrides them per
project (C{nova-manage project quota <project> <resource> <limit>}), stored
in the quotas table (L{nova.db.quotas}).  A limit of L{None} (stored as -1,
written C{unlimited}) means no limit.

The compute, volume and network layers ask how much of a request fits
(L{QuotaEngine.allowed}, L{QuotaEngine.allowedInstances},
L{QuotaEngine.allowedVolumes}): as in Nova, a request for several instances
is trimmed to what the quota allows, and refused only when nothing fits.
"""

from twisted.internet.defer import fail, inlineCallbacks

from nova.config import Flag
from nova.db.quotas import UNLIMITED
from nova.exception import Invalid, NovaError

OPTIONS = (
    Flag("quota_instances", "int", 10, "Instances a project may run at once.", minimum=-1),
    Flag("quota_cores", "int", 20, "Virtual CPUs a project's instances may have in all.", minimum=-1),
    Flag("quota_volumes", "int", 10, "Volumes a project may have.", minimum=-1),
    Flag("quota_gigabytes", "int", 1000, "Gigabytes of volumes a project may have in all.", minimum=-1),
    Flag("quota_floating_ips", "int", 10, "Floating IPs a project may allocate.", minimum=-1),
    Flag("quota_metadata_items", "int", 128, "Metadata items an instance may have.", minimum=-1),
)

# The resources, in the order nova-manage prints them.
RESOURCES = ("instances", "cores", "volumes", "gigabytes", "floating_ips", "metadata_items")


class QuotaExceeded(NovaError):
    """Quota exceeded."""

    code = "QuotaExceeded"
    ec2Code = "ResourceLimitExceeded"
    httpStatus = 400


class InstanceLimitExceeded(QuotaExceeded):
    """Instance quota exceeded."""

    code = "InstanceLimitExceeded"
    ec2Code = "InstanceLimitExceeded"


class VolumeLimitExceeded(QuotaExceeded):
    """Volume quota exceeded."""

    code = "VolumeLimitExceeded"
    ec2Code = "VolumeLimitExceeded"


class AddressLimitExceeded(QuotaExceeded):
    """Address quota exceeded."""

    code = "AddressLimitExceeded"
    ec2Code = "AddressLimitExceeded"


class MetadataLimitExceeded(QuotaExceeded):
    """Metadata quota exceeded."""

    code = "MetadataLimitExceeded"
    ec2Code = "InvalidParameterValue"


class UnknownQuotaResource(Invalid):
    """No such quota resource."""

    code = "UnknownQuotaResource"


_EXCEEDED = {
    "instances": InstanceLimitExceeded,
    "cores": InstanceLimitExceeded,
    "volumes": VolumeLimitExceeded,
    "gigabytes": VolumeLimitExceeded,
    "floating_ips": AddressLimitExceeded,
    "metadata_items": MetadataLimitExceeded,
}


def _checkResource(resource):
    if resource not in RESOURCES:
        raise UnknownQuotaResource(
            f"no quota resource {resource!r}; resources are {', '.join(RESOURCES)}"
        )


def parseLimit(text):
    """
    Read a limit as an operator writes it: a number, or C{unlimited}
    (also C{-1}).

    @return: an L{int} or L{None} for unlimited.
    @raise Invalid: for anything else.
    """
    text = str(text).strip().lower()
    if text in ("unlimited", "none", "-1"):
        return None
    try:
        limit = int(text, 10)
    except ValueError:
        raise Invalid(f"a quota limit is a number or 'unlimited', not {text!r}")
    if limit < 0:
        raise Invalid(f"a quota limit cannot be negative: {limit}")
    return limit


def _fits(limit, used, requested):
    if limit is None:
        return requested
    return max(0, min(requested, limit - used))


class QuotaEngine:
    """
    @ivar defaults: a L{dict} from resource to default limit (L{None}:
        unlimited).
    @ivar store: the L{nova.db.quotas.QuotaStore}.
    """

    def __init__(self, store, defaults):
        self.store = store
        self.defaults = dict(defaults)

    @classmethod
    def fromConfig(cls, config, db):
        """
        @return: a L{QuotaEngine} with the C{--quota_*} defaults over
            C{db.quotas}.
        """
        defaults = {}
        for resource in RESOURCES:
            value = getattr(config, "quota_" + resource)
            defaults[resource] = None if value == UNLIMITED else value
        return cls(db.quotas, defaults)

    @inlineCallbacks
    def getQuota(self, projectId):
        """
        @return: L{Deferred} firing with a L{dict} from every resource in
            L{RESOURCES} to the project's limit (L{None}: unlimited).
        """
        overrides = yield self.store.get(projectId)
        quota = dict(self.defaults)
        for resource, limit in overrides.items():
            if resource in quota:
                quota[resource] = None if limit == UNLIMITED else limit
        return quota

    def setQuota(self, projectId, resource, limit):
        """
        Override a project's limit.

        @param limit: an L{int} (at least 0) or L{None} for unlimited.
        @return: L{Deferred} firing with L{None}; failing with
            L{UnknownQuotaResource} for a resource not in L{RESOURCES}.
        """
        try:
            _checkResource(resource)
            if limit is not None and limit < 0:
                raise Invalid(f"a quota limit cannot be negative: {limit}")
        except NovaError as e:
            return fail(e)
        return self.store.set(projectId, resource, UNLIMITED if limit is None else limit)

    def resetQuota(self, projectId, resource=None):
        """
        Drop a project's override of C{resource} (or all of them).

        @return: L{Deferred} firing with L{None}.
        """
        if resource is not None:
            try:
                _checkResource(resource)
            except NovaError as e:
                return fail(e)
        return self.store.delete(projectId, resource)

    @inlineCallbacks
    def allowed(self, projectId, resource, requested, used):
        """
        How much of a request fits in the quota.

        @param requested: how many (or how much) the request wants.
        @param used: how many the project holds now.
        @return: L{Deferred} firing with the L{int} between 0 and
            C{requested} that fits.
        """
        _checkResource(resource)
        quota = yield self.getQuota(projectId)
        return _fits(quota[resource], used, requested)

    @inlineCallbacks
    def allowedInstances(self, projectId, requested, vcpus, usedInstances, usedCores):
        """
        How many instances of C{vcpus} virtual CPUs fit in both the
        instance and the core quotas (Nova's C{allowed_instances}).

        @return: L{Deferred} firing with an L{int} between 0 and
            C{requested}.
        """
        quota = yield self.getQuota(projectId)
        count = _fits(quota["instances"], usedInstances, requested)
        if quota["cores"] is not None and vcpus > 0:
            count = min(count, max(0, quota["cores"] - usedCores) // vcpus)
        return count

    @inlineCallbacks
    def allowedVolumes(self, projectId, requested, sizeGB, usedVolumes, usedGigabytes):
        """
        How many volumes of C{sizeGB} fit in the volume and gigabyte
        quotas.

        @return: L{Deferred} firing with an L{int} between 0 and
            C{requested}.
        """
        quota = yield self.getQuota(projectId)
        count = _fits(quota["volumes"], usedVolumes, requested)
        if quota["gigabytes"] is not None and sizeGB > 0:
            count = min(count, max(0, quota["gigabytes"] - usedGigabytes) // sizeGB)
        return count

    @inlineCallbacks
    def checkAllowed(self, projectId, resource, requested, used):
        """
        Like L{allowed}, but all or nothing.

        @return: L{Deferred} firing with C{requested}; failing with the
            L{QuotaExceeded} subclass of the resource when not all fits.
        """
        fits = yield self.allowed(projectId, resource, requested, used)
        if fits < requested:
            quota = yield self.getQuota(projectId)
            raise _EXCEEDED[resource](
                f"Quota exceeded for {resource}: requested {requested}, "
                f"{used} in use, limit {quota[resource]}"
            )
        return requested

    def exceeded(self, resource, message):
        """
        @return: the L{QuotaExceeded} subclass instance for C{resource}
            (for callers that trimmed a request to nothing).
        """
        _checkResource(resource)
        return _EXCEEDED[resource](message)
