# -*- test-case-name: tests.auth.test_policy -*-
"""
Who may do what: one table from action name to the roles that allow it,
and L{allowed}, the one function the EC2, admin and S3 layers ask.

The table is Cactus's map (C{nova/api/ec2/__init__.py}, C{Authorizer}):

  - describing things and managing one's own key pairs: any member of the
    project (L{ALL});
  - security groups and addresses: C{netadmin};
  - instances, volumes, snapshots and images: C{projectmanager} or
    C{sysadmin};
  - everything else, including every action missing from the table and
    the whole admin API: superusers only (L{NONE}).

Superusers (the admin flag, or the global C{cloudadmin} role) may do
anything; L{nova.auth.manager.AuthManager} puts that in
C{RequestContext.isAdmin}.  The roles in C{RequestContext.roles} are the
effective ones: a project role counts only when held globally AND in the
project (see L{nova.auth.manager}).

Actions are EC2 action names as clients send them (C{RunInstances}); S3
operations are named C{s3:<Operation>}; the S3 layer also checks that the
bucket belongs to the caller's project.  The API layers add their actions
here: this table is the whole policy.
"""

from types import MappingProxyType

from nova.auth.interfaces import PROJECT_MANAGER
from nova.exception import NotAuthorized

# Any authenticated member of the project (every context with a user and a
# project).
ALL = "all"
# Superusers only.
NONE = "none"

_MEMBERS = (ALL,)
_NETADMIN = ("netadmin",)
_OPERATORS = (PROJECT_MANAGER, "sysadmin")


def _table(**groups):
    table = {}
    for roles, actions in groups.values():
        for action in actions:
            if action in table:
                raise ValueError(f"{action} is listed twice")
            table[action] = tuple(roles)
    return MappingProxyType(table)


ACTION_ROLES = _table(
    members=(
        _MEMBERS,
        (
            # Describe* (every one the EC2 API answers).
            "DescribeAccountAttributes",
            "DescribeAddresses",
            "DescribeAvailabilityZones",
            "DescribeImageAttribute",
            "DescribeImages",
            "DescribeInstanceAttribute",
            "DescribeInstanceStatus",
            "DescribeInstanceTypes",
            "DescribeInstances",
            "DescribeInstancesV6",
            "DescribeKeyPairs",
            "DescribeRegions",
            "DescribeSecurityGroups",
            "DescribeSnapshots",
            "DescribeTags",
            "DescribeVolumes",
            # Key pairs belong to the user, not the project.
            "CreateKeyPair",
            "DeleteKeyPair",
            "ImportKeyPair",
            # The S3 object store: ownership of buckets is checked there.
            "s3:ListBuckets",
            "s3:CreateBucket",
            "s3:DeleteBucket",
            "s3:ListObjects",
            "s3:GetBucketLocation",
            "s3:GetBucketAcl",
            "s3:PutBucketAcl",
            "s3:HeadBucket",
            "s3:GetObject",
            "s3:HeadObject",
            "s3:PutObject",
            "s3:CopyObject",
            "s3:DeleteObject",
            "s3:DeleteObjects",
            "s3:GetObjectAcl",
            "s3:PutObjectAcl",
            "s3:CreateMultipartUpload",
            "s3:UploadPart",
            "s3:CompleteMultipartUpload",
            "s3:AbortMultipartUpload",
            "s3:ListParts",
            "s3:ListMultipartUploads",
        ),
    ),
    netadmin=(
        _NETADMIN,
        (
            "AllocateAddress",
            "ReleaseAddress",
            "AssociateAddress",
            "DisassociateAddress",
            "CreateSecurityGroup",
            "DeleteSecurityGroup",
            "AuthorizeSecurityGroupIngress",
            "RevokeSecurityGroupIngress",
            "AuthorizeSecurityGroupEgress",
            "RevokeSecurityGroupEgress",
        ),
    ),
    operators=(
        _OPERATORS,
        (
            "RunInstances",
            "TerminateInstances",
            "RebootInstances",
            "StartInstances",
            "StopInstances",
            "GetConsoleOutput",
            "GetVncConsole",
            "GetPasswordData",
            "ModifyInstanceAttribute",
            "UpdateInstance",
            "RescueInstance",
            "UnrescueInstance",
            "CreateVolume",
            "DeleteVolume",
            "AttachVolume",
            "DetachVolume",
            "UpdateVolume",
            "CreateSnapshot",
            "DeleteSnapshot",
            "RegisterImage",
            "DeregisterImage",
            "CreateImage",
            "ModifyImageAttribute",
            "ResetImageAttribute",
            "UpdateImage",
            "CreateTags",
            "DeleteTags",
            # Image bundles uploaded through S3 are registered as images.
            "s3:RegisterImage",
        ),
    ),
)


class ActionNotAllowed(NotAuthorized):
    """You are not authorized to perform this operation."""

    code = "ActionNotAllowed"
    ec2Code = "UnauthorizedOperation"
    httpStatus = 403
    s3Code = "AccessDenied"
    s3Status = 403


def requiredRoles(action, table=ACTION_ROLES):
    """
    @return: the roles any one of which allows C{action}: a L{tuple} that
        may hold L{ALL} or L{NONE}.  Actions not in C{table} need a
        superuser.
    """
    return table.get(action, (NONE,))


def allowed(context, action, table=ACTION_ROLES):
    """
    May C{context} do C{action}?

    @param context: a L{nova.context.RequestContext}.
    @param action: an EC2 action name, or C{s3:<Operation>}.
    @return: L{True} or L{False}.
    """
    if context is None:
        return False
    if context.isAdmin:
        return True
    roles = requiredRoles(action, table)
    if NONE in roles:
        return False
    if ALL in roles:
        return context.userId is not None and context.projectId is not None
    return bool(set(roles) & set(context.roles))


def checkAllowed(context, action, table=ACTION_ROLES):
    """
    @raise ActionNotAllowed: unless L{allowed}.
    """
    if not allowed(context, action, table):
        user = getattr(context, "userId", None)
        raise ActionNotAllowed(
            f"User {user} is not authorized to perform {action}."
        )
