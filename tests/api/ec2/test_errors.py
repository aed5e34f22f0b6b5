"""
Tests for L{nova.api.ec2.errors}.
"""

from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from nova import exception
from nova.api.ec2 import errors
from nova.auth.signer import SignatureDoesNotMatch


def describe(error):
    try:
        raise error
    except BaseException:
        return errors.describeFailure(Failure())


class DescribeFailureTests(SynchronousTestCase):
    def test_ec2Errors(self):
        self.assertEqual(
            describe(errors.EC2Error("InvalidKeyPair.NotFound", "gone")),
            (400, "InvalidKeyPair.NotFound", "gone", False),
        )
        self.assertEqual(
            describe(errors.UnauthorizedOperation()),
            (403, "UnauthorizedOperation", "You are not authorized to perform this operation.", False),
        )
        self.assertEqual(describe(errors.DryRunOperation())[:2], (412, "DryRunOperation"))
        self.assertEqual(describe(errors.RequestTooLarge(10))[:2], (413, "RequestEntityTooLarge"))

    def test_novaErrors(self):
        self.assertEqual(describe(exception.NotFound("no such thing")), (400, "InvalidParameterValue", "no such thing", False))
        self.assertEqual(describe(SignatureDoesNotMatch())[:2], (403, "SignatureDoesNotMatch"))
        self.assertEqual(describe(exception.RPCTimeout())[:2], (503, "ServiceUnavailable"))

    def test_bugsAreInternal(self):
        for error in (RuntimeError("secret detail"), exception.NovaError("db password wrong")):
            status, code, message, unexpected = describe(error)
            self.assertEqual((status, code, unexpected), (500, "InternalError", True))
            self.assertEqual(message, "An internal error has occurred")

    def test_codesAreUnique(self):
        classes = [cls for cls in vars(errors).values()
                   if isinstance(cls, type) and issubclass(cls, errors.EC2Error)]
        codes = [cls.code for cls in classes]
        self.assertEqual(len(codes), len(set(codes)))
