"""
Helpers that several subsystems share (running commands, ...).
"""
