# -*- test-case-name: tests.test_exception -*-
"""
Tests for L{nova.exception}: default messages and the code registry.
"""

from twisted.trial.unittest import SynchronousTestCase

from nova import exception
from nova.auth.signer import SignatureDoesNotMatch


class DefaultMessageTests(SynchronousTestCase):
    def test_oneLine(self):
        """
        A one-line docstring is the message.
        """
        self.assertEqual(exception.NotFound().message, "Not found.")
        self.assertEqual(str(exception.NotFound()), "Not found.")

    def test_wholeFirstParagraph(self):
        """
        A first paragraph over several lines is the message, joined into
        one line; later paragraphs and fields are not.
        """

        class Wrapped(exception.NovaError):
            """
            The first sentence goes
              on over two lines.

            Later text.
            """

        self.assertEqual(Wrapped().message, "The first sentence goes on over two lines.")
        self.assertEqual(
            exception.NovaError().message, "Base of every error Nova raises on purpose."
        )

    def test_fieldsEndTheParagraph(self):
        class Fields(exception.NovaError):
            """
            Short.
            @ivar x: not part of it.
            """

        self.assertEqual(Fields().message, "Short.")

    def test_markupRemoved(self):
        """
        Epytext markup shows only its text.
        """
        self.assertEqual(
            exception.RemoteError().message,
            "The remote side failed with an error that is not a NovaError; its type "
            "name and message are kept.",
        )

    def test_inherited(self):
        """
        A class without a docstring takes its base's.
        """

        class Undocumented(exception.Invalid):
            pass

        self.assertEqual(Undocumented().message, "Invalid request.")

    def test_signerError(self):
        """
        The signer's errors carry AWS's whole sentence.
        """
        self.assertEqual(
            str(SignatureDoesNotMatch()),
            "The request signature we calculated does not match the signature you provided.",
        )

    def test_explicitMessage(self):
        self.assertEqual(exception.NotFound("no such thing").message, "no such thing")
