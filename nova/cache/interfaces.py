# -*- test-case-name: tests.cache.test_memory -*-
"""
The read-cache interface.

A cache maps text keys to text values that expire.  It is only ever an
optimisation or a shared counter: callers treat a missing key as "ask the
source of truth", and must survive L{CacheUnavailable}.
"""

from zope.interface import Interface

from nova.exception import NovaError


class CacheUnavailable(NovaError):
    """The cache server did not answer."""

    code = "CacheUnavailable"
    ec2Code = "ServiceUnavailable"
    httpStatus = 503


class ICache(Interface):
    """
    Text values with a time to live.  Every method returns a L{Deferred}
    that may fail with L{CacheUnavailable}.
    """

    def get(key):
        """
        @type key: L{str}
        @return: L{Deferred} firing with the value (L{str}), or L{None} when
            the key is absent or expired.
        """

    def set(key, value, ttl=None):
        """
        Store C{value} under C{key}, replacing any value and expiry.

        @type value: L{str}
        @param ttl: seconds until the key expires (a positive number), or
            L{None} for no expiry.
        @return: L{Deferred} firing with L{None}.
        """

    def delete(*keys):
        """
        Remove keys; absent keys are ignored.

        @return: L{Deferred} firing with L{None}.
        """

    def increment(key, ttl):
        """
        Add one to the integer stored at C{key} (an absent key counts as 0).
        When this call creates the key, it expires C{ttl} seconds later; an
        existing key keeps its expiry, so a counter counts the events of a
        fixed window that starts with the first.

        @return: L{Deferred} firing with the new value (L{int}).
        """
