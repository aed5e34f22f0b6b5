# -*- test-case-name: tests.test_threads -*-
"""
Running blocking functions in the reactor's thread pool.
"""

from twisted.internet.threads import deferToThreadPool


def reactorThreads(reactor):
    """
    @return: a C{runInThread(function, *args)} that runs C{function} in
        C{reactor}'s thread pool and returns a L{Deferred} of its result.
    """

    def runInThread(function, *args):
        return deferToThreadPool(reactor, reactor.getThreadPool(), function, *args)

    return runInThread
