"""
nova-all: every Nova service in one process.
"""
