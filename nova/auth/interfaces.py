# -*- test-case-name: tests.auth.test_drivers -*-
"""
The identity store: users, projects and roles behind L{IAuthDriver}, the
records drivers return, the roles Nova knows and the errors drivers raise.

Nova's model (from its Austin-Cactus releases):

  - a user has a name, an access key, a secret key and an admin flag; the
    access and secret keys are per user, not per project;
  - a project has a name, a manager (a user, always a member), a
    description and members;
  - a role is held globally (C{addRole(user, role)}) or in one project
    (C{addRole(user, role, project)}).  What a user may do in a project is
    decided by L{nova.auth.manager.AuthManager} from both: see
    L{GLOBAL_ROLES} and L{PROJECT_ROLES}.

Drivers only store; they do not decide permissions.
"""

import attr
from zope.interface import Interface

from nova.exception import Invalid, NotAuthorized, NotFound, NovaError

# Every role that can be granted, in Nova's order.
ALLOWED_ROLES = ("cloudadmin", "itsec", "sysadmin", "netadmin", "developer")

# Held globally, these count in every project.  Granting them in a project
# is refused.
GLOBAL_ROLES = ("cloudadmin", "itsec")

# Superusers may do anything anywhere (as may users with the admin flag).
SUPERUSER_ROLES = ("cloudadmin",)

# These count in a project only when the user holds them globally AND in
# that project.
PROJECT_ROLES = ("sysadmin", "netadmin", "developer")

# Implicit: the manager of a project holds it there.  Never stored.
PROJECT_MANAGER = "projectmanager"


# Records


@attr.s(frozen=True)
class User:
    """
    @ivar name: the user's id (Nova's user ids are names).
    @ivar accessKey: the EC2/S3 access key.
    @ivar secretKey: the secret key that signs requests.
    @ivar isAdmin: the admin flag: a superuser.
    """

    name = attr.ib()
    accessKey = attr.ib()
    secretKey = attr.ib(repr=False)
    isAdmin = attr.ib(default=False)

    def toDict(self):
        """
        @return: a JSON-safe L{dict} (for caches).
        """
        return {
            "name": self.name,
            "accessKey": self.accessKey,
            "secretKey": self.secretKey,
            "isAdmin": self.isAdmin,
        }

    @classmethod
    def fromDict(cls, data):
        return cls(data["name"], data["accessKey"], data["secretKey"], bool(data["isAdmin"]))


@attr.s(frozen=True)
class Project:
    """
    @ivar name: the project's id.
    @ivar managerId: the name of the project manager (a member).
    @ivar description: free text.
    @ivar memberIds: the names of the members, sorted.
    """

    name = attr.ib()
    managerId = attr.ib()
    description = attr.ib(default="")
    memberIds = attr.ib(default=(), converter=lambda ids: tuple(sorted(ids)))

    def toDict(self):
        return {
            "name": self.name,
            "managerId": self.managerId,
            "description": self.description,
            "memberIds": list(self.memberIds),
        }

    @classmethod
    def fromDict(cls, data):
        return cls(data["name"], data["managerId"], data["description"], data["memberIds"])


# Errors


class Duplicate(NovaError):
    """It already exists."""

    code = "Duplicate"
    ec2Code = "InvalidParameterValue"
    httpStatus = 400


class UserNotFound(NotFound):
    """No such user."""

    code = "UserNotFound"


class ProjectNotFound(NotFound):
    """No such project."""

    code = "ProjectNotFound"


class MembershipNotFound(NotFound):
    """The user is not a member of the project."""

    code = "MembershipNotFound"


class UserExists(Duplicate):
    """A user with that name exists."""

    code = "UserExists"


class AccessKeyExists(Duplicate):
    """Another user has that access key."""

    code = "AccessKeyExists"


class ProjectExists(Duplicate):
    """A project with that name exists."""

    code = "ProjectExists"


class AlreadyMember(Duplicate):
    """The user is already a member of the project."""

    code = "AlreadyMember"


class InvalidRole(Invalid):
    """No such role, or not grantable that way."""

    code = "InvalidRole"


class InvalidName(Invalid):
    """The name is not allowed."""

    code = "InvalidName"


class ProjectManagerRequired(Invalid):
    """The user manages a project: change the project's manager first."""

    code = "ProjectManagerRequired"


