"""
Networks: fixed and floating IP addresses, bridges, DHCP and NAT.
"""
