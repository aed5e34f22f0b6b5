# -*- test-case-name: tests.virt.test_configdrive -*-
"""
Config drives: what a guest is given at boot on a disk of its own.

A config drive is an ISO 9660 file system (with Rock Ridge and Joliet
names) labelled C{config-2}, in the layout cloud-init's C{ConfigDrive}
data source reads::

    openstack/latest/meta_data.json     uuid, name, hostname, launch_index,
                                        availability_zone, public_keys,
                                        files (personality), meta
    openstack/latest/user_data          the user data, when there is some
    openstack/latest/network_data.json  links, networks and services
    openstack/content/0000 ...          the personality files' contents
    ec2/latest/meta-data.json           the EC2 metadata, as one document
    ec2/latest/user-data                the user data again

The network of C{network_data.json} is static (C{ipv4}, with the address,
netmask, gateway route and DNS servers) when the instance's network is
marked for injection (C{--flat_injected} in the flat mode, which runs no
DHCP server), and C{ipv4_dhcp} otherwise.

L{driveFiles} makes the files from an L{nova.virt.interfaces.InstanceSpec}
and the network description; L{thd_writeImage} writes them as an ISO image
with pycdlib (pure Python; run it in a thread).
"""

import base64
import binascii
import io
import json
import os
import re

from nova.virt import errors

#: The volume label cloud-init looks for.
LABEL = "config-2"

#: The instance's file of the config drive, in its directory.
FILE_NAME = "disk.config"

#: The metadata version directory the drive offers (cloud-init reads
#: C{latest} when it knows no dated version).
VERSION = "latest"

#: Largest personality file, and largest sum of them, in bytes.
MAX_FILE_BYTES = 10 * 1024 * 1024

_PATH_PART = re.compile(r"^[A-Za-z0-9_.,+@=-]{1,255}$")


