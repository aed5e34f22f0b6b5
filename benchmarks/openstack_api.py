#!/usr/bin/env python
# -*- test-case-name: tests.api.openstack.test_v10 -*-
"""
OpenStack API latency beside the EC2 API's, over the same instances of
one nova-all.

nova-all runs as its own process on its defaults (an SQLite file under a
temporary C{--state_path}, the in-process bus, the fake hypervisor),
prepared with nova-manage like the other benchmarks (L{cloud.embedded}),
its OpenStack API on a free loopback port.  C{--instances} instances
(200) are launched through the EC2 API and waited for until running.
Then, one client sending one request at a time on loopback, C{--requests}
times each (50):

  - C{GET /v1.0/servers/detail} (JSON), after a v1.0 login by
    C{X-Auth-User}/C{X-Auth-Key};
  - the same as XML (C{/v1.0/servers/detail.xml});
  - C{GET /v2.1/servers/detail} with the same token;
  - EC2 C{DescribeInstances} (boto3, one call, every instance).

Each answer is checked to hold every instance.  It prints p50 and p99
(ms) and requests per second of each, and the ratio of each OpenStack
request to DescribeInstances.

    .venv/bin/python benchmarks/openstack_api.py [--instances 200] [--requests 50]
"""

import argparse
import http.client
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cloud  # noqa: E402


class OpenStackClient:
    """
    Raw HTTP to the OpenStack API, one persistent connection.
    """

    def __init__(self, port):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method, path, headers=None):
        self.connection.request(method, path, headers=headers or {})
        response = self.connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()

    def login(self, user, key):
        status, headers, body = self.request(
            "GET", "/v1.0", {"X-Auth-User": user, "X-Auth-Key": key}
        )
        if status != 204:
            raise SystemExit(f"v1.0 login failed: {status} {body!r}")
        return {k.lower(): v for k, v in headers.items()}["x-auth-token"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--instances", type=int, default=200, help="instances listed (200)")
    parser.add_argument("--requests", type=int, default=50, help="requests per measurement (50)")
    args = parser.parse_args(argv)
    if not 1 <= args.instances <= 5000 or not 1 <= args.requests <= 10000:
        parser.error("--instances is 1 to 5000, --requests 1 to 10000")
    cloud.requireClients()
    osPort = cloud.freePort()
    flags = [
        f"--osapi_port={osPort}",
        "--osapi_listen=127.0.0.1",
        "--osapi_host=127.0.0.1",
        "--dashboard_port=0",
    ]
    with cloud.workDirectory("nova-bench-osapi-") as work:
        with cloud.embedded(work, instances=args.instances + 10, flags=flags) as nova:
            ec2 = nova.client()
            cloud.waitRunning(ec2, cloud.launch(ec2, nova.imageId, args.instances))
            cloud.waitPort(osPort, what="the OpenStack API")
            client = OpenStackClient(osPort)
            token = client.login(cloud.USER, nova.access)
            headers = {"X-Auth-Token": token}

            def v10():
                status, _, body = client.request("GET", "/v1.0/servers/detail", headers)
                assert status == 200 and len(json.loads(body)["servers"]) == args.instances

            def v10xml():
                status, _, body = client.request("GET", "/v1.0/servers/detail.xml", headers)
                assert status == 200 and body.count(b"<server ") == args.instances

            def v21():
                status, _, body = client.request("GET", "/v2.1/servers/detail", headers)
                assert status == 200 and len(json.loads(body)["servers"]) == args.instances

            def describe():
                result = ec2.describe_instances()
                count = sum(len(r["Instances"]) for r in result["Reservations"])
                assert count == args.instances

            results = [
                (f"GET /v1.0/servers/detail ({args.instances})", cloud.measure(v10, args.requests)),
                (f"GET /v1.0/servers/detail.xml ({args.instances})",
                 cloud.measure(v10xml, args.requests)),
                (f"GET /v2.1/servers/detail ({args.instances})", cloud.measure(v21, args.requests)),
                (f"EC2 DescribeInstances ({args.instances})", cloud.measure(describe, args.requests)),
            ]
    print()
    print(
        f"OpenStack API vs EC2 API, one client on loopback, {args.requests} requests each, "
        f"{args.instances} running instances; nova-all (SQLite file, in-process bus, fake "
        "hypervisor)"
    )
    print(f"{'operation':<44} {'p50 ms':>9} {'p99 ms':>9} {'req/s':>9}  {'n':>5}")
    describeLatency = results[-1][1]
    for operation, result in results:
        print(
            f"{operation:<44} {result.p50:>9.2f} {result.p99:>9.2f} {result.rate:>9.1f}  "
            f"{result.count:>5}"
        )
        if result is not describeLatency:
            print(
                f"{'  ratio to DescribeInstances':<44} {result.p50 / describeLatency.p50:>8.2f}x "
                f"{result.p99 / describeLatency.p99:>8.2f}x "
                f"{result.rate / describeLatency.rate:>8.2f}x"
            )


if __name__ == "__main__":
    main()
