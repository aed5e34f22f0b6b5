"""
Short-lived read caches shared by Nova's daemons: an in-process TTL dict
(L{nova.cache.memory}) and Redis (L{nova.cache.redis}), both behind
L{nova.cache.interfaces.ICache}.
"""
