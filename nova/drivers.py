# -*- test-case-name: tests.test_drivers -*-
"""
Loading drivers from closed registries.

A registry maps the names a flag accepts to the dotted path of a class.
Only those names load: a typo stops the daemon at start with a message
naming the choices, and the driver is checked against its interface before
anything uses it.
"""

from twisted.python.reflect import ObjectNotFound, namedAny
from zope.interface.exceptions import Invalid
from zope.interface.verify import verifyObject

from nova.config import ConfigError


def loadDriver(iface, registry, name, config, **dependencies):
    """
    Build the driver C{name} of C{registry}.

    @param iface: the zope L{Interface} the driver must provide.
    @param registry: a L{dict} from name to the dotted path of a class
        with a C{fromConfig(config, **dependencies)} class method.
    @param name: the name the configuration chose.
    @param config: the L{nova.config.Config}.
    @param dependencies: further keyword arguments for C{fromConfig} (the
        database, a clock ...).
    @return: the driver, checked with L{verifyObject}.
    @raise ConfigError: if C{name} is not in C{registry}, its class cannot
        be imported, or what it builds does not provide C{iface}.
    """
    if name not in registry:
        raise ConfigError(
            f"unknown {iface.__name__} driver {name!r}; choose from "
            f"{', '.join(sorted(registry))}"
        )
    path = registry[name]
    try:
        factory = namedAny(path)
    except (ImportError, AttributeError, ObjectNotFound) as e:
        raise ConfigError(f"driver {name!r} ({path}) cannot be loaded: {e}")
    driver = factory.fromConfig(config, **dependencies)
    try:
        verifyObject(iface, driver)
    except Invalid as e:
        raise ConfigError(f"driver {name!r} ({path}) does not provide {iface.__name__}: {e}")
    return driver
