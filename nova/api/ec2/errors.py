# -*- test-case-name: tests.api.ec2.test_errors -*-
"""
EC2 API errors and the one place that turns any failure into an EC2 error
answer.

An action fails by raising (or failing its Deferred with) any
L{nova.exception.NovaError}: its C{ec2Code}, C{httpStatus} and message
become the error document.  For an EC2 code that no Nova class names, raise
L{EC2Error} with the code itself::

    raise EC2Error("InvalidKeyPair.NotFound", f"The key pair '{name}' does not exist")

An error saying the database or the message broker cannot be reached
(L{nova.util.outage.outageOf}: L{nova.db.store.DatabaseUnavailable},
L{nova.rpc.interfaces.BrokerUnavailable}) becomes C{Unavailable} (HTTP 503),
which clients retry; the resource logs it once per outage.

Anything else (a bug) becomes C{InternalError} (HTTP 500) and is logged once
by the resource, never shown to the client.
"""

from nova.exception import NovaError, RPCTimeout
from nova.util.outage import outageOf


class EC2Error(NovaError):
    """
    An EC2 API error with an explicit EC2 code.

    @ivar ec2Code: the code clients see (C{InvalidKeyPair.NotFound}).
    @ivar httpStatus: the HTTP status of the answer.
    """

    code = "EC2Error"

    def __init__(self, ec2Code, message, httpStatus=400):
        """
        @param ec2Code: the EC2 error code.
        @param message: one line for the client.
        @param httpStatus: the HTTP status; 400 unless given.
        """
        super().__init__(message)
        self.ec2Code = ec2Code
        self.httpStatus = httpStatus


class MissingParameter(EC2Error):
    """
    A required parameter is absent.
    """

    code = "EC2.MissingParameter"

    def __init__(self, name):
        super().__init__(
            "MissingParameter", f"The request must contain the parameter {name}"
        )
        self.parameter = name


class AuthFailure(EC2Error):
    """
    The request's credentials could not be validated: what EC2 answers a
    signature made with the wrong secret (S3 answers the same failure
    with C{SignatureDoesNotMatch}).
    """

    code = "EC2.AuthFailure"

    def __init__(
        self, message="AWS was not able to validate the provided access credentials"
    ):
        super().__init__("AuthFailure", message, 401)


class MissingAction(EC2Error):
    """
    The request names no action.
    """

    code = "EC2.MissingAction"

    def __init__(self):
        super().__init__(
            "MissingAction", "The request must contain the parameter Action"
        )


class InvalidAction(EC2Error):
    """
    The request names an action this API does not have.
    """

    code = "EC2.InvalidAction"

    def __init__(self, action):
        super().__init__(
            "InvalidAction", f"The action {action} is not valid for this web service."
        )


class UnknownParameter(EC2Error):
    """
    A parameter the action does not take.
    """

    code = "EC2.UnknownParameter"

    def __init__(self, name):
        super().__init__("UnknownParameter", f"The parameter {name} is not recognized")
        self.parameter = name


class InvalidParameterValue(EC2Error):
    """
    A parameter's value is malformed or out of range.
    """

    code = "EC2.InvalidParameterValue"

    def __init__(self, message):
        super().__init__("InvalidParameterValue", message)


class InvalidParameterCombination(EC2Error):
    """
    Parameters that cannot be used together were.
    """

    code = "EC2.InvalidParameterCombination"

    def __init__(self, message):
        super().__init__("InvalidParameterCombination", message)


class InvalidFilter(EC2Error):
    """
    A filter name the action does not support.
    """

    code = "EC2.InvalidFilter"

    def __init__(self, name):
        super().__init__("InvalidParameterValue", f"The filter '{name}' is invalid")


class MalformedQueryString(EC2Error):
    """
    The query string or form body cannot be decoded.
    """

    code = "EC2.MalformedQueryString"

    def __init__(self, message):
        super().__init__("MalformedQueryString", message)


class InvalidRequest(EC2Error):
    """
    The HTTP request itself is unacceptable (method, content type).
    """

    code = "EC2.InvalidRequest"

    def __init__(self, message, httpStatus=400):
        super().__init__("InvalidRequest", message, httpStatus)


class RequestTooLarge(EC2Error):
    """
    The request is larger than C{ec2_max_request_bytes}.
    """

    code = "EC2.RequestTooLarge"

    def __init__(self, limit):
        super().__init__(
            "RequestEntityTooLarge",
            f"The request is larger than the {limit} bytes allowed.",
            413,
        )


class UnauthorizedOperation(EC2Error):
    """
    The caller's roles do not allow the action.
    """

    code = "EC2.UnauthorizedOperation"

    def __init__(self, message="You are not authorized to perform this operation."):
        super().__init__("UnauthorizedOperation", message, 403)


class DryRunOperation(EC2Error):
    """
    The request had C{DryRun=true} and would have been allowed.
    """

    code = "EC2.DryRunOperation"

    def __init__(self):
        super().__init__(
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
            412,
        )


class UnsupportedOperation(EC2Error):
    """
    The action exists but the requested variant is not supported.
    """

    code = "EC2.UnsupportedOperation"

    def __init__(self, message):
        super().__init__("UnsupportedOperation", message)


class ServiceNotConfigured(EC2Error):
    """
    The action needs a service this nova-api was built without (its
    backend is L{None}): EC2's C{Unsupported}, HTTP 400.

    @ivar service: the service's name (C{"volume"}).
    """

    code = "EC2.ServiceNotConfigured"

    def __init__(self, service):
        super().__init__(
            "Unsupported",
            f"The {service} service is not configured on this server, so this "
            "request is unsupported.",
        )
        self.service = service


INTERNAL_ERROR_MESSAGE = "An internal error has occurred"
UNAVAILABLE_MESSAGE = "The service is temporarily unavailable. Please try again shortly."


def describeFailure(failure):
    """
    Decide the EC2 error answer for a failure.

    @param failure: a L{twisted.python.failure.Failure}.
    @return: C{(httpStatus, ec2Code, message, unexpected)}; C{unexpected}
        is true when the failure is a bug that the caller logs (its details
        are not in C{message}).
    """
    error = failure.value
    if outageOf(error) is not None:
        # The database or the message broker cannot be reached: what
        # clients retry (botocore retries every 503), without the cause.
        return 503, "Unavailable", UNAVAILABLE_MESSAGE, False
    if isinstance(error, RPCTimeout):
        message = "The service is unavailable. Please try again shortly."
        return 503, "ServiceUnavailable", message, False
    if isinstance(error, NovaError):
        status = getattr(error, "httpStatus", 500)
        code = getattr(error, "ec2Code", "InternalError")
        if status >= 500 and code == "InternalError":
            return 500, "InternalError", INTERNAL_ERROR_MESSAGE, True
        return status, code, str(error), False
    return 500, "InternalError", INTERNAL_ERROR_MESSAGE, True
