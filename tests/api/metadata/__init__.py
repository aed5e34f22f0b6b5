"""
Tests of the metadata service guests read.
"""
