# -*- test-case-name: tests.network.test_cloudpipe -*-
"""
Cloudpipe: the per-project OpenVPN server of vlan mode.

In vlan mode a project's instances live on a private VLAN; its members
reach them through a VPN instance (the I{cloudpipe}) that runs in the
project's network, on the network's VPN address (the third address of
its subnet), and that the network host reaches from outside by a DNAT of
C{udp <vpn_ip>:<vpn_public_port>} to C{<vpn private address>:1194}
(L{nova.network.manager.VlanManager} asks its driver for it when it sets
the network up).

L{CloudPipe.launch} prepares and launches it:

  - the key pair C{<project><vpn_key_suffix>} of the launching user (its
    private key kept under C{--vpn_keys_path}/<user>/, mode 0600);
  - the security group C{<project><vpn_key_suffix>}, admitting OpenVPN
    (udp 1194) and ICMP from anywhere;
  - a server key and certificate request, signed by the project's CA
    (L{nova.auth.ca.CertificateAuthority.signCSR}), with the CA
    certificates and the project's CRL;
  - the instance, from C{--vpn_image_id} with type
    C{--vpn_instance_type}, through the compute API; its user data is
    the base64 text of a zip archive holding::

        autorun.sh     the boot script: installs the files below in
                       /etc/openvpn, bridges tap0 with eth0 and starts
                       OpenVPN
        server.conf    the OpenVPN server configuration (bridged, tap0,
                       udp 1194; clients get the addresses kept free at
                       the top of the network by --cnt_vpn_clients)
        server.key     the server's private key (PEM)
        server.crt     its certificate, signed by the project's CA
        ca.crt         the project's CA certificate (and the root's, when
                       project CAs are in use): client certificates are
                       users' certificates of the project
        crl.pem        the project CA's certificate revocation list

The network service recognises the instance (image C{--vpn_image_id} and
key pair C{<project><vpn_key_suffix>}) and gives it the network's VPN
address.  The image must run the C{autorun.sh} of its user data at boot
(as Nova's cloudpipe images did): C{make cloudpipe-image} builds one
(C{tools/build-cloudpipe-image.sh}, C{etc/cloudpipe/init}).  It boots with
the kernel and ramdisk the image is registered with.
"""

import base64
import io
import ipaddress
import os
import zipfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from twisted.internet.defer import maybeDeferred
from twisted.logger import Logger

from nova import exception
from nova.compute import states
from nova.db.images import ImageNotFound
from nova.db.keypairs import KeyPairNotFound
from nova.db.security_groups import SecurityGroupNotFound, SecurityGroupRuleExists

log = Logger()

#: The port OpenVPN listens on inside the cloudpipe instance.
OPENVPN_PORT = 1194

#: The files of the user data archive, in order.
BUNDLE_FILES = ("autorun.sh", "server.conf", "server.key", "server.crt", "ca.crt", "crl.pem")

#: What the cloudpipe security group admits.
VPN_PERMISSIONS = (
    {"protocol": "udp", "fromPort": OPENVPN_PORT, "toPort": OPENVPN_PORT, "cidrs": ["0.0.0.0/0"]},
    {"protocol": "icmp", "fromPort": -1, "toPort": -1, "cidrs": ["0.0.0.0/0"]},
)


class CloudpipeError(exception.NovaError):
    """The cloudpipe VPN cannot be set up."""

    code = "CloudpipeError"


def vpnName(config, projectId):
    """
    @return: the name of the project's cloudpipe key pair and security
        group.
    """
    return f"{projectId}{config.vpn_key_suffix}"


def isCloudpipe(config, instance):
    """
    @return: whether C{instance} is its project's cloudpipe (the rule
        the network manager applies too).
    """
    return bool(config.vpn_image_id) and (
        instance.image_id == config.vpn_image_id
        and instance.key_name == vpnName(config, instance.project_id)
    )


def clientPool(network, count):
    """
    @return: C{(first, last)} of the addresses kept for VPN clients at the
        top of the network (below the broadcast address), or C{None} when
        C{count} is 0.
    """
    if count <= 0:
        return None
    subnet = ipaddress.IPv4Network(network.cidr)
    last = subnet.broadcast_address - 1
    return str(last - (count - 1)), str(last)


