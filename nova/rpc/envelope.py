# -*- test-case-name: tests.rpc.test_envelope -*-
"""
The wire format of RPC messages: JSON with only ASCII characters (non-ASCII
text is escaped, so every body is plain bytes that any broker passes
through), carrying a version, the method, its arguments, the request
context, a message id and, for calls, where to reply.
"""

import json
import uuid

import attr

from nova import exception
from nova.context import RequestContext

VERSION = 1


@attr.s(frozen=True)
class Request:
    """
    A decoded request.
    """

    context = attr.ib()
    method = attr.ib()
    args = attr.ib()
    msgId = attr.ib()
    replyTo = attr.ib(default=None)


def newMessageId():
    """
    @return: a fresh unique message id.
    """
    return uuid.uuid4().hex


def _dump(data):
    return json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def encodeRequest(context, method, args, msgId, replyTo=None):
    """
    @return: the request as L{bytes}.
    @raise nova.exception.InvalidArguments: if C{args} is not JSON.
    """
    if not isinstance(args, dict):
        raise exception.InvalidArguments("RPC arguments must be a mapping")
    try:
        return _dump(
            {
                "version": VERSION,
                "method": method,
                "args": args,
                "context": context.toDict(),
                "msgId": msgId,
                "replyTo": replyTo,
            }
        )
    except (TypeError, ValueError) as e:
        raise exception.InvalidArguments(f"RPC arguments are not JSON: {e}")


def decodeRequest(body):
    """
    @param body: L{bytes} received from the bus.
    @return: a L{Request}.
    @raise nova.exception.InvalidArguments: for a malformed message.
    """
    try:
        data = json.loads(body)
        if data.get("version") != VERSION:
            raise exception.InvalidArguments(
                f"unsupported RPC message version {data.get('version')!r}"
            )
        method, args = data["method"], data["args"]
        if not isinstance(method, str) or not isinstance(args, dict):
            raise exception.InvalidArguments("malformed RPC message")
        return Request(
            context=RequestContext.fromDict(data.get("context") or {}),
            method=method,
            args=args,
            msgId=data.get("msgId"),
            replyTo=data.get("replyTo"),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise exception.InvalidArguments(f"malformed RPC message: {e}")


def errorToDict(error):
    """
    @param error: an exception instance.
    @return: a L{dict} that L{errorFromDict} turns back into the same class.
    """
    if isinstance(error, exception.RemoteError):
        return {"code": error.code, "message": error.message, "type": error.errorType}
    if isinstance(error, exception.NovaError):
        return {"code": error.code, "message": error.message, "type": type(error).__name__}
    return {
        "code": exception.RemoteError.code,
        "message": str(error) or type(error).__name__,
        "type": type(error).__name__,
    }


def errorFromDict(data):
    """
    @return: the exception L{errorToDict} described.
    """
    return exception.errorFromCode(
        data.get("code", "RemoteError"), data.get("message", ""), data.get("type")
    )


def encodeReply(msgId, result=None, error=None):
    """
    @param error: an exception, or C{None} for success.
    @return: the reply as L{bytes}.
    """
    if error is not None:
        return _dump({"msgId": msgId, "error": errorToDict(error)})
    try:
        return _dump({"msgId": msgId, "result": result})
    except (TypeError, ValueError) as e:
        return _dump(
            {
                "msgId": msgId,
                "error": errorToDict(
                    exception.RPCError(f"result is not JSON: {e}")
                ),
            }
        )


def decodeReply(body):
    """
    @return: C{(msgId, result, error)}; C{error} is an exception or C{None}.
    """
    try:
        data = json.loads(body)
        msgId = data["msgId"]
    except (ValueError, KeyError, TypeError) as e:
        return None, None, exception.RPCError(f"malformed RPC reply: {e}")
    if "error" in data:
        return msgId, None, errorFromDict(data["error"])
    return msgId, data.get("result"), None
