"""
Nova on Twisted: an Infrastructure-as-a-Service cloud controller with an
EC2-compatible API, an S3-compatible object store and AMQP-connected daemons.
"""

__version__ = "0.1.0"
