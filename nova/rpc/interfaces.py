# -*- test-case-name: tests.rpc.test_local -*-
"""
The RPC interfaces.  Messages go to a topic: a service of topic C{compute}
on host C{h1} consumes C{compute} (shared with its peers, each message to
one of them), C{compute.h1} (its own) and the fanout of C{compute} (every
peer gets each message).
"""

from zope.interface import Attribute, Interface

from nova.exception import RPCTimeout


class BrokerUnavailable(RPCTimeout):
    """
    The message broker could not be reached: a call or a cast waited for
    a connection until its deadline.  Transient: the same request may
    succeed later.  (An L{RPCTimeout}, so what handles a call that got no
    answer handles this too, and an L{nova.exception.RPCError}, as a cast
    that could not be sent always was.)

    @cvar outage: what is out, for L{nova.util.outage.OutageLog}.
    """

    code = "BrokerUnavailable"
    outage = "message broker"


class IDispatcher(Interface):
    """
    What a consumer hands each received request to.
    """

    def dispatch(context, method, args):
        """
        Run one request.

        @param context: a L{nova.context.RequestContext}.
        @param method: the method name (L{str}).
        @param args: the keyword arguments (L{dict}, JSON values).
        @return: L{Deferred} firing with a JSON-serialisable result, or
            failing with a L{nova.exception.NovaError} (such as
            L{nova.exception.UnknownMethod}) or another exception.
        """


class IRPCConsumer(Interface):
    """
    A running consumer made by L{IRPC.serve}.
    """

    def stop():
        """
        Stop taking new messages.  Requests already handed to the
        dispatcher finish and are answered.

        @return: L{Deferred} firing with C{None} once no new message can
            arrive.
        """


class IRPC(Interface):
    """
    Sends requests to topics and serves topics.  Every message is JSON:
    arguments and results must be JSON values.
    """

    connected = Attribute(
        "Whether messages can be sent now (C{False} while the broker cannot "
        "be reached); heartbeats record it."
    )

    def call(context, topic, method, args, timeout=None):
        """
        Send a request to one consumer of C{topic} and wait for the answer.

        @param topic: C{<topic>} or C{<topic>.<host>}.
        @param timeout: seconds, or C{None} for the configured default.
        @return: L{Deferred} firing with the result; failing with the same
            L{nova.exception.NovaError} subclass the remote side raised,
            L{nova.exception.RemoteError} for any other remote exception,
            or L{nova.exception.RPCTimeout} when no answer came in time
            (L{BrokerUnavailable}, a subclass, when the bus could not be
            reached before the deadline).
        """

    def cast(context, topic, method, args):
        """
        Send a request to one consumer of C{topic}, without an answer.

        @return: L{Deferred} firing with C{None} once the bus took the
            message; failing with L{nova.exception.RPCError} if it could
            not (L{BrokerUnavailable} when the bus could not be reached
            in time).
        """

    def fanoutCast(context, topic, method, args):
        """
        Send a request to every consumer of C{topic}, without an answer.

        @return: as for L{cast}.
        """

    def serve(topic, host, dispatcher):
        """
        Consume C{topic}, C{<topic>.<host>} and the fanout of C{topic}.

        @param dispatcher: an L{IDispatcher}.
        @return: L{Deferred} firing with an L{IRPCConsumer} once consuming.
        """
