"""
Tests for L{nova.util.progress} and the progress the image tools show on
a terminal.
"""

import io

from twisted.trial.unittest import SynchronousTestCase

from nova.util.progress import Progress, isTerminal


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


class ProgressTests(SynchronousTestCase):
    def test_quietWhenNotATerminal(self):
        stream = io.StringIO()
        progress = Progress(stream, "tool", total=10)
        progress.step("uploading")
        progress.advance(5)
        progress.finish()
        self.assertFalse(isTerminal(stream))
        self.assertEqual(stream.getvalue(), "")

    def test_lineRewrittenInPlace(self):
        stream = FakeTerminal()
        progress = Progress(stream, "tool", total=4 * 1048576)
        progress.step("uploading")
        progress.advance(1048576)
        progress.advance(1048576)
        progress.advance(0)
        progress.finish()
        self.assertEqual(
            stream.getvalue(),
            "\rtool: uploading 0.0/4.0 MB (0%)"
            "\rtool: uploading 1.0/4.0 MB (25%)"
            "\rtool: uploading 2.0/4.0 MB (50%)"
            "\n",
        )

    def test_shorterLinePadded(self):
        stream = FakeTerminal()
        progress = Progress(stream, "tool")
        progress.step("bundling a long name")
        progress.step("done")
        self.assertEqual(
            stream.getvalue(), "\rtool: bundling a long name" "\rtool: done" + " " * 16
        )
