# -*- test-case-name: tests.api.ec2.test_outage,tests.objectstore.test_resource -*-
"""
One log line per outage of what an API depends on, instead of a traceback
per request.

An error that says a dependency cannot be reached (the database, the
message broker) has a class attribute C{outage} naming it
(L{nova.db.store.DatabaseUnavailable}, L{nova.rpc.interfaces.BrokerUnavailable}).
An API's error mapper hands every failure to its L{OutageLog}: the first
one of an outage is logged with its cause, the following ones are only
counted, and the first request that succeeds afterwards logs the end of
the outage with the count.
"""

from twisted.logger import Logger


def outageOf(error):
    """
    @param error: an exception.
    @return: the name of the dependency C{error} says is unreachable
        (C{"database"}, C{"message broker"}), or L{None}.
    """
    outage = getattr(type(error), "outage", None)
    return outage if isinstance(outage, str) else None


class OutageLog:
    """
    What one API's error mapper (or one daemon's periodic tasks) knows
    about outages.

    @ivar failures: the number of requests failed by each dependency that
        is out now, by its name.
    """

    log = Logger()

    def __init__(self, api, what="requests"):
        """
        @param api: the API's name, for the log (C{"EC2"}, C{"S3"}).
        @param what: what fails, for the log (C{"requests"}, C{"periodic
            task runs"}).
        """
        self.api = api
        self.what = what
        self.failures = {}

    def failed(self, failure):
        """
        A request failed with C{failure}.

        @return: whether it is an outage's failure (logged here, when it
            is the outage's first; the caller does not log it).
        """
        outage = outageOf(failure.value)
        if outage is None:
            return False
        count = self.failures.get(outage, 0)
        self.failures[outage] = count + 1
        if count == 0:
            self.log.error(
                "{api} {what} fail: the {outage} is unreachable ({error}); "
                "further failures are counted until one succeeds",
                api=self.api,
                what=self.what,
                outage=outage,
                error=f"{type(failure.value).__name__}: {failure.value}",
            )
        return True

    def succeeded(self):
        """
        A request succeeded: every outage being counted is over.
        """
        if not self.failures:
            return
        failures, self.failures = self.failures, {}
        for outage, count in sorted(failures.items()):
            self.log.info(
                "{api}: {outage} reachable again after {count} failed {what}",
                api=self.api,
                what=self.what,
                outage=outage,
                count=count,
            )