class NotProjectMember(NotAuthorized):
    """The user is not a member of the project."""

    code = "NotProjectMember"
    ec2Code = "AuthFailure"
    httpStatus = 403
    s3Code = "AccessDenied"
    s3Status = 403


class AuthBackendError(NovaError):
    """The user directory did not answer."""

    code = "AuthBackendError"
    ec2Code = "ServiceUnavailable"
    httpStatus = 503


class IAuthDriver(Interface):
    """
    Stores users, projects, memberships and role grants.  Every method
    returns a L{Deferred}; any of them may fail with L{AuthBackendError}
    when the store cannot be reached.  Names are compared exactly.
    """

    def getUser(name):
        """
        @return: L{Deferred} firing with the L{User}; failing with
            L{UserNotFound}.
        """

    def getUserFromAccessKey(accessKey):
        """
        @return: L{Deferred} firing with the L{User} whose access key is
            C{accessKey}; failing with L{UserNotFound}.
        """

    def listUsers():
        """
        @return: L{Deferred} firing with a L{list} of every L{User}, by name.
        """

    def createUser(name, accessKey, secretKey, isAdmin):
        """
        @return: L{Deferred} firing with the new L{User}; failing with
            L{UserExists} or L{AccessKeyExists}.
        """

    def modifyUser(name, accessKey=None, secretKey=None, isAdmin=None):
        """
        Change the given fields (L{None} leaves a field alone).

        @return: L{Deferred} firing with the updated L{User}; failing with
            L{UserNotFound} or L{AccessKeyExists}.
        """

    def deleteUser(name):
        """
        Delete a user, its memberships and its role grants.

        @return: L{Deferred} firing with L{None}; failing with
            L{UserNotFound}, or L{ProjectManagerRequired} (leaving
            everything unchanged) while the user manages a project.
        """

    def getProject(name):
        """
        @return: L{Deferred} firing with the L{Project}; failing with
            L{ProjectNotFound}.
        """

    def listProjects(userName=None):
        """
        @return: L{Deferred} firing with a L{list} of L{Project} by name:
            all of them, or those C{userName} is a member of.
        """

    def createProject(name, managerName, description, memberNames=()):
        """
        Create a project whose members are the manager and C{memberNames}.

        @return: L{Deferred} firing with the new L{Project}; failing with
            L{ProjectExists}, or L{UserNotFound} for the manager or a member.
        """

    def modifyProject(name, managerName=None, description=None):
        """
        Change the manager (who becomes a member if not one) or the
        description.

        @return: L{Deferred} firing with the updated L{Project}; failing
            with L{ProjectNotFound} or L{UserNotFound}.
        """

    def deleteProject(name):
        """
        Delete a project and its role grants.

        @return: L{Deferred} firing with L{None}; failing with
            L{ProjectNotFound}.
        """

    def addToProject(userName, projectName):
        """
        @return: L{Deferred} firing with L{None}; failing with
            L{UserNotFound}, L{ProjectNotFound} or L{AlreadyMember}.
        """

    def removeFromProject(userName, projectName):
        """
        Remove a member and the roles it holds in the project.

        @return: L{Deferred} firing with L{None}; failing with
            L{UserNotFound}, L{ProjectNotFound}, L{MembershipNotFound}, or
            L{ProjectManagerRequired} for the project's manager.
        """

    def getUserRoles(userName, projectName=None):
        """
        @return: L{Deferred} firing with the sorted L{list} of roles granted
            to the user globally (C{projectName} L{None}) or in the project,
            as stored; failing with L{UserNotFound} or L{ProjectNotFound}.
        """

    def addRole(userName, role, projectName=None):
        """
        Grant a role from L{ALLOWED_ROLES}, globally or in a project the
        user is a member of.  Granting a role held already does nothing.

        @return: L{Deferred} firing with L{None}; failing with
            L{UserNotFound}, L{ProjectNotFound}, L{MembershipNotFound} or
            L{InvalidRole}.
        """

    def removeRole(userName, role, projectName=None):
        """
        Revoke a role; revoking a role not held does nothing.

        @return: L{Deferred} firing with L{None}; failing with
            L{UserNotFound}, L{ProjectNotFound} or L{InvalidRole}.
        """
