# -*- test-case-name: tests.api.openstack.test_compute -*-
"""
A read-only subset of the OpenStack image API v2 (Glance), at C{/image}:
the versions list, C{GET /image/v2/images} (with the C{name},
C{status}, C{visibility} and C{id=in:...} filters) and
C{GET /image/v2/images/{id}}, enough for C{openstack image list},
C{image show} and the clients' name lookups.

Images are the image service's (every type: machine images, kernels and
ramdisks), named by their EC2 ids, as the project sees them.  Uploading
and registering images stays with the S3 and EC2 APIs
(C{docs/images.md}).
"""

from nova.api.openstack import faults
from nova.api.openstack.compute import checkAllowed
from nova.api.openstack.resource import Response, Router, route
from nova.image.errors import ImageNotFound, InvalidImageId
from nova.image.service import AVAILABLE, FAILED

#: Glance's image status for each of ours.
STATUSES = {AVAILABLE: "active", FAILED: "killed"}

#: Glance's disk and container formats of kernels and ramdisks.
_FORMATS = {"kernel": ("aki", "aki"), "ramdisk": ("ari", "ari")}


def isotime(when):
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


def imageView(image, context):
    """
    @param image: an L{nova.db.images.ImageRecord}.
    @return: Glance v2's description of it.
    """
    if image.is_public:
        visibility = "public"
    elif image.launch_permissions:
        visibility = "shared"
    else:
        visibility = "private"
    diskFormat, containerFormat = _FORMATS.get(
        image.image_type, (image.disk_format or "raw", "bare")
    )
    return {
        "id": image.ec2_id,
        "name": image.name or image.ec2_id,
        "status": STATUSES.get(image.state, "saving"),
        "visibility": visibility,
        "protected": False,
        "os_hidden": False,
        "owner": image.project_id,
        "disk_format": diskFormat,
        "container_format": containerFormat,
        "size": image.size,
        "virtual_size": None,
        "checksum": None,
        "os_hash_algo": "sha256" if image.checksum else None,
        "os_hash_value": image.checksum,
        "min_disk": 0,
        "min_ram": 0,
        "architecture": image.architecture,
        "kernel_id": image.kernel_id,
        "ramdisk_id": image.ramdisk_id,
        "description": image.description,
        "image_type": image.image_type,
        "tags": [],
        "created_at": isotime(image.created_at),
        "updated_at": isotime(image.updated_at or image.created_at),
        "self": f"/v2/images/{image.ec2_id}",
        "file": f"/v2/images/{image.ec2_id}/file",
        "schema": "/v2/schemas/image",
    }


def versionsDocument(base):
    return {
        "versions": [
            {
                "id": version,
                "status": "CURRENT" if version == "v2.9" else "SUPPORTED",
                "links": [{"rel": "self", "href": f"{base}/image/v2/"}],
            }
            for version in ("v2.9", "v2.0")
        ]
    }


class ImageRouter(Router):
    """
    C{/image}: Glance v2's read side.
    """

    @route("GET", "", public=True)
    async def versions(self, call):
        return Response(versionsDocument(call.baseURL()))

    @route("GET", "versions", public=True)
    async def versionsAgain(self, call):
        return Response(versionsDocument(call.baseURL()))

    @route("GET", "v2", public=True)
    async def version(self, call):
        return Response(versionsDocument(call.baseURL()))

    @route("GET", "v2/images")
    async def listImages(self, call):
        checkAllowed(call.context, "DescribeImages")
        images = await self.backends.images.describeImages(call.context)
        views = [imageView(image, call.context) for image in images]
        for key in ("name", "status", "visibility", "owner", "disk_format", "container_format"):
            value = call.queryValue(key)
            if value is not None and value != "":
                if key == "visibility" and value == "all":
                    continue
                views = [v for v in views if v[key] == value]
        wanted = call.queryValue("id")
        if wanted:
            ids = wanted[3:].split(",") if wanted.startswith("in:") else [wanted]
            views = [v for v in views if v["id"] in ids]
        return Response({"images": views, "first": "/v2/images", "schema": "/v2/schemas/images"})

    @route("GET", "v2/images/{id}")
    async def showImage(self, call):
        checkAllowed(call.context, "DescribeImages")
        try:
            image = await self.backends.images.getImage(call.context, call.args["id"])
        except (ImageNotFound, InvalidImageId):
            raise faults.ItemNotFound(f"No image found with ID {call.args['id']}") from None
        return Response(imageView(image, call.context))
