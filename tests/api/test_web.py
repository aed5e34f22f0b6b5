# -*- test-case-name: tests.api.test_web -*-
"""
Tests for L{nova.api.web}.
"""

from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from nova.api.web import writeResponse


class WriteResponseTests(SynchronousTestCase):
    def test_writes(self):
        request = DummyRequest([])
        writeResponse(request, 404, b"text/plain", b"Not Found\n", [])
        self.assertEqual(request.responseCode, 404)
        self.assertEqual(request.responseHeaders.getRawHeaders(b"content-type"), [b"text/plain"])
        self.assertEqual(request.responseHeaders.getRawHeaders(b"content-length"), [b"10"])
        self.assertEqual(b"".join(request.written), b"Not Found\n")
        self.assertEqual(request.finished, 1)

    def test_clientGone(self):
        request = DummyRequest([])
        writeResponse(request, 200, b"text/plain", b"x", [object()])
        self.assertEqual(request.written, [])
        self.assertEqual(request.finished, 0)
