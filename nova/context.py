# -*- test-case-name: tests.test_context -*-
"""
The request context: who is acting, in which project, with which roles.  It
travels with every RPC message.
"""

import uuid

import attr


def newRequestId():
    """
    @return: a new request id in the form EC2 clients expect.
    """
    return str(uuid.uuid4())


@attr.s(frozen=True)
class RequestContext:
    """
    @ivar userId: the acting user's name, or C{None} for the system.
    @ivar projectId: the project acted in, or C{None}.
    @ivar roles: the roles effective in that project (global AND project).
    @ivar isAdmin: superuser (cloudadmin or the admin flag).
    @ivar requestId: identifies one API request through every service.
    @ivar remoteAddress: the client address the API saw, if any.
    """

    userId = attr.ib(default=None)
    projectId = attr.ib(default=None)
    roles = attr.ib(default=(), converter=tuple)
    isAdmin = attr.ib(default=False)
    requestId = attr.ib(factory=newRequestId)
    remoteAddress = attr.ib(default=None)

    def toDict(self):
        """
        @return: a JSON-safe L{dict} for RPC.
        """
        return {
            "userId": self.userId,
            "projectId": self.projectId,
            "roles": list(self.roles),
            "isAdmin": self.isAdmin,
            "requestId": self.requestId,
            "remoteAddress": self.remoteAddress,
        }

    @classmethod
    def fromDict(cls, data):
        """
        @return: the context L{toDict} described; unknown keys are ignored.
        """
        fields = {f.name for f in attr.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})

    def elevated(self):
        """
        @return: a copy of this context with superuser rights, for work the
            system does on a user's behalf.
        """
        return attr.evolve(self, isAdmin=True)


def adminContext():
    """
    @return: a context for the system itself (periodic tasks, nova-manage).
    """
    return RequestContext(userId=None, projectId=None, isAdmin=True)
