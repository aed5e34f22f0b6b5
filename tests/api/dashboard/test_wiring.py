"""
Tests for the wiring of the dashboard: L{nova.api.tap.apiServices} serves
it at C{--dashboard_path} on the OpenStack API's port, or on a port of its
own, and refuses unusable paths.
"""

from twisted.internet import reactor
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from nova.api.dashboard.site import checkPath
from nova.api.tap import apiServices
from nova.config import ConfigError, configFromFlags
from nova.db.api import inlineDatabase
from tests.api.ec2.support import _rawRequest

#: A port of this test's range for the dashboard's own port.
OWN_PORT = 18131


class WiringTests(TestCase):
    async def _serve(self, **flags):
        config = configFromFlags(
            ec2_port=0, ec2_listen="127.0.0.1", osapi_port=0, osapi_listen="127.0.0.1", **flags
        )
        db = inlineDatabase("sqlite:", reactor)
        await db.sync()
        self.addCleanup(db.transactor.close)
        services = apiServices(config, reactor, db, None, openstack=True, dashboard=True)
        for service in services:
            service.startService()
            self.addCleanup(service.stopService)
        return {s.name: s for s in services if s.name}

    async def _get(self, port, path):
        return await deferToThread(
            _rawRequest, port, "GET", path, None, {"Connection": "close"}
        )

    async def test_besideOpenStack(self):
        """
        By default the dashboard answers at /dashboard on the OpenStack
        API's port, and the API still answers there.
        """
        services = await self._serve()
        self.assertNotIn("dashboard", services)
        port = services["openstack-api"]._port.getHost().port
        login = await self._get(port, "/dashboard/login")
        self.assertEqual(login.status, 200)
        self.assertIn(b'name="secret"', login.body)
        script = await self._get(port, "/dashboard/static/dashboard.js")
        self.assertEqual(script.status, 200)
        versions = await self._get(port, "/v3")
        self.assertEqual(versions.status, 200)

    async def test_ownPort(self):
        """
        With --dashboard_port the dashboard has a port of its own, whose /
        sends browsers to it.
        """
        services = await self._serve(
            dashboard_port=OWN_PORT, dashboard_listen="127.0.0.1", dashboard_path="/cloud/ui"
        )
        port = services["dashboard"]._port.getHost().port
        self.assertEqual(port, OWN_PORT)
        root = await self._get(port, "/")
        self.assertEqual(root.status, 302)
        self.assertEqual(root.headers["Location"], "/cloud/ui/")
        login = await self._get(port, "/cloud/ui/login")
        self.assertEqual(login.status, 200)
        self.assertIn(b'action="/cloud/ui/login"', login.body)

    def test_badPaths(self):
        for path in ("dashboard", "/a b", "/../x", "//x", "/x/<y>"):
            self.assertRaises(ConfigError, checkPath, path)
        for path in ("/", "/dashboard", "/cloud/ui", "/a.b-c_d/"):
            checkPath(path)

    async def test_takenPath(self):
        """
        A path the OpenStack API uses, or /, cannot share its port.
        """
        for path in ("/v1.0", "/"):
            config = configFromFlags(osapi_port=0, dashboard_path=path)
            db = inlineDatabase("sqlite:", reactor)
            with self.assertRaises(ConfigError):
                apiServices(config, reactor, db, None, openstack=True, dashboard=True)

    def test_daemonsRefuseBadFlags(self):
        """
        nova-api and nova-all stop at once, with a message naming the flag,
        for a dashboard path they cannot serve.
        """
        import io
        import sys

        from nova.all.tap import Options as AllOptions
        from nova.api.tap import Options as APIOptions

        for options, argv in (
            (APIOptions, ["--dashboard_path=/v3"]),
            (AllOptions, ["--dashboard_path=/"]),
            (AllOptions, ["--dashboard_path=/a%20b", "--dashboard_port=18132"]),
        ):
            stderr, sys.stderr = sys.stderr, io.StringIO()
            try:
                with self.assertRaises(SystemExit) as caught:
                    options().parseOptions(argv)
                said = sys.stderr.getvalue()
            finally:
                sys.stderr = stderr
            self.assertEqual(caught.exception.code, 1)
            self.assertIn("--dashboard_path=", said)
        options = AllOptions()
        options.parseOptions(["--dashboard_path=/", "--dashboard_port=18132"])
        self.assertEqual(options["config"].dashboard_port, 18132)
