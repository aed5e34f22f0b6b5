# -*- test-case-name: tests.api.metadata.test_resource -*-
"""
The metadata service: what an instance learns about itself over HTTP, in
EC2's text format.

A guest asks C{http://169.254.169.254/latest/meta-data/instance-id}; the
network host forwards the request to nova-api, whose web root serves the
metadata versions beside the EC2 API.  The instance is the one whose fixed
address is the request's source address: the peer's own, or, when the
peer is one of C{--metadata_trusted_proxies}, the client the proxy names
in C{X-Forwarded-For}.  An unknown address, or an instance that is not
running, gets 404.

Paths: C{/} lists the versions; C{/<version>/} lists C{meta-data} (and
C{user-data} when the instance has some); C{/<version>/meta-data/} lists
the keys, subtrees with a trailing C{/}; C{/<version>/user-data} is the
user data, as the client gave it before base64.  C{<version>} is
C{latest} or one of L{VERSIONS}.
"""

import base64
import binascii

from twisted.internet.defer import ensureDeferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from nova.api.root import APIRoot
from nova.api.web import writeResponse
from nova.compute import states
from nova.compute.errors import InstanceNotFound
from nova.network.errors import FixedIpNotFound
from nova.util.addresses import clientAddress, parseTrustedProxies
from nova.util.addresses import parseAddress as _address

log = Logger()

#: The dated versions Nova served, oldest first; C{latest} is served too.
VERSIONS = (
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
)

LATEST = "latest"

#: Instance states whose guest is served (EC2 shows a rebooting instance
#: as running).
SERVED_STATES = frozenset({states.RUNNING, states.REBOOTING})

DEFAULT_ROOT_DEVICE = "/dev/sda1"

TEXT = b"text/plain; charset=utf-8"
BINARY = b"application/octet-stream"


class Directory:
    """
    A node of the metadata tree with children.

    @ivar entries: a L{dict} from name to child: a L{Directory}, L{str} or
        L{bytes}.
    @ivar labels: names shown differently in the listing (C{0=mykey} for
        the public key C{0}), without the trailing C{/}.
    """

    def __init__(self, entries, labels=None):
        self.entries = dict(entries)
        self.labels = dict(labels or {})

    def listing(self):
        """
        @return: EC2's listing: one name a line, subtrees with a trailing
            C{/} unless labelled, no final newline.
        """
        lines = []
        for name, child in self.entries.items():
            if name in self.labels:
                lines.append(self.labels[name])
            elif isinstance(child, Directory):
                lines.append(name + "/")
            else:
                lines.append(name)
        return "\n".join(lines)


