# -*- test-case-name: tests.api.test_web -*-
"""
Helpers for nova-api's C{twisted.web} resources.
"""


def writeResponse(request, status, contentType, body, lost):
    """
    Write a whole answer to a request rendered with C{NOT_DONE_YET} and
    finish it, unless the client went away.

    @param contentType: the C{Content-Type} (L{bytes}).
    @param body: the body (L{bytes}).
    @param lost: a L{list} that holds something once the client went away
        (the errback of C{request.notifyFinish()} appends to it).
    """
    if lost:
        return
    request.setResponseCode(status)
    request.setHeader(b"content-type", contentType)
    request.setHeader(b"content-length", str(len(body)).encode("ascii"))
    request.write(body)
    request.finish()
