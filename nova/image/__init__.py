"""
Images: registering machine, kernel and ramdisk images from bundles (or
plain objects) in the object store, sharing them, serving them to compute
hosts, and making bundles.  See docs/images.md.
"""
