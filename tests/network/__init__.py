"""
Tests for L{nova.network}.
"""
