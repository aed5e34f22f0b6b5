# -*- test-case-name: tests.auth.test_drivers -*-
"""
L{SQLAuthDriver}: users, projects and roles in Nova's own database (the
tables of L{nova.db.auth}).  The embedded default: it needs nothing but the
database every daemon already has.
"""

from twisted.internet.defer import fail
from zope.interface import implementer

from nova.auth import interfaces
from nova.auth.interfaces import IAuthDriver, Project, User
from nova.db import auth as tables


def _user(record):
    return User(record.name, record.access_key, record.secret_key, record.is_admin)


def _project(record):
    return Project(record.name, record.manager_name, record.description, record.member_names)


_NOT_FOUND = {
    "user": interfaces.UserNotFound,
    "project": interfaces.ProjectNotFound,
    "member": interfaces.MembershipNotFound,
}

_EXISTS = {
    "user": interfaces.UserExists,
    "accessKey": interfaces.AccessKeyExists,
    "project": interfaces.ProjectExists,
    "member": interfaces.AlreadyMember,
}


def _translate(failure):
    """
    Turn the database component's errors into the driver interface's.
    """
    error = failure.value
    if isinstance(error, tables.EntryNotFound):
        raise _NOT_FOUND[error.kind](error.message)
    if isinstance(error, tables.EntryExists):
        raise _EXISTS[error.kind](error.message)
    if isinstance(error, tables.ManagerCannotLeave):
        raise interfaces.ProjectManagerRequired(error.message)
    return failure


def _checkRole(role):
    if role not in interfaces.ALLOWED_ROLES:
        raise interfaces.InvalidRole(f"no role {role!r}")


@implementer(IAuthDriver)
class SQLAuthDriver:
    """
    @ivar tables: the L{nova.db.auth.AuthStore} of the database.
    """

    def __init__(self, database):
        """
        @param database: a L{nova.db.api.NovaDatabase}.
        """
        self.tables = database.auth

    def _call(self, method, *args, convert=None):
        d = method(*args)
        d.addErrback(_translate)
        if convert is not None:
            d.addCallback(convert)
        return d

    def getUser(self, name):
        return self._call(self.tables.getUser, name, convert=_user)

    def getUserFromAccessKey(self, accessKey):
        return self._call(self.tables.getUserByAccessKey, accessKey, convert=_user)

    def listUsers(self):
        return self._call(self.tables.listUsers, convert=lambda rs: [_user(r) for r in rs])

    def createUser(self, name, accessKey, secretKey, isAdmin):
        return self._call(
            self.tables.createUser, name, accessKey, secretKey, bool(isAdmin), convert=_user
        )

    def modifyUser(self, name, accessKey=None, secretKey=None, isAdmin=None):
        return self._call(
            self.tables.modifyUser, name, accessKey, secretKey, isAdmin, convert=_user
        )

    def deleteUser(self, name):
        return self._call(self.tables.deleteUser, name)

    def getProject(self, name):
        return self._call(self.tables.getProject, name, convert=_project)

    def listProjects(self, userName=None):
        return self._call(
            self.tables.listProjects, userName, convert=lambda rs: [_project(r) for r in rs]
        )

    def createProject(self, name, managerName, description, memberNames=()):
        return self._call(
            self.tables.createProject,
            name,
            managerName,
            description or "",
            tuple(memberNames),
            convert=_project,
        )

    def modifyProject(self, name, managerName=None, description=None):
        return self._call(
            self.tables.modifyProject, name, managerName, description, convert=_project
        )

    def deleteProject(self, name):
        return self._call(self.tables.deleteProject, name)

    def addToProject(self, userName, projectName):
        return self._call(self.tables.addMember, userName, projectName)

    def removeFromProject(self, userName, projectName):
        return self._call(self.tables.removeMember, userName, projectName)

    def getUserRoles(self, userName, projectName=None):
        return self._call(self.tables.getRoles, userName, projectName)

    def addRole(self, userName, role, projectName=None):
        try:
            _checkRole(role)
        except interfaces.InvalidRole as e:
            return fail(e)
        return self._call(self.tables.addRole, userName, role, projectName)

    def removeRole(self, userName, role, projectName=None):
        try:
            _checkRole(role)
        except interfaces.InvalidRole as e:
            return fail(e)
        return self._call(self.tables.removeRole, userName, role, projectName)