def decodeUserData(stored):
    """
    @param stored: the instance's C{user_data} column: base64 text as the
        EC2 API keeps it.
    @return: the user data (L{bytes}), or L{None} if there is none.
    """
    if not stored:
        return None
    try:
        return base64.b64decode(stored.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        # Written by something that did not encode it: serve it as it is.
        return stored.encode("utf-8")


class MetadataService:
    """
    Finds the instance behind a request and builds its metadata tree.

    @ivar db: the L{nova.db.api.NovaDatabase}.
    @ivar trustedProxies: the L{ipaddress} networks whose
        C{X-Forwarded-For} is believed.
    """

    def __init__(self, config, db):
        """
        @raise ConfigError: for a bad C{--metadata_trusted_proxies}.
        """
        self.config = config
        self.db = db
        self.trustedProxies = parseTrustedProxies(config.metadata_trusted_proxies)

    def clientAddress(self, request):
        """
        The address of the guest a request comes from: the peer, unless
        the peer is a trusted proxy, in which case the last address of
        C{X-Forwarded-For} that is not itself a trusted proxy
        (L{nova.util.addresses.clientAddress}).

        @return: the address as text, or L{None}.
        """
        return clientAddress(request, self.trustedProxies)

    async def instanceAt(self, address):
        """
        @param address: a fixed address (text).
        @return: the L{nova.db.records.InstanceRecord} of the running
            instance that holds it, or L{None}.
        """
        if _address(address) is None:
            return None
        instance = None
        try:
            fixed = await self.db.networks.getFixedIp(address)
        except FixedIpNotFound:
            fixed = None
        if fixed is not None:
            if fixed.instance_id is not None:
                try:
                    instance = await self.db.instances.get(fixed.instance_id)
                except InstanceNotFound:
                    instance = None
        elif not await self.db.networks.list():
            # A cloud without networks of its own (addresses come from a
            # network service that keeps no rows here): an instance is
            # found by its own column.  With networks, every fixed address
            # has a row, and an address without one is no guest's: no
            # request from outside makes the service scan the instances.
            candidates = await self.db.instances.list(states=sorted(SERVED_STATES))
            matches = [i for i in candidates if i.fixed_ip == address]
            instance = matches[-1] if matches else None
        if instance is None or instance.deleted or instance.state not in SERVED_STATES:
            return None
        return instance

    async def _extras(self, instance):
        image = None
        if instance.image_id:
            found = await self.db.images.find(ec2Ids=[instance.image_id])
            image = found[0] if found else None
        floating = await self.db.networks.listFloatingIps(
            projectId=instance.project_id, associated=True
        )
        publicIp = next(
            (f.address for f in floating if f.instance_id == instance.id), None
        )
        return image, publicIp

    async def metadataFor(self, instance):
        """
        @return: the instance's version tree: a L{Directory} holding
            C{meta-data} and, if the instance has some, C{user-data}.
        """
        image, publicIp = await self._extras(instance)
        root = (image.root_device_name if image is not None else None) or DEFAULT_ROOT_DEVICE
        devices = {"ami": root.rpartition("/")[2], "root": root}
        if instance.local_gb:
            devices["ephemeral0"] = "sda2"
        hostname = instance.hostname or instance.ec2Id
        zone = instance.availability_zone or self.config.node_availability_zone
        meta = {
            "ami-id": instance.image_id or "",
            "ami-launch-index": str(instance.launch_index),
            "ami-manifest-path": image.location if image is not None else "(unknown)",
            "block-device-mapping": Directory(sorted(devices.items())),
            "hostname": hostname,
            "instance-action": "none",
            "instance-id": instance.ec2Id,
            "instance-type": instance.instance_type,
        }
        if instance.kernel_id:
            meta["kernel-id"] = instance.kernel_id
        meta["local-hostname"] = hostname
        meta["local-ipv4"] = instance.fixed_ip or ""
        if instance.mac_address:
            meta["mac"] = instance.mac_address
        meta["placement"] = Directory({"availability-zone": zone})
        meta["public-hostname"] = hostname
        if publicIp:
            meta["public-ipv4"] = publicIp
        if instance.key_name and instance.key_data:
            meta["public-keys"] = Directory(
                {"0": Directory({"openssh-key": instance.key_data})},
                {"0": f"0={instance.key_name}"},
            )
        if instance.ramdisk_id:
            meta["ramdisk-id"] = instance.ramdisk_id
        meta["reservation-id"] = instance.reservation_id
        meta["security-groups"] = "\n".join(instance.securityGroups)
        entries = {"meta-data": Directory(meta)}
        userData = decodeUserData(instance.user_data)
        if userData is not None:
            entries["user-data"] = userData
        # At a version's top level EC2 lists its parts without slashes.
        labels = {name: name for name in entries}
        return Directory(entries, labels)

    async def lookup(self, request, segments):
        """
        @param segments: the path below the version (text, empty ones
            dropped).
        @return: C{(content type, body)}, or L{None} for 404.
        """
        address = self.clientAddress(request)
        if address is None:
            return None
        instance = await self.instanceAt(address)
        if instance is None:
            log.info("metadata: no running instance at {address}", address=address)
            return None
        node = await self.metadataFor(instance)
        for segment in segments:
            if not isinstance(node, Directory) or segment not in node.entries:
                return None
            node = node.entries[segment]
        if isinstance(node, Directory):
            return TEXT, node.listing().encode("utf-8")
        if isinstance(node, bytes):
            return BINARY, node
        return TEXT, node.encode("utf-8")


class MetadataVersion(Resource):
    """
    One version (C{/latest}, C{/2009-04-04}...): everything below it.
    """

    isLeaf = True

    def __init__(self, service):
        Resource.__init__(self)
        self.service = service

    def render_GET(self, request):
        segments = []
        for raw in request.postpath:
            if raw:
                try:
                    segments.append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    segments = None
                    break
        lost = []
        request.notifyFinish().addErrback(lost.append)
        if segments is None:
            writeResponse(request, 404, TEXT, b"Not Found\n", lost)
            return NOT_DONE_YET
        d = ensureDeferred(self.service.lookup(request, segments))

        def answer(found):
            if found is None:
                writeResponse(request, 404, TEXT, b"Not Found\n", lost)
            else:
                writeResponse(request, 200, found[0], found[1], lost)

        def failed(failure):
            log.failure("metadata request for {path} failed", failure, path=request.path)
            writeResponse(request, 500, TEXT, b"Internal Server Error\n", lost)

        d.addCallbacks(answer, failed)
        d.addErrback(lambda f: log.failure("writing a metadata answer failed", f))
        return NOT_DONE_YET


class MetadataRoot(APIRoot):
    """
    nova-api's web root with the metadata service: C{GET /} lists the
    metadata versions, C{/<version>/...} is the metadata of the asking
    instance, and the APIs mounted as children (the EC2 API at
    C{/services/Cloud}) are served as before.
    """

    def __init__(self, config, service):
        APIRoot.__init__(self, config)
        self.service = service
        version = MetadataVersion(service)
        for name in VERSIONS + (LATEST,):
            self.putChild(name.encode("ascii"), version)

    def render_GET(self, request):
        request.setHeader(b"content-type", TEXT)
        return "\n".join(VERSIONS + (LATEST,)).encode("ascii")


def metadataRoot(config, db):
    """
    Build nova-api's web root with the metadata service.

    @param config: the configuration (C{metadata_trusted_proxies},
        C{node_availability_zone}).
    @param db: the L{nova.db.api.NovaDatabase}.
    @return: a L{MetadataRoot}.
    @raise ConfigError: for a bad C{--metadata_trusted_proxies}.
    """
    return MetadataRoot(config, MetadataService(config, db))
