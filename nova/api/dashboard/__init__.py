"""
The web dashboard: server-rendered pages over the same service APIs as the
EC2 and OpenStack APIs (L{nova.api.dashboard.site}).
"""
