"""
The scheduler: picks a host for each instance and volume.
"""
