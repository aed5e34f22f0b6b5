"""
Tests of the EC2 Query API framework, its actions and the admin API.
"""
