# -*- test-case-name: tests.api.test_root -*-
"""
The root of nova-api's web tree.
"""

from twisted.web.resource import Resource


class APIRoot(Resource):
    """
    C{/}: names the APIs served below it; the APIs are children.
    """

    def __init__(self, config):
        Resource.__init__(self)
        self.config = config

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return (
            "nova-api\n"
            f"EC2 API: {self.config.ec2_path}\n"
        ).encode("utf-8")

    def getChild(self, name, request):
        if name == b"":
            return self
        return Resource.getChild(self, name, request)
