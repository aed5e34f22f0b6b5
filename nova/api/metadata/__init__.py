"""
The metadata service guests read at C{http://169.254.169.254/} (which the
network host forwards to nova-api): C{/latest/meta-data/...},
C{/latest/user-data} and the dated versions EC2 and Nova served.  See
L{nova.api.metadata.resource}.
"""
