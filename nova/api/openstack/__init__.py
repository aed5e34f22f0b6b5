"""
The OpenStack API (compute v2.1 with a small identity endpoint and an
image API subset) for today's OpenStack clients: see docs/openstack.md and
L{nova.api.openstack.site}.
"""
