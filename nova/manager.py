# -*- test-case-name: tests.test_manager -*-
"""
Managers hold a service's logic.  A manager is a plain object: its
dependencies come in through C{__init__}, its lifecycle belongs to
L{nova.service.NovaService}.  Only methods marked with L{expose} can be
reached over RPC, each called as C{method(context, **args)}.
"""

import inspect

from twisted.internet.defer import fail, maybeDeferred, succeed
from zope.interface import implementer

from nova import exception
from nova.rpc.interfaces import IDispatcher


def expose(method):
    """
    Mark a manager method as callable over RPC.
    """
    method.exposed = True
    return method


class Manager:
    """
    Base of every manager.

    @ivar config: the frozen L{nova.config.Config}.
    @ivar db: the L{nova.db.api.NovaDatabase}.
    @ivar rpc: an L{nova.rpc.interfaces.IRPC}, to reach other topics.
    @ivar clock: an L{IReactorTime}.
    @ivar host: this host's name.
    """

    def __init__(self, config, db, rpc, clock):
        self.config = config
        self.db = db
        self.rpc = rpc
        self.clock = clock
        self.host = config.host

    def initHost(self):
        """
        Called once when the service starts, before it consumes RPC.

        @return: L{Deferred} firing when the host is ready.
        """
        return succeed(None)

    @expose
    def ping(self, context):
        """
        Answer a health check.

        @return: a L{dict} naming this host and manager.
        """
        return {"host": self.host, "manager": type(self).__name__}

    def periodicTasks(self, context):
        """
        Called every C{periodic_interval} seconds.

        @return: L{Deferred} firing when the tasks are done.
        """
        return succeed(None)


def exposedMethods(manager):
    """
    @return: a L{dict} from name to bound method of every exposed method.
    """
    methods = {}
    for name in dir(type(manager)):
        if name.startswith("_"):
            continue
        attribute = getattr(manager, name, None)
        if callable(attribute) and getattr(attribute, "exposed", False):
            methods[name] = attribute
    return methods


@implementer(IDispatcher)
class ManagerDispatcher:
    """
    Dispatches RPC requests to a manager's exposed methods, refusing
    unknown methods with L{nova.exception.UnknownMethod} and arguments that
    do not fit the signature with L{nova.exception.InvalidArguments}.
    """

    def __init__(self, manager):
        self.manager = manager
        self.methods = exposedMethods(manager)
        self.signatures = {
            name: inspect.signature(method) for name, method in self.methods.items()
        }

    def dispatch(self, context, method, args):
        target = self.methods.get(method)
        if target is None:
            return fail(
                exception.UnknownMethod(
                    f"{type(self.manager).__name__} does not expose {method!r}"
                )
            )
        try:
            self.signatures[method].bind(context, **args)
        except TypeError as e:
            return fail(exception.InvalidArguments(f"{method}: {e}"))
        return maybeDeferred(target, context, **args)

