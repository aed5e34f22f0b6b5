"""
Tests of L{nova.volume}.
"""
