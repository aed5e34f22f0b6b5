"""
Tests of nova-api's web APIs.
"""
