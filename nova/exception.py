# -*- test-case-name: tests.test_exception -*-
"""
Nova's exceptions.  Each class has a stable C{code} that travels across RPC
and maps to API error codes, so the caller raises the remote error's own
class again (see L{errorFromCode}).
"""

import inspect
import re

_MARKUP = re.compile(r"\b[A-Z]\{([^{}]*)\}")


def defaultMessage(cls):
    """
    The message of an error raised without one: the first paragraph of
    its class's docstring (or of the nearest documented base's), as one
    sentence on one line, without epytext markup (C{L{NovaError}} becomes
    C{NovaError}).

    @param cls: a L{NovaError} subclass.
    @return: the message (L{str}).
    """
    lines = []
    for line in (inspect.getdoc(cls) or cls.__name__).splitlines():
        line = line.strip()
        if not line or line.startswith("@"):
            break
        lines.append(line)
    return _MARKUP.sub(r"\1", " ".join(lines))


class NovaError(Exception):
    """
    Base of every error Nova raises on purpose.

    The message defaults to the first paragraph of the class's docstring
    (L{defaultMessage}).

    @cvar code: a stable identifier, unique per class, used over RPC.
    @cvar ec2Code: the EC2 API error code for this error.
    @cvar httpStatus: the HTTP status an API answers with.
    """

    code = "NovaError"
    ec2Code = "InternalError"
    httpStatus = 500

    def __init__(self, message=None):
        if message is None:
            message = defaultMessage(type(self))
        super().__init__(message)
        self.message = message

    def __str__(self):
        return self.message


class NotFound(NovaError):
    """Not found."""

    code = "NotFound"
    ec2Code = "InvalidParameterValue"
    httpStatus = 400


class Invalid(NovaError):
    """Invalid request."""

    code = "Invalid"
    ec2Code = "InvalidParameterValue"
    httpStatus = 400


class NotAuthorized(NovaError):
    """Not authorized."""

    code = "NotAuthorized"
    ec2Code = "UnauthorizedOperation"
    httpStatus = 403


class RPCError(NovaError):
    """An RPC failed."""

    code = "RPCError"


class RPCTimeout(RPCError):
    """An RPC call got no answer in time."""

    code = "RPCTimeout"
    ec2Code = "ServiceUnavailable"
    httpStatus = 503


class UnknownMethod(RPCError):
    """The service does not expose that method."""

    code = "UnknownMethod"


class InvalidArguments(RPCError):
    """The arguments do not fit the exposed method."""

    code = "InvalidArguments"


class RemoteError(RPCError):
    """
    The remote side failed with an error that is not a L{NovaError}; its
    type name and message are kept.
    """

    code = "RemoteError"

    def __init__(self, message=None, errorType="Exception"):
        super().__init__(message)
        self.errorType = errorType


class ServiceNotFound(NotFound):
    """No such service."""

    code = "ServiceNotFound"


class NoValidHost(NovaError):
    """No host is available for the request."""

    code = "NoValidHost"
    ec2Code = "InsufficientInstanceCapacity"
    httpStatus = 503


class DatabaseError(NovaError):
    """The database refused the operation."""

    code = "DatabaseError"


def _allSubclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _allSubclasses(sub)


def errorClasses():
    """
    @return: a L{dict} from C{code} to class for L{NovaError} and every
        subclass defined so far (subsystems define theirs in their own
        modules, imported before any RPC is made).
    """
    classes = {NovaError.code: NovaError}
    for cls in _allSubclasses(NovaError):
        classes.setdefault(cls.code, cls)
    return classes


def errorFromCode(code, message, errorType=None):
    """
    Rebuild an error received over RPC.

    @return: an instance of the class whose C{code} is C{code}, or a
        L{RemoteError} when no such class is known.
    """
    cls = errorClasses().get(code)
    if cls is None or cls is RemoteError:
        return RemoteError(message, errorType or code)
    error = cls.__new__(cls)
    NovaError.__init__(error, message)
    return error
