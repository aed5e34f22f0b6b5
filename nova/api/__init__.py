"""
The web APIs nova-api serves: EC2 Query API, admin API, metadata service and
the OpenStack API.
"""
