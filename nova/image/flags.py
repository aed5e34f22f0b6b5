# -*- test-case-name: tests.image.test_service -*-
"""
Flags of the image service (registration in nova-objectstore, fetching on
compute hosts, the bundling done by nova-manage).
"""

import os

from nova.config import Computed, Flag

OPTIONS = (
    Flag(
        "images_path",
        "path",
        Computed(lambda v: os.path.join(v["state_path"], "images"), "$state_path/images"),
        "Directory where nova-objectstore keeps registered images (decrypted "
        "from their bundles), one file per image, served to compute hosts at "
        "/_images/<image id> on the object store's port.",
    ),
    Flag(
        "image_threads",
        "int",
        2,
        "Image registrations (decrypting and untarring bundles, copying plain "
        "images) that run at once; more wait their turn.",
        minimum=1,
    ),
    Flag(
        "image_max_size_gb",
        "int",
        64,
        "Largest image, in GiB, a registration stores; a bundle that unpacks "
        "to more fails.",
        minimum=1,
    ),
    Flag(
        "image_bundle_part_mb",
        "int",
        10,
        "Size in MiB of the parts of the bundles nova-manage makes (the last "
        "part is smaller), as ec2-bundle-image does.",
        minimum=1,
    ),
    Flag(
        "image_fetch_timeout",
        "float",
        300.0,
        "Seconds a compute host fetching an image from the object store waits "
        "for more data before giving up.",
        minimum=1.0,
    ),
)
