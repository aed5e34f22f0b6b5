"""
Tests for L{nova.rpc.local}.
"""

from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from nova.rpc.local import LocalRPC
from tests.rpc.contract import RPCContract


class LocalRPCTests(RPCContract, TestCase):
    def setUp(self):
        self.bus = LocalRPC(reactor)

    def makeRPC(self):
        return self.bus
