# -*- test-case-name: tests.api.openstack.test_compute,tests.api.openstack.test_outage -*-
"""
The OpenStack API's errors: every failure answers with a JSON document
of the shape OpenStack clients parse::

    {"itemNotFound": {"code": 404, "message": "..."}}

L{Fault} and its subclasses are raised by the handlers; L{faultFor} turns
any other exception (the service APIs' L{nova.exception.NovaError}s, or a
bug) into one.  A bug answers C{computeFault} (500) with a message that
names no code and shows no traceback; the traceback goes to the log.

An error saying the database or the message broker cannot be reached
(L{nova.util.outage.outageOf}: L{nova.db.store.DatabaseUnavailable},
L{nova.rpc.interfaces.BrokerUnavailable}) answers C{serviceUnavailable}
(503) with C{Retry-After} (L{OUTAGE_RETRY_AFTER}), which clients retry;
the router logs it once per outage (L{nova.util.outage.OutageLog}).
"""

from nova import exception
from nova.auth import interfaces as authInterfaces
from nova.auth import signer
from nova.quota import QuotaExceeded
from nova.util.outage import outageOf

#: Seconds a client is told to wait (C{Retry-After}) before it sends again
#: a request that failed because the database or the message broker cannot
#: be reached: they reconnect on their own within seconds once back.
OUTAGE_RETRY_AFTER = 5

#: What a client is told when the database or the message broker cannot be
#: reached (the cause is logged, not told).
UNAVAILABLE_MESSAGE = "The service is temporarily unavailable. Please try again shortly."


class Fault(Exception):
    """
    An error answered as C{{name: {"code": status, "message": message}}}.

    @cvar name: the document's key (C{itemNotFound}, C{badRequest}...).
    @cvar status: the HTTP status.
    @ivar message: the text for the client.
    @ivar headers: extra response headers, a L{dict} of L{str}.
    """

    name = "computeFault"
    status = 500

    def __init__(self, message, headers=None):
        Exception.__init__(self, message)
        self.message = message
        self.headers = dict(headers or {})

    def body(self):
        """
        @return: the error document (a L{dict}).
        """
        return {self.name: {"code": self.status, "message": self.message}}


class BadRequest(Fault):
    name, status = "badRequest", 400


class Unauthorized(Fault):
    name, status = "unauthorized", 401


class Forbidden(Fault):
    name, status = "forbidden", 403


class ItemNotFound(Fault):
    name, status = "itemNotFound", 404


class MethodNotAllowed(Fault):
    name, status = "methodNotAllowed", 405


class NotAcceptable(Fault):
    name, status = "notAcceptable", 406


class Conflict(Fault):
    name, status = "conflict", 409


class OverLimit(Fault):
    name, status = "overLimit", 413


class UnsupportedMediaType(Fault):
    name, status = "unsupportedMediaType", 415


class ComputeFault(Fault):
    name, status = "computeFault", 500


class NotImplementedFault(Fault):
    name, status = "notImplemented", 501


class ServiceUnavailable(Fault):
    name, status = "serviceUnavailable", 503


def outageFault():
    """
    @return: the L{ServiceUnavailable} answering a request that failed
        because the database or the message broker cannot be reached.
    """
    return ServiceUnavailable(UNAVAILABLE_MESSAGE, {"Retry-After": str(OUTAGE_RETRY_AFTER)})


#: Error codes of the service layer (L{nova.exception.NovaError.code})
#: whose meaning is a state conflict (OpenStack answers 409).
_CONFLICT_CODES = frozenset(
    {
        "IncorrectInstanceState",
        "InstanceLocked",
        "OperationNotPermitted",
        "KeyPairExists",
        "Duplicate",
        "UserExists",
        "ProjectExists",
        "IdempotentParameterMismatch",
        "ConsoleUnavailable",
    }
)


def faultFor(error):
    """
    @param error: an exception.
    @return: the L{Fault} that answers it, or L{None} if it is not one the
        service layer raises on purpose (a bug: the caller logs it and
        answers L{ComputeFault}).
    """
    if isinstance(error, Fault):
        return error
    if outageOf(error) is not None:
        return outageFault()
    if not isinstance(error, exception.NovaError):
        return None
    message = str(error) or error.__doc__ or error.code
    if isinstance(error, (signer.AuthFailure, authInterfaces.NotProjectMember)):
        return Forbidden(message)
    if isinstance(error, QuotaExceeded):
        return Forbidden(f"Quota exceeded: {message}")
    if isinstance(error, exception.NotFound) or error.code.endswith("NotFound"):
        return ItemNotFound(message)
    if error.code in _CONFLICT_CODES or isinstance(error, authInterfaces.Duplicate):
        return Conflict(message)
    if isinstance(error, exception.NotAuthorized):
        return Forbidden(message)
    if isinstance(error, exception.Invalid) or error.httpStatus == 400:
        return BadRequest(message)
    if isinstance(error, exception.RPCTimeout) or error.httpStatus == 503:
        return ServiceUnavailable(message)
    return None
