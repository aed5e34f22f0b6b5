"""
The fault suite: Nova's daemons as separate processes (nova-objectstore,
nova-network, nova-scheduler, nova-compute, nova-api) over a private
RabbitMQ node and a private PostgreSQL cluster that each test starts on
ports of its own.  A bounded load of RunInstances requests (each with its
own client token), every fourth of them a TerminateInstances of an earlier
one's instance, goes through boto3 while the test restarts or kills one
thing: the broker, the database, the scheduler or the compute host.  One
more kills the object store in the middle of an upload.

Each test asserts that every request answered 200 reaches its final state
(C{running}, or C{terminated} for an instance whose termination was
answered 200), that nothing is duplicated (one instance per accepted token),
and that every failure was a clear EC2 error (C{Unavailable}, never an
C{InternalError} or a dropped connection); a request that failed is sent
again with its token once the fault is over and must then succeed.  The
numbers (requests sent, answered 200, final states reached, lost,
duplicated) are printed and logged, to be quoted.

A daemon stopped with SIGTERM while work is under way exits within its
C{--drain_timeout} and hands back what it did not finish.

These tests need RabbitMQ's and PostgreSQL's server packages; they skip on
a machine without them unless C{NOVA_TEST_REQUIRE_SERVICES=1}.
"""

import http.client
import os
import shutil
import tempfile
import threading
import time
import urllib.parse
import uuid

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from twisted.internet import defer, reactor
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.logger import Logger
from twisted.trial.unittest import TestCase

from tests.faults.servers import (
    EC2_PORT,
    RABBIT_PORT,
    S3_PORT,
    PrivatePostgres,
    PrivateRabbit,
    missingTools,
)
from tests.integration.processes import Daemon, poll, runManage
from tests.util import requireCondition

log = Logger()

#: Requests of one test's load.
LOAD = 16

#: The errors a client may get during an outage: clear, retryable.
CLEAR_ERRORS = frozenset({"Unavailable", "ServiceUnavailable", "RequestLimitExceeded"})

#: Seconds a stopped daemon may take beyond its drain timeout to exit.
EXIT_MARGIN = 15

DRAIN_TIMEOUT = 5


