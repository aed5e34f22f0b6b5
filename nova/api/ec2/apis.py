# -*- test-case-name: tests.api.ec2.test_resource -*-
"""
The two Query APIs nova-api serves, built and mounted in one place.
"""

from twisted.web.resource import Resource

from nova.api.ec2.actions import ACTIONS
from nova.api.ec2.actions.zones import regionList
from nova.api.ec2.admin import ADMIN_ACTIONS, adminModel
from nova.api.ec2.ids import checkIdParameters
from nova.api.ec2.model import loadEC2Model
from nova.api.ec2.request import Limits
from nova.api.ec2.resource import EC2API, EC2Resource, superusersOnly
from nova.auth import policy

ADMIN_PATH = "/services/Admin"


def cloudAPI(backends, model=None):
    """
    @param backends: the L{nova.api.ec2.resource.Backends}.
    @param model: the EC2 L{nova.api.ec2.model.APIModel}; botocore's,
        loaded once, if L{None}.
    @return: the EC2 API (L{EC2API}): the L{ACTIONS} table, authorized by
        L{nova.auth.policy.allowed}, its resource ids checked by
        L{checkIdParameters}.
    """
    return EC2API(
        "EC2", model or loadEC2Model(), ACTIONS, policy.allowed, backends,
        checkParameters=checkIdParameters,
    )


def adminAPI(backends):
    """
    @return: the admin API (L{EC2API}), for superusers only.
    """
    return EC2API(
        "Admin", adminModel(), ADMIN_ACTIONS, superusersOnly, backends, dryRun=False
    )


def mount(root, path, resource):
    """
    Put C{resource} at C{path} (C{/a/b}) below C{root}, making the
    resources in between.
    """
    segments = [segment for segment in path.split("/") if segment]
    if not segments:
        raise ValueError(f"cannot mount at {path!r}")
    node = root
    for segment in segments[:-1]:
        name = segment.encode("utf-8")
        child = node.children.get(name)
        if child is None:
            child = Resource()
            node.putChild(name, child)
        node = child
    node.putChild(segments[-1].encode("utf-8"), resource)


def mountEC2(root, config, backends, authenticator):
    """
    Mount the EC2 API at C{config.ec2_path} and the admin API at
    L{ADMIN_PATH}.

    @param root: the web root (L{nova.api.root.APIRoot}).
    @param authenticator: an L{nova.api.ec2.interfaces.IEC2Authenticator}.
    @return: C{(ec2Resource, adminResource)}.
    @raise nova.config.ConfigError: for a malformed C{--region_list}.
    """
    regionList(config)
    limits = Limits(maxBytes=config.ec2_max_request_bytes)
    weak = config.ec2_weak_signatures
    cloud = EC2Resource(cloudAPI(backends), authenticator, limits, weakSignatures=weak)
    admin = EC2Resource(adminAPI(backends), authenticator, limits, weakSignatures=weak)
    mount(root, config.ec2_path, cloud)
    mount(root, ADMIN_PATH, admin)
    return cloud, admin
