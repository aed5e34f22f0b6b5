"""
Identity: users, projects, roles, credentials, request signatures and the
certificate authority.
"""
