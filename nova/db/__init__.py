"""
Nova's state in a SQL database through Storm.  Storm objects stay inside
this package: its components return frozen records (L{nova.db.records}).
"""
