# -*- test-case-name: tests.rpc.test_local -*-
"""
What every RPC implementation does with a received request: decode it,
hand it to the dispatcher, and encode the answer.
"""

from twisted.internet.defer import maybeDeferred
from twisted.logger import Logger

from nova import exception
from nova.rpc import envelope

log = Logger()


def processRequest(dispatcher, body):
    """
    Run one request body through C{dispatcher}.

    @param body: the message body, L{bytes}.
    @return: L{Deferred} firing with C{(replyTo, replyBody)}; C{replyTo} is
        C{None} for casts and C{replyBody} is then unused.  Never fails:
        errors become error replies, and errors that are not
        L{nova.exception.NovaError} are logged here, once.
    """
    try:
        request = envelope.decodeRequest(body)
    except exception.InvalidArguments as e:
        log.warn("dropping malformed RPC message: {error}", error=e)
        return maybeDeferred(lambda: (None, None))

    d = maybeDeferred(dispatcher.dispatch, request.context, request.method, request.args)

    def ok(result):
        return request.replyTo, envelope.encodeReply(request.msgId, result=result)

    def failed(failure):
        if not failure.check(exception.NovaError):
            log.failure(
                "RPC method {method} failed (request {requestId})",
                failure,
                method=request.method,
                requestId=request.context.requestId,
            )
        return request.replyTo, envelope.encodeReply(request.msgId, error=failure.value)

    d.addCallbacks(ok, failed)
    return d