def serverConfig(network, count):
    """
    @param network: the project's L{nova.db.networks.NetworkRecord}.
    @param count: C{--cnt_vpn_clients}.
    @return: the OpenVPN server configuration (L{str}).
    """
    pool = clientPool(network, count)
    if pool is None:
        bridge = "server-bridge"
        clients = 1
    else:
        bridge = f"server-bridge {network.vpn_private_address} {network.netmask} {pool[0]} {pool[1]}"
        clients = count
    return "\n".join(
        [
            f"# OpenVPN server of the cloudpipe of network {network.cidr} (vlan {network.vlan}).",
            f"port {OPENVPN_PORT}",
            "proto udp",
            "dev tap0",
            "persist-key",
            "persist-tun",
            "ca /etc/openvpn/ca.crt",
            "cert /etc/openvpn/server.crt",
            "key /etc/openvpn/server.key",
            "dh none",
            "crl-verify /etc/openvpn/crl.pem",
            bridge,
            f"max-clients {clients}",
            "duplicate-cn",
            "keepalive 10 120",
            "user nobody",
            "group nogroup",
            "status /var/log/openvpn-status.log",
            "verb 3",
            "",
        ]
    )


def autorunScript(network):
    """
    @return: the boot script of the cloudpipe image (L{str}).
    """
    prefix = ipaddress.IPv4Network(network.cidr).prefixlen
    return "\n".join(
        [
            "#!/bin/sh",
            "# Cloudpipe boot script: run from the unpacked user data.",
            "set -e",
            'here=$(cd "$(dirname "$0")" && pwd)',
            "mkdir -p /etc/openvpn",
            'for f in server.conf server.key server.crt ca.crt crl.pem; do cp "$here/$f" /etc/openvpn/; done',
            "chmod 600 /etc/openvpn/server.key",
            "openvpn --mktun --dev tap0",
            "ip link add name br0 type bridge",
            "ip link set dev eth0 master br0",
            "ip link set dev tap0 master br0",
            "ip addr flush dev eth0",
            f"ip addr add {network.vpn_private_address}/{prefix} dev br0",
            "ip link set dev tap0 up",
            "ip link set dev br0 up",
            f"ip route replace default via {network.gateway}",
            "openvpn --daemon --config /etc/openvpn/server.conf",
            "",
        ]
    )


def _serverRequest(projectId, name):
    """
    @return: C{(keyPEM, csrPEM)} of a new RSA key and a request for it.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "NOVA"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "cloudpipe"),
            x509.NameAttribute(NameOID.COMMON_NAME, name[:64]),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    keyPEM = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")
    return keyPEM, csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def vpnFiles(config, authority, network):
    """
    Make the files of the cloudpipe's user data.  Blocking (key
    generation, the CA's disk): run it in a thread.

    @param authority: the L{nova.auth.ca.CertificateAuthority}.
    @param network: the project's L{nova.db.networks.NetworkRecord}.
    @return: a L{dict} from file name (L{BUNDLE_FILES}) to text.
    """
    projectId = network.project_id
    keyPEM, csrPEM = _serverRequest(projectId, vpnName(config, projectId))
    certificatePEM, serial = authority.signCSR(projectId, csrPEM)
    ca = authority.projectCertificatePEM(projectId)
    root = authority.rootCertificatePEM()
    if root.strip() != ca.strip():
        ca = ca.rstrip("\n") + "\n" + root
    log.info("cloudpipe server certificate {serial:x} signed for {project}", serial=serial, project=projectId)
    return {
        "autorun.sh": autorunScript(network),
        "server.conf": serverConfig(network, config.cnt_vpn_clients),
        "server.key": keyPEM,
        "server.crt": certificatePEM,
        "ca.crt": ca,
        "crl.pem": authority.crlPEM(projectId),
    }


def userData(files):
    """
    @param files: from file name to text.
    @return: the base64 text of a zip archive of C{files} (what EC2's
        user data carries).
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in BUNDLE_FILES:
            info = zipfile.ZipInfo(name, date_time=(2010, 10, 21, 0, 0, 0))
            info.external_attr = (0o755 if name.endswith(".sh") else 0o644) << 16
            if name == "server.key":
                info.external_attr = 0o600 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def writePrivateKey(path, text):
    """
    Keep a private key readable by its owner only.  Blocking.
    """
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