@defer.inlineCallbacks
def pollInThread(check, timeout, step=0.5):
    """
    Run the blocking C{check} in a thread until it returns a true value.

    @return: L{Deferred} firing with that value; failing with
        L{AssertionError} after C{timeout} seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = yield deferToThread(check)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        yield deferLater(reactor, step, lambda: None)


class Load:
    """
    The requests of one test and what became of them.

    Every fourth request is a TerminateInstances of the instance the
    request three before launched (when that one was accepted).

    @ivar results: per RunInstances request, in order: C{(token, outcome,
        detail)} with outcome C{ok} (detail: the instance ids), C{clear} or
        C{unclear} (detail: the error).
    @ivar terminations: per TerminateInstances request, in order:
        C{(instance id, outcome, detail)}.
    """

    def __init__(self, ec2, imageId, count, prefix):
        self.ec2 = ec2
        self.imageId = imageId
        self.tokens = [f"{prefix}-{n}" for n in range(count)]
        self.results = []
        self.retried = []
        self.terminations = []
        self.terminationsRetried = []
        self.paused = False
        self.resume = threading.Event()

    def launch(self, token):
        try:
            answer = self.ec2.run_instances(
                ImageId=self.imageId,
                MinCount=1,
                MaxCount=1,
                InstanceType="m1.tiny",
                ClientToken=token,
            )
        except ClientError as e:
            code = e.response["Error"]["Code"]
            outcome = "clear" if code in CLEAR_ERRORS else "unclear"
            return (token, outcome, f"{code}: {e.response['Error']['Message']}")
        except BotoCoreError as e:
            return (token, "unclear", f"{type(e).__name__}: {e}")
        return (token, "ok", [i["InstanceId"] for i in answer["Instances"]])

    def terminate(self, instanceId):
        try:
            self.ec2.terminate_instances(InstanceIds=[instanceId])
        except ClientError as e:
            code = e.response["Error"]["Code"]
            outcome = "clear" if code in CLEAR_ERRORS else "unclear"
            return (instanceId, outcome, f"{code}: {e.response['Error']['Message']}")
        except BotoCoreError as e:
            return (instanceId, "unclear", f"{type(e).__name__}: {e}")
        return (instanceId, "ok", None)

    def run(self, pauseAt):
        """
        Send every request, one after the other (blocking); before request
        number C{pauseAt}, wait until L{resume} is set (at most 300 s).
        """
        for index, token in enumerate(self.tokens):
            if index == pauseAt:
                self.paused = True
                self.resume.wait(300)
            self.results.append(self.launch(token))
            if index % 4 == 3:
                _, outcome, detail = self.results[index - 3]
                if outcome == "ok":
                    self.terminations.append(self.terminate(detail[0]))

    def retryFailed(self):
        """
        Send the failed requests again (launches with their tokens;
        blocking).
        """
        for token, outcome, _ in list(self.results):
            if outcome != "ok":
                self.retried.append(self.launch(token))
        for instanceId, outcome, _ in list(self.terminations):
            if outcome != "ok":
                self.terminationsRetried.append(self.terminate(instanceId))

    def terminated(self):
        """
        @return: the ids of the instances whose termination was answered
            200, first or on its retry.
        """
        return {
            instanceId
            for instanceId, outcome, _ in self.terminations + self.terminationsRetried
            if outcome == "ok"
        }

    def answers(self):
        """
        @return: every request's C{(key, outcome, detail)}, launches and
            terminations, first tries and retries.
        """
        return self.results + self.retried + self.terminations + self.terminationsRetried

    def accepted(self):
        """
        @return: C{{token: instance ids}} of every request answered 200,
            first or on its retry.
        """
        accepted = {}
        for token, outcome, detail in self.results + self.retried:
            if outcome == "ok":
                accepted.setdefault(token, detail)
        return accepted


class FaultTests(TestCase):
    timeout = 300

    @defer.inlineCallbacks
    def setUp(self):
        reason = missingTools()
        requireCondition(reason is None, reason or "")
        # Under /tmp: the servers run as their own users, who cannot
        # enter the test's private temporary directory.
        base = tempfile.mkdtemp(prefix="nova-faults-")
        os.chmod(base, 0o755)
        self.addCleanup(shutil.rmtree, base, True)
        self.rabbit = PrivateRabbit(os.path.join(base, "rabbit"))
        self.postgres = PrivatePostgres(os.path.join(base, "pg"))
        self.addCleanup(deferToThread, self.postgres.stop, "immediate")
        self.addCleanup(deferToThread, self.rabbit.stop)
        yield defer.gatherResults(
            [deferToThread(self.rabbit.start), deferToThread(self.postgres.start)],
            consumeErrors=True,
        )
        sql = yield deferToThread(self.postgres.createDatabase, "nova")
        self.flags = [
            f"--state_path={os.path.join(base, 'state')}",
            f"--sql_connection={sql}",
            "--rpc_backend=amqp",
            f"--rabbit_port={RABBIT_PORT}",
            "--rabbit_retry_interval=0.2",
            "--rabbit_max_retry_interval=1",
            "--rpc_call_timeout=5",
            f"--ec2_port={EC2_PORT}",
            f"--s3_port={S3_PORT}",
            "--ec2_listen=127.0.0.1",
            "--s3_listen=127.0.0.1",
            "--osapi_port=0",
            "--osapi_listen=127.0.0.1",
            "--s3_host=127.0.0.1",
            "--report_interval=1",
            "--service_down_time=10",
            "--periodic_interval=2",
            "--stuck_work_timeout=15",
            f"--drain_timeout={DRAIN_TIMEOUT}",
        ]
        self.base = base
        self.keys = keys = yield deferToThread(self.prepareCloud)
        self.daemons = {}
        for name, plugin, host in (
            ("objectstore", "nova-objectstore", "store"),
            ("network", "nova-network", "net1"),
            ("scheduler", "nova-scheduler", "ctl"),
            ("compute", "nova-compute", "c1"),
            ("api", "nova-api", "api"),
        ):
            self.daemons[name] = self.daemon(plugin, host, name)
        for daemon in self.daemons.values():
            yield daemon.waitForLog(r"(consumes|on (api|store) started)", timeout=120)
        self.ec2 = self.client("ec2", keys)
        s3 = self.client("s3", keys)
        self.imageId = yield deferToThread(self.registerImage, s3, self.ec2)

    def daemon(self, plugin, host, name):
        return Daemon(self, plugin, *self.flags, f"--host={host}", name=name).start()

    def manage(self, *argv):
        code, out, err = runManage(*self.flags, *argv)
        self.assertEqual(code, 0, f"nova-manage {' '.join(argv)}: {err}")
        return out

    def prepareCloud(self):
        self.manage("db", "sync")
        self.manage("network", "create", "10.31.0.0/24", "1", "256")
        access, secret = f"load-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        self.manage("user", "create", "load", access, secret)
        self.manage("project", "create", "load", "load")
        for resource in ("instances", "cores"):
            self.manage("project", "quota", "load", resource, "200")
        return access, secret

    def client(self, service, keys):
        access, secret = keys
        endpoint = (
            f"http://127.0.0.1:{EC2_PORT}/services/Cloud"
            if service == "ec2"
            else f"http://127.0.0.1:{S3_PORT}"
        )
        return boto3.client(
            service,
            endpoint_url=endpoint,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
            region_name="nova",
            config=BotoConfig(
                retries={"max_attempts": 1},
                s3={"addressing_style": "path"},
                read_timeout=30,
                connect_timeout=5,
            ),
        )

    def registerImage(self, s3, ec2):
        s3.create_bucket(Bucket="images")
        s3.put_object(Bucket="images", Key="disk.img", Body=b"\xeb\x63\x90" + b"\0" * 4093)
        imageId = ec2.register_image(ImageLocation="images/disk.img", Name="disk")["ImageId"]
        deadline = time.monotonic() + 60
        while True:
            [image] = ec2.describe_images(ImageIds=[imageId])["Images"]
            if image["State"] == "available":
                return imageId
            self.assertNotEqual(image["State"], "failed", image)
            if time.monotonic() > deadline:
                raise AssertionError("the image did not become available")
            time.sleep(0.2)

    # -- the load and its checks --------------------------------------------

    @defer.inlineCallbacks
    def underFault(self, name, begin, end, vanishing=False):
        """
        Run the load: once a third of it is answered, C{begin()} the fault;
        once two more requests are answered, C{end()} it (each returns a
        L{Deferred}); the rest of the load follows.  Then send the failed
        requests again and wait for every accepted instance to reach its
        final state.

        @param vanishing: whether the fault kills the fake hypervisor's
            guests (see L{check}).
        @return: L{Deferred} firing with the numbers.
        """
        load = Load(self.ec2, self.imageId, LOAD, f"{name}-{uuid.uuid4().hex[:6]}")
        running = deferToThread(load.run, LOAD // 3)
        vanished = frozenset()
        try:
            yield poll(lambda: load.paused, 120, what="a third of the load")
            yield begin()
            if vanishing:
                # What the dead host recorded as running: its guests.
                after = yield deferToThread(self.instanceStates)
                vanished = frozenset(i for i, (state, _) in after.items() if state == "running")
        finally:
            load.resume.set()
        yield poll(
            lambda: len(load.results) >= LOAD // 3 + 2, 120, what="requests during the fault"
        )
        yield end()
        yield running
        yield deferToThread(load.retryFailed)
        numbers = yield self.check(name, load, vanished)
        return numbers

    def instanceStates(self):
        """
        @return: C{{instance id: (EC2 state name, state reason)}} of every
            instance of the project (blocking).
        """
        found = {}
        for reservation in self.ec2.describe_instances()["Reservations"]:
            for instance in reservation["Instances"]:
                found[instance["InstanceId"]] = (
                    instance["State"]["Name"],
                    instance.get("StateReason", {}).get("Message"),
                )
        return found

    @defer.inlineCallbacks
    def check(self, name, load, vanished=frozenset()):
        """
        Wait for every accepted instance to reach its final state, print
        the numbers, and check them.

        @param vanished: instances whose guests died with the fake
            hypervisor (it keeps them in its process's memory): their
            final state is C{running} or an error that says so.
        """
        accepted = load.accepted()
        expected = {i for ids in accepted.values() for i in ids}
        terminated = load.terminated()

        def final(instanceId, state):
            name, reason = state
            return name == ("terminated" if instanceId in terminated else "running")

        def settledOrVanished(instanceId, state):
            if final(instanceId, state):
                return True
            return (
                instanceId in vanished
                and instanceId not in terminated
                and "vanished" in (state[1] or "")
            )

        def settled():
            found = self.instanceStates()
            done = all(settledOrVanished(i, found.get(i, ("", None))) for i in expected)
            return done and found

        try:
            found = yield pollInThread(settled, 120)
        except AssertionError:
            found = yield deferToThread(self.instanceStates)
        reached = sorted(
            i for i in expected if settledOrVanished(i, found.get(i, ("", None)))
        )
        lost = sorted(set(expected) - set(reached))
        duplicated = len(found) - len(expected)
        answers = load.answers()
        unclear = [r for r in answers if r[1] == "unclear"]
        firstTries = load.results + load.terminations
        numbers = {
            "sent": len(answers),
            "terminationsSent": len(load.terminations) + len(load.terminationsRetried),
            "answered200": sum(1 for r in firstTries if r[1] == "ok"),
            "retriedOk": sum(
                1 for r in load.retried + load.terminationsRetried if r[1] == "ok"
            ),
            "clearErrors": sum(1 for r in answers if r[1] == "clear"),
            "unclearErrors": len(unclear),
            "finalReached": len(reached),
            "terminatedReached": sum(1 for i in reached if i in terminated),
            "vanishedWithHypervisor": sum(
                1 for i in reached if not final(i, found.get(i, ("", None)))
            ),
            "lost": len(lost),
            "duplicated": duplicated,
        }
        line = f"fault suite [{name}]: " + ", ".join(f"{k}={v}" for k, v in numbers.items())
        print(line)
        log.info("{line}", line=line)
        self.assertEqual(lost, [], {i: found.get(i) for i in lost})
        self.assertEqual(duplicated, 0, found)
        self.assertEqual(unclear, [])
        self.assertEqual(len(accepted), LOAD, load.results + load.retried)
        # Every termination sent was answered 200, first or on its retry.
        self.assertEqual(
            {instanceId for instanceId, _, _ in load.terminations},
            terminated,
            load.terminations + load.terminationsRetried,
        )
        return numbers

    def restart(self, name, plugin, host):
        """
        Start the daemon C{name} again.

        @return: L{Deferred} firing once it consumes.
        """
        self.daemons[name] = self.daemon(plugin, host, name)
        return self.daemons[name].waitForLog("consumes", timeout=120)

    # -- the faults -------------------------------------------------------------

    @defer.inlineCallbacks
    def test_brokerRestart(self):
        """
        RabbitMQ restarts mid-load: requests during the outage fail with
        C{Unavailable}; every accepted one, queued durably, runs.
        """

        numbers = yield self.underFault(
            "broker",
            lambda: deferToThread(self.rabbit.stopApp),
            lambda: deferToThread(self.rabbit.startApp),
        )
        self.assertGreater(numbers["clearErrors"], 0)

    @defer.inlineCallbacks
    def test_databaseRestart(self):
        """
        PostgreSQL crashes and comes back mid-load: requests during the
        outage fail with C{Unavailable}; nothing accepted is lost.
        """

        numbers = yield self.underFault(
            "database",
            lambda: deferToThread(self.postgres.stop, "immediate"),
            lambda: deferToThread(self.postgres.start),
        )
        self.assertGreater(numbers["clearErrors"], 0)

    @defer.inlineCallbacks
    def test_schedulerKilled(self):
        """
        The scheduler is killed mid-load and started again: what it had not
        acknowledged is delivered to the new one.
        """

        yield self.underFault(
            "scheduler",
            lambda: defer.succeed(self.daemons["scheduler"].kill()),
            lambda: self.restart("scheduler", "nova-scheduler", "ctl"),
        )

    @defer.inlineCallbacks
    def test_computeKilled(self):
        """
        The compute host is killed mid-load and started again: the launches
        waiting in its queue run after the restart.  The guests that ran
        die with the fake hypervisor, as on a host that crashed: those
        instances must show the error that says so.
        """

        yield self.underFault(
            "compute",
            lambda: defer.succeed(self.daemons["compute"].kill()),
            lambda: self.restart("compute", "nova-compute", "c1"),
            vanishing=True,
        )

    @defer.inlineCallbacks
    def test_objectstoreKilled(self):
        """
        nova-objectstore is killed while an upload is half sent: after the
        restart the object does not exist (no partial object is ever
        visible), the bucket and the objects stored before are intact, and
        the upload sent again succeeds.
        """
        s3 = self.client("s3", self.keys)
        body = os.urandom(4 * 1024 * 1024)
        yield deferToThread(s3.put_object, Bucket="images", Key="before", Body=b"kept")
        url = yield deferToThread(
            s3.generate_presigned_url,
            "put_object",
            Params={"Bucket": "images", "Key": "big"},
            ExpiresIn=600,
        )
        parts = urllib.parse.urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.addCleanup(connection.close)
        connection.putrequest("PUT", f"{parts.path}?{parts.query}")
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        connection.send(body[: len(body) // 2])
        # The first half has reached the server's staging file.
        staging = os.path.join(self.base, "state", "buckets", ".staging")
        yield pollInThread(
            lambda: any(
                os.path.getsize(os.path.join(staging, name)) > 0 for name in os.listdir(staging)
            ),
            60,
        )
        self.daemons["objectstore"].kill()
        connection.close()
        yield self.restart("objectstore", "nova-objectstore", "store")

        def afterRestart():
            try:
                s3.head_object(Bucket="images", Key="big")
            except ClientError as e:
                return e.response["Error"]["Code"]
            return "found"

        self.assertEqual((yield deferToThread(afterRestart)), "404")
        listed = yield deferToThread(s3.list_objects_v2, Bucket="images")
        self.assertEqual(
            sorted(o["Key"] for o in listed.get("Contents", [])), ["before", "disk.img"]
        )
        kept = yield deferToThread(s3.get_object, Bucket="images", Key="before")
        self.assertEqual(kept["Body"].read(), b"kept")
        yield deferToThread(s3.put_object, Bucket="images", Key="big", Body=body)
        got = yield deferToThread(s3.get_object, Bucket="images", Key="big")
        self.assertEqual(got["Body"].read(), body)
        print("fault suite [objectstore]: the half-sent upload left no object; sent again, it was stored")

    @defer.inlineCallbacks
    def test_computeStoppedDrains(self):
        """
        SIGTERM to the compute host mid-load: it exits within its drain
        timeout, and what it did not finish runs once it is back.
        """
        exits = []

        @defer.inlineCallbacks
        def begin():
            started = time.monotonic()
            code = yield self.daemons["compute"].stop(timeout=DRAIN_TIMEOUT + EXIT_MARGIN)
            exits.append((code, time.monotonic() - started))

        yield self.underFault(
            "drain", begin, lambda: self.restart("compute", "nova-compute", "c1"), vanishing=True
        )
        [(code, seconds)] = exits
        self.assertIn(code, (0, -15))
        print(f"fault suite [drain]: nova-compute exited {seconds:.1f} s after SIGTERM")
