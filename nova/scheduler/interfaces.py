# -*- test-case-name: tests.scheduler.test_drivers -*-
"""
The scheduler driver interface: how a host is picked for a request.
"""

from zope.interface import Interface


class ISchedulerDriver(Interface):
    """
    Picks the host that serves a request.
    """

    def pickHost(context, topic, request):
        """
        Choose a live, enabled host of C{topic} for C{request}.

        @param context: the L{nova.context.RequestContext} of the request
            (an admin may force a host with the availability zone
            C{zone:host}).
        @param topic: C{compute}, C{volume} or C{network}.
        @param request: a L{dict}.  For C{compute}: C{vcpus},
            C{memory_mb}, C{local_gb}; for C{volume}: C{size} (GiB); for
            both, optionally C{availabilityZone}.
        @return: L{Deferred} firing with C{(host, zone)}: the host's name
            and the availability zone its service of C{topic} reports;
            failing with L{nova.exception.NoValidHost} when no host can
            take it.
        """
