# -*- test-case-name: tests.api.openstack.test_v10 -*-
"""
The OpenStack API v1.0's rate limits, as Cactus had them: each user may
send so many requests of a verb to paths matching a pattern per unit of
time (L{DEFAULT_LIMITS}); every limit a request matches counts it, and a
request over any of them is refused with C{413 overLimit} and a
C{Retry-After} header saying in how many seconds it would be accepted.

Each limit is a leaky bucket per user: a request pours C{unit / value}
seconds of water into it, the bucket drains one second per second, and a
request that would make it overflow C{unit} seconds is refused (and pours
nothing).  The buckets live in the L{RateLimiter} of one API server, as
Cactus's did: several nova-api processes each count on their own.
"""

import math
import re

import attr

SECOND, MINUTE, HOUR, DAY = 1, 60, 3600, 86400

UNIT_NAMES = {SECOND: "SECOND", MINUTE: "MINUTE", HOUR: "HOUR", DAY: "DAY"}


@attr.s(frozen=True)
class Limit:
    """
    @ivar verb: the HTTP method it counts.
    @ivar uri: the pattern as the limits document shows it (C{*/servers}).
    @ivar regex: the regular expression a request's path (after the
        version) must match (C{re.search}).
    @ivar value: how many requests per C{unit}.
    @ivar unit: seconds (L{MINUTE}, L{DAY}...).
    """

    verb = attr.ib()
    uri = attr.ib()
    regex = attr.ib()
    value = attr.ib()
    unit = attr.ib()

    def matches(self, verb, path):
        return verb == self.verb and re.search(self.regex, path) is not None


#: Cactus's defaults.
DEFAULT_LIMITS = (
    Limit("POST", "*", ".*", 10, MINUTE),
    Limit("POST", "*/servers", "^/servers", 50, DAY),
    Limit("PUT", "*", ".*", 10, MINUTE),
    Limit("GET", "*changes-since*", ".*changes-since.*", 3, MINUTE),
    Limit("DELETE", "*", ".*", 100, MINUTE),
)


class RateLimiter:
    """
    The buckets of one API server.

    @ivar limits: the L{Limit}s.
    @ivar clock: an L{twisted.internet.interfaces.IReactorTime}.
    """

    def __init__(self, clock, limits=DEFAULT_LIMITS):
        self.clock = clock
        self.limits = tuple(limits)
        self._levels = {}

    def _level(self, key, now):
        level, when = self._levels.get(key, (0.0, now))
        return max(0.0, level - (now - when))

    def check(self, user, verb, path):
        """
        Count a request of C{user}.

        @param path: the request's path after the version, with its query
            string (C{/servers/detail?changes-since=...}).
        @return: L{None} if it is allowed (and counted), else the seconds
            until it would be (an L{int} of at least 1).
        """
        now = self.clock.seconds()
        matching = [limit for limit in self.limits if limit.matches(verb, path)]
        wait = 0.0
        for limit in matching:
            level = self._level((user, limit), now)
            cost = limit.unit / limit.value
            if level + cost > limit.unit + 1e-9:
                wait = max(wait, level + cost - limit.unit)
        if wait > 0:
            return max(1, int(math.ceil(wait)))
        for limit in matching:
            key = (user, limit)
            self._levels[key] = (self._level(key, now) + limit.unit / limit.value, now)
        return None

    def describe(self, user):
        """
        @return: the limits as the C{rate} list of C{GET /limits} shows
            them for C{user}: verb, URI, regex, value, unit, what remains
            and when the bucket is empty again (epoch seconds).
        """
        now = self.clock.seconds()
        described = []
        for limit in self.limits:
            level = self._level((user, limit), now)
            cost = limit.unit / limit.value
            described.append(
                {
                    "verb": limit.verb,
                    "URI": limit.uri,
                    "regex": limit.regex,
                    "value": limit.value,
                    "unit": UNIT_NAMES.get(limit.unit, str(limit.unit)),
                    "remaining": int((limit.unit - level) / cost + 1e-9),
                    "resetTime": int(now + level),
                }
            )
        return described
