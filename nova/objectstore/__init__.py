"""
The S3-compatible object store and the images registered from it.
"""
