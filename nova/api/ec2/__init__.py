"""
The EC2 Query API (C{/services/Cloud}) and Nova's admin API
(C{/services/Admin}).

The framework: L{nova.api.ec2.resource} receives a request, parses its
parameters (L{nova.api.ec2.request}), authenticates and authorizes it, turns
the parameters into the Python structure botocore's EC2 service model
describes, runs the action named in the table of L{nova.api.ec2.actions},
and writes the result the action returns as EC2's XML
(L{nova.api.ec2.serializer}).  Errors, from anywhere, become EC2 error
documents (L{nova.api.ec2.errors}).  The model itself is
L{nova.api.ec2.model}.  docs/ec2.md describes how to add an action.
"""
