"""
Block volumes: LVM and iSCSI, or files, attached to instances.
"""