def decodeUserData(stored):
    """
    @param stored: an instance's C{user_data}: base64 text as the EC2 API
        keeps it, or L{None}.
    @return: the user data (L{bytes}), or L{None} if there is none.
    """
    if not stored:
        return None
    if isinstance(stored, bytes):
        return stored
    try:
        return base64.b64decode(stored.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return stored.encode("utf-8")


def networkData(networkInfo, macAddress=None):
    """
    Describe the guest's network as OpenStack's C{network_data.json} does.

    @param networkInfo: the network description of C{allocateFixedIp}
        (C{address}, C{netmask}, C{gateway}, C{dns}, C{mac}, C{injected},
        C{network_id} ...), or C{None}.
    @param macAddress: the card's MAC address when C{networkInfo} names
        none.
    @return: a JSON L{dict} with C{links}, C{networks} and C{services}
        (empty lists for no network).
    """
    if not networkInfo or not networkInfo.get("address"):
        return {"links": [], "networks": [], "services": []}
    mac = (networkInfo.get("mac") or macAddress or "").lower() or None
    link = {"id": "eth0", "type": "phy", "ethernet_mac_address": mac, "mtu": None}
    network = {
        "id": "network0",
        "link": "eth0",
        "network_id": str(networkInfo.get("network_id", "")),
    }
    dns = [d for d in (networkInfo.get("dns") or ()) if d]
    if networkInfo.get("injected"):
        network["type"] = "ipv4"
        network["ip_address"] = networkInfo["address"]
        network["netmask"] = networkInfo.get("netmask") or "255.255.255.0"
        gateway = networkInfo.get("gateway")
        network["routes"] = (
            [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": gateway}] if gateway else []
        )
    else:
        network["type"] = "ipv4_dhcp"
    return {
        "links": [link],
        "networks": [network],
        "services": [{"type": "dns", "address": d} for d in dns],
    }


def _checkedPath(path):
    """
    @return: the absolute guest path C{path}, normalised.
    @raise errors.VirtError: for one that is not absolute or climbs out.
    """
    if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
        raise errors.VirtError(f"personality path {path!r} is not an absolute path")
    parts = [p for p in path.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise errors.VirtError(f"personality path {path!r} is not a file path")
    return "/" + "/".join(parts)


def driveFiles(instance, networkInfo=None, personality=(), ec2Metadata=None):
    """
    The files of an instance's config drive.

    @param instance: an L{nova.virt.interfaces.InstanceSpec}.
    @param networkInfo: its network description, or C{None}.
    @param personality: C{(guestPath, contents)} pairs (contents L{bytes}
        or L{str}): files to hand the guest.
    @param ec2Metadata: extra keys for C{ec2/latest/meta-data.json}.
    @return: a L{dict} from the drive's relative paths (C{/}-separated)
        to their contents (L{bytes}).
    @raise errors.VirtError: for a bad personality path or too much data.
    """
    hostname = instance.hostname or instance.name
    files = {}
    fileEntries = []
    total = 0
    for index, (path, contents) in enumerate(personality):
        path = _checkedPath(path)
        if isinstance(contents, str):
            contents = contents.encode("utf-8")
        total += len(contents)
        if len(contents) > MAX_FILE_BYTES or total > MAX_FILE_BYTES:
            raise errors.VirtError("personality files are larger than a config drive takes")
        contentPath = f"/content/{index:04d}"
        files["openstack" + contentPath] = bytes(contents)
        fileEntries.append({"path": path, "content_path": contentPath})
    meta = {
        "uuid": instance.uuid,
        "name": instance.displayName or hostname,
        "hostname": hostname,
        "launch_index": int(instance.launchIndex or 0),
        "availability_zone": instance.availabilityZone or "nova",
        "files": fileEntries,
        "meta": {},
    }
    if instance.keyData:
        keyName = instance.keyName or "key"
        meta["public_keys"] = {keyName: instance.keyData}
        meta["keys"] = [{"name": keyName, "type": "ssh", "data": instance.keyData}]
    address = (networkInfo or {}).get("address")
    ec2 = {
        "ami-id": instance.imageId or "",
        "ami-launch-index": int(instance.launchIndex or 0),
        "hostname": hostname,
        "instance-id": instance.ec2Id or instance.name,
        "instance-type": instance.instanceType or "",
        "local-hostname": hostname,
        "local-ipv4": address or "",
        "placement": {"availability-zone": meta["availability_zone"]},
        "public-hostname": hostname,
        "reservation-id": instance.reservationId or "",
    }
    if instance.kernelId:
        ec2["kernel-id"] = instance.kernelId
    if instance.ramdiskId:
        ec2["ramdisk-id"] = instance.ramdiskId
    if instance.keyData:
        ec2["public-keys"] = {"0": {"openssh-key": instance.keyData}}
    ec2.update(ec2Metadata or {})

    def dump(value):
        return json.dumps(value, sort_keys=True, indent=1).encode("utf-8")

    files[f"openstack/{VERSION}/meta_data.json"] = dump(meta)
    files[f"openstack/{VERSION}/network_data.json"] = dump(
        networkData(networkInfo, instance.macAddress)
    )
    files[f"ec2/{VERSION}/meta-data.json"] = dump(ec2)
    userData = decodeUserData(instance.userData)
    if userData is not None:
        files[f"openstack/{VERSION}/user_data"] = userData
        files[f"ec2/{VERSION}/user-data"] = userData
    return files


def _isoName(name, isDirectory):
    """
    @return: the ISO 9660 (interchange level 4) name of a path part.
    """
    name = re.sub(r"[^A-Z0-9_.]", "_", name.upper())
    return name if isDirectory else name + ";1"


def thd_writeImage(files, path, label=LABEL):
    """
    Write C{files} as an ISO 9660 image with Rock Ridge and Joliet names
    (the file names guests see) to C{path}, replacing it whole.  Blocks:
    run it in a thread.

    @param files: a L{dict} from relative C{/}-separated paths to
        L{bytes}.
    @param path: the image file to write.
    @raise errors.VirtError: for a path part that is not a plain name.
    """
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=4, rock_ridge="1.09", joliet=3, vol_ident=label)
    directories = set()
    try:
        for relative in sorted(files):
            parts = relative.split("/")
            for part in parts:
                if not _PATH_PART.match(part) or part in (".", ".."):
                    raise errors.VirtError(f"{relative!r} is not a config drive path")
            for depth in range(1, len(parts)):
                directory = tuple(parts[:depth])
                if directory in directories:
                    continue
                directories.add(directory)
                iso.add_directory(
                    "/" + "/".join(_isoName(p, True) for p in directory),
                    rr_name=directory[-1],
                    joliet_path="/" + "/".join(directory),
                )
            data = files[relative]
            iso.add_fp(
                io.BytesIO(data),
                len(data),
                "/" + "/".join(_isoName(p, i < len(parts) - 1) for i, p in enumerate(parts)),
                rr_name=parts[-1],
                joliet_path="/" + relative,
            )
        temporary = path + ".part"
        iso.write(temporary)
        os.replace(temporary, path)
    finally:
        iso.close()


def thd_readImage(path):
    """
    Read an image L{thd_writeImage} wrote.

    @return: C{(label, files)}: its volume label and a L{dict} from the
        Rock Ridge paths of its files to their contents.
    """
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.open(path)
    try:
        label = iso.pvd.volume_identifier.decode("ascii").rstrip()
        files = {}
        for root, _dirs, names in iso.walk(rr_path="/"):
            for name in names:
                rrPath = root.rstrip("/") + "/" + name
                out = io.BytesIO()
                iso.get_file_from_iso_fp(out, rr_path=rrPath)
                files[rrPath.lstrip("/")] = out.getvalue()
        return label, files
    finally:
        iso.close()
