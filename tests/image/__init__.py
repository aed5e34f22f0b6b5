"""
Tests for L{nova.image}.
"""
