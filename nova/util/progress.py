# -*- test-case-name: tests.test_progress -*-
"""
How far a long operation got (bundling and uploading images), shown on
one line of a terminal and rewritten in place; nothing when the stream is
not a terminal, so that logs and pipes get only the results.
"""


def isTerminal(stream):
    """
    @return: whether C{stream} is a terminal.
    """
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed
        return False


class Progress:
    """
    A progress line: C{label: what done/total MB (percent)}.

    @ivar shown: whether anything is written (C{stream} is a terminal).
    """

    def __init__(self, stream, label, total=0, shown=None):
        """
        @param total: the bytes the operation handles in all (0: unknown).
        @param shown: force showing (or not); by default, whether C{stream}
            is a terminal.
        """
        self.stream = stream
        self.label = label
        self.total = total
        self.done = 0
        self.what = ""
        self.shown = isTerminal(stream) if shown is None else shown
        self._last = None
        self._width = 0

    def step(self, what):
        """
        Say what the operation does now.
        """
        self.what = what
        self._show(force=True)

    def advance(self, amount):
        """
        Count C{amount} more bytes done.
        """
        self.done += amount
        self._show()

    def _text(self):
        text = f"{self.label}: {self.what}"
        if self.total:
            percent = min(100, self.done * 100 // self.total)
            text += f" {self.done / 1048576:.1f}/{self.total / 1048576:.1f} MB ({percent}%)"
        return text

    def _show(self, force=False):
        if not self.shown:
            return
        text = self._text()
        if text == self._last and not force:
            return
        self._last = text
        padding = " " * max(0, self._width - len(text))
        self._width = len(text)
        self.stream.write("\r" + text + padding)
        self.stream.flush()

    def finish(self):
        """
        End the line (the results follow on lines of their own).
        """
        if self.shown and self._last is not None:
            self.stream.write("\n")
            self.stream.flush()