class CloudPipe:
    """
    Prepares and launches projects' cloudpipe VPN instances.
    """

    def __init__(self, config, db, compute, securityGroups, keyPairs, authority, runInThread):
        """
        @param config: the configuration (C{vpn_*}, C{cnt_vpn_clients}).
        @param db: the L{nova.db.api.NovaDatabase}.
        @param compute: the L{nova.compute.api.ComputeAPI}.
        @param securityGroups: the
            L{nova.network.security_groups.SecurityGroupAPI}.
        @param keyPairs: the L{nova.auth.manager.KeyPairService}.
        @param authority: the L{nova.auth.ca.CertificateAuthority}.
        @param runInThread: C{f(function, *args)} returning a L{Deferred}
            of the call run in a thread.
        """
        self.config = config
        self.db = db
        self.compute = compute
        self.securityGroups = securityGroups
        self.keyPairs = keyPairs
        self.authority = authority
        self.runInThread = runInThread

    def keyPath(self, userId, projectId):
        """
        @return: where the private key of the project's cloudpipe key pair
            is kept.
        """
        name = vpnName(self.config, projectId)
        for part in (userId, name):
            if not part or "/" in part or part.startswith("."):
                raise CloudpipeError(f"cannot keep a key named {part!r}")
        return os.path.join(self.config.vpn_keys_path, userId, f"{name}.pem")

    async def ensureKeyPair(self, context):
        """
        @return: the project's cloudpipe L{nova.db.keypairs.KeyPairRecord}
            of the context's user, made now (its private key saved) if
            missing.
        """
        name = vpnName(self.config, context.projectId)
        try:
            return await self.db.keypairs.get(context.userId, name)
        except KeyPairNotFound:
            pass
        created = await self.keyPairs.createKeyPair(context.userId, name)
        await self.runInThread(
            writePrivateKey, self.keyPath(context.userId, context.projectId), created.privateKey
        )
        log.info("cloudpipe key pair {name} made for {user}", name=name, user=context.userId)
        return await self.db.keypairs.get(context.userId, name)

    async def ensureSecurityGroup(self, context):
        """
        @return: the project's cloudpipe security group, made now (with
            its rules) if missing.
        """
        name = vpnName(self.config, context.projectId)
        try:
            await self.db.securityGroups.getByName(context.projectId, name)
        except SecurityGroupNotFound:
            await self.securityGroups.create(context, name, "Cloudpipe VPN")
        for permission in VPN_PERMISSIONS:
            try:
                await self.securityGroups.authorizeIngress(context, [dict(permission)], groupName=name)
            except SecurityGroupRuleExists:
                pass
        return await self.db.securityGroups.getByName(context.projectId, name)

    async def runningVpn(self, projectId):
        """
        @return: the project's cloudpipe instance that is not terminated
            (or being terminated), or C{None}.
        """
        instances = await self.db.instances.list(projectId=projectId)
        for instance in instances:
            if isCloudpipe(self.config, instance) and instance.state not in (
                states.TERMINATED,
                states.SHUTTING_DOWN,
            ):
                return instance
        return None

    async def launch(self, context):
        """
        Launch the cloudpipe of the context's project (its user is the
        key pair's owner).

        @return: the new instance's L{nova.db.records.InstanceRecord}.
        @raise CloudpipeError: without C{--vpn_image_id}, or when the
            project's cloudpipe runs already.
        @raise nova.db.networks.NoMoreNetworks: when no network is left
            for the project.
        """
        projectId = context.projectId
        if not self.config.vpn_image_id:
            raise CloudpipeError("no --vpn_image_id: cloudpipe is not configured")
        if projectId is None or context.userId is None:
            raise CloudpipeError("a cloudpipe is launched for a user in a project")
        existing = await self.runningVpn(projectId)
        if existing is not None:
            raise CloudpipeError(
                f"project {projectId} has its cloudpipe already: {existing.ec2Id} ({existing.state})"
            )
        network = await self.db.networks.associateProject(projectId)
        if not network.vpn_private_address:
            raise CloudpipeError(f"network {network.cidr} has no VPN address (not vlan mode?)")
        keyPair = await self.ensureKeyPair(context)
        group = await self.ensureSecurityGroup(context)
        files = await self.runInThread(vpnFiles, self.config, self.authority, network)
        # The image's kernel and ramdisk, as RunInstances takes them.
        try:
            image = await self.db.images.get(self.config.vpn_image_id)
            kernelId, ramdiskId = image.kernel_id, image.ramdisk_id
        except ImageNotFound:
            kernelId = ramdiskId = None
        reservationId, instances, _ = await maybeDeferred(
            self.compute.runInstances,
            context,
            self.config.vpn_image_id,
            1,
            1,
            kernelId=kernelId,
            ramdiskId=ramdiskId,
            instanceType=self.config.vpn_instance_type,
            keyName=keyPair.name,
            keyData=keyPair.public_key,
            userData=userData(files),
            securityGroups=(group.name,),
        )
        [instance] = instances
        log.info(
            "cloudpipe {instance} of project {project} launched ({reservation})",
            instance=instance.ec2Id,
            project=projectId,
            reservation=reservationId,
        )
        return instance
