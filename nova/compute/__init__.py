"""
Compute: runs instances on a host through a virt driver.
"""
