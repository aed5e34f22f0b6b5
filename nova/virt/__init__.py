"""
Virt drivers: how Nova starts, stops and inspects guests on one host
(L{nova.virt.interfaces.IVirtDriver}), with an in-memory fake beside the
real drivers.
"""
