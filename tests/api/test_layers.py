"""
The HTTP APIs (EC2, OpenStack, metadata, the dashboard) reach the cloud
through the service layers (L{nova.compute.api}, L{nova.network},
L{nova.volume.api}, the image service, the key-pair and tag APIs), never
through L{nova.db}: each names the errors and constants it needs from the
service that raises or defines them.
"""

import ast
import os

from twisted.trial.unittest import SynchronousTestCase

import nova.api


def moduleImports(path):
    """
    @return: the names of the modules that the file at C{path} imports
        (C{from a.b import c} gives C{a.b} and C{a.b.c}).
    """
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            for alias in node.names:
                yield f"{node.module}.{alias.name}"


def apiModules():
    """
    @return: the paths of every Python file under L{nova.api}.
    """
    top = os.path.dirname(nova.api.__file__)
    for directory, _, files in os.walk(top):
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(directory, name)


class LayerTests(SynchronousTestCase):
    def test_noDatabaseImports(self):
        """
        No module of L{nova.api} imports L{nova.db} or anything in it.
        """
        offending = {
            os.path.relpath(path, os.path.dirname(nova.api.__file__)): sorted(
                {
                    name
                    for name in moduleImports(path)
                    if name == "nova.db" or name.startswith("nova.db.")
                }
            )
            for path in apiModules()
        }
        self.assertEqual({path: names for path, names in offending.items() if names}, {})

    def test_moduleImportsSeesFromImports(self):
        """
        L{moduleImports} finds C{from nova.db.x import y} and
        C{from nova import db}, so the test above can fail.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("from nova.db.images import AVAILABLE\nfrom nova import db\n")
        names = set(moduleImports(path))
        self.assertIn("nova.db.images", names)
        self.assertIn("nova.db", names)
