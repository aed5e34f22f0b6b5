"""
Tests of the S3-compatible object store.
"""
