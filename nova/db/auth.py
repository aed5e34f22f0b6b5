# -*- test-case-name: tests.auth.test_drivers -*-
"""
The tables of the SQL auth driver (L{nova.auth.sql}): users, projects,
project memberships and role grants.

Rows refer to users and projects by name.  A global role grant has the
empty string as its project.  Errors are this module's own (L{EntryNotFound},
L{EntryExists}, L{ManagerCannotLeave}), each naming the kind of entry, so
that L{nova.db} depends on nothing in L{nova.auth}; the driver translates
them.
"""

import attr
from storm.exceptions import IntegrityError
from storm.expr import And
from storm.locals import Bool, DateTime, Int, Unicode

from nova import exception
from nova.db.services import utcnow
from nova.db.store import readOnly


class AuthUserRow:
    __storm_table__ = "auth_users"
    id = Int(primary=True)
    name = Unicode()
    access_key = Unicode()
    secret_key = Unicode()
    is_admin = Bool()
    created_at = DateTime()
    updated_at = DateTime()


class AuthProjectRow:
    __storm_table__ = "auth_projects"
    id = Int(primary=True)
    name = Unicode()
    manager_name = Unicode()
    description = Unicode()
    created_at = DateTime()
    updated_at = DateTime()


class AuthMemberRow:
    __storm_table__ = "auth_project_members"
    id = Int(primary=True)
    project_name = Unicode()
    user_name = Unicode()


class AuthGrantRow:
    __storm_table__ = "auth_role_grants"
    id = Int(primary=True)
    user_name = Unicode()
    role = Unicode()
    project_name = Unicode()


@attr.s(frozen=True)
class AuthUserRecord:
    name = attr.ib()
    access_key = attr.ib()
    secret_key = attr.ib(repr=False)
    is_admin = attr.ib()

    @classmethod
    def fromModel(cls, row):
        return cls(row.name, row.access_key, row.secret_key, bool(row.is_admin))


@attr.s(frozen=True)
class AuthProjectRecord:
    name = attr.ib()
    manager_name = attr.ib()
    description = attr.ib()
    member_names = attr.ib(converter=tuple)


class EntryNotFound(exception.NotFound):
    """
    No such entry.

    @ivar kind: C{"user"}, C{"project"} or C{"member"}.
    @ivar name: what was looked for.
    """

    code = "AuthEntryNotFound"

    def __init__(self, kind, name, message=None):
        super().__init__(message or f"no {kind} {name!r}")
        self.kind = kind
        self.name = name


class EntryExists(exception.NovaError):
    """
    The entry exists already.

    @ivar kind: C{"user"}, C{"accessKey"}, C{"project"} or C{"member"}.
    """

    code = "AuthEntryExists"
    ec2Code = "InvalidParameterValue"
    httpStatus = 400

    def __init__(self, kind, name, message=None):
        super().__init__(message or f"{kind} {name!r} exists")
        self.kind = kind
        self.name = name


class ManagerCannotLeave(exception.Invalid):
    """
    The user manages projects, so it can be neither deleted nor removed
    from them.

    @ivar projects: the names of those projects.
    """

    code = "AuthManagerCannotLeave"

    def __init__(self, userName, projects):
        super().__init__(
            f"user {userName!r} manages project(s) {', '.join(projects)}: "
            "change their manager first"
        )
        self.userName = userName
        self.projects = tuple(projects)


GLOBAL = ""


class AuthStore:
    """
    Users, projects, memberships and role grants.  Public methods return
    L{Deferred}s; C{thd_*} run in a transaction.
    """

    def __init__(self, transactor, clock):
        self.transactor = transactor
        self.clock = clock

    # Helpers (in a transaction)

    def _user(self, store, name):
        row = store.find(AuthUserRow, AuthUserRow.name == name).one()
        if row is None:
            raise EntryNotFound("user", name)
        return row

    def _project(self, store, name):
        row = store.find(AuthProjectRow, AuthProjectRow.name == name).one()
        if row is None:
            raise EntryNotFound("project", name)
        return row

    def _members(self, store, projectName):
        rows = store.find(AuthMemberRow, AuthMemberRow.project_name == projectName)
        return sorted(row.user_name for row in rows)

    def _projectRecord(self, store, row):
        return AuthProjectRecord(
            row.name, row.manager_name, row.description, self._members(store, row.name)
        )

    def _isMember(self, store, userName, projectName):
        return (
            store.find(
                AuthMemberRow,
                AuthMemberRow.project_name == projectName,
                AuthMemberRow.user_name == userName,
            ).one()
            is not None
        )

    def _addMember(self, store, userName, projectName):
        row = AuthMemberRow()
        row.project_name, row.user_name = projectName, userName
        store.add(row)

    # Users

    def getUser(self, name):
        """
        @return: L{Deferred} firing with an L{AuthUserRecord}; failing with
            L{EntryNotFound}.
        """
        return self.transactor.transact(self.thd_getUser, name)

    @readOnly
    def thd_getUser(self, store, name):
        return AuthUserRecord.fromModel(self._user(store, name))

    def getUserByAccessKey(self, accessKey):
        """
        @return: L{Deferred} firing with an L{AuthUserRecord}; failing with
            L{EntryNotFound} (kind C{user}).
        """
        return self.transactor.transact(self.thd_getUserByAccessKey, accessKey)

    @readOnly
    def thd_getUserByAccessKey(self, store, accessKey):
        row = store.find(AuthUserRow, AuthUserRow.access_key == accessKey).one()
        if row is None:
            raise EntryNotFound("user", accessKey, "no user has that access key")
        return AuthUserRecord.fromModel(row)

    def listUsers(self):
        """
        @return: L{Deferred} firing with a L{list} of L{AuthUserRecord} by
            name.
        """
        return self.transactor.transact(self.thd_listUsers)

    @readOnly
    def thd_listUsers(self, store):
        rows = store.find(AuthUserRow).order_by(AuthUserRow.name)
        return [AuthUserRecord.fromModel(row) for row in rows]

    def createUser(self, name, accessKey, secretKey, isAdmin):
        """
        @return: L{Deferred} firing with the new L{AuthUserRecord}; failing
            with L{EntryExists} (kind C{user} or C{accessKey}).
        """
        return self.transactor.transact(
            self.thd_createUser, name, accessKey, secretKey, isAdmin, utcnow(self.clock)
        )

    def thd_createUser(self, store, name, accessKey, secretKey, isAdmin, now):
        if store.find(AuthUserRow, AuthUserRow.name == name).one() is not None:
            raise EntryExists("user", name)
        if store.find(AuthUserRow, AuthUserRow.access_key == accessKey).one() is not None:
            raise EntryExists("accessKey", accessKey, "another user has that access key")
        row = AuthUserRow()
        row.name, row.access_key, row.secret_key = name, accessKey, secretKey
        row.is_admin = bool(isAdmin)
        row.created_at = row.updated_at = now
        store.add(row)
        try:
            store.flush()
        except IntegrityError:
            # Another transaction created it since we looked.
            raise EntryExists("user", name, f"user {name!r} or its access key exists")
        return AuthUserRecord.fromModel(row)

    def modifyUser(self, name, accessKey=None, secretKey=None, isAdmin=None):
        """
        Change the fields that are not L{None}.

        @return: L{Deferred} firing with the updated L{AuthUserRecord};
            failing with L{EntryNotFound} or L{EntryExists} (C{accessKey}).
        """
        return self.transactor.transact(
            self.thd_modifyUser, name, accessKey, secretKey, isAdmin, utcnow(self.clock)
        )

    def thd_modifyUser(self, store, name, accessKey, secretKey, isAdmin, now):
        row = self._user(store, name)
        if accessKey is not None and accessKey != row.access_key:
            other = store.find(AuthUserRow, AuthUserRow.access_key == accessKey).one()
            if other is not None:
                raise EntryExists("accessKey", accessKey, "another user has that access key")
            row.access_key = accessKey
        if secretKey is not None:
            row.secret_key = secretKey
        if isAdmin is not None:
            row.is_admin = bool(isAdmin)
        row.updated_at = now
        store.flush()
        return AuthUserRecord.fromModel(row)

    def deleteUser(self, name):
        """
        Delete a user with its memberships and grants.

        @return: L{Deferred} firing with L{None}; failing with
            L{EntryNotFound} or L{ManagerCannotLeave}.
        """
        return self.transactor.transact(self.thd_deleteUser, name)

    def thd_deleteUser(self, store, name):
        row = self._user(store, name)
        managed = sorted(
            p.name for p in store.find(AuthProjectRow, AuthProjectRow.manager_name == name)
        )
        if managed:
            raise ManagerCannotLeave(name, managed)
        store.find(AuthMemberRow, AuthMemberRow.user_name == name).remove()
        store.find(AuthGrantRow, AuthGrantRow.user_name == name).remove()
        store.remove(row)

    # Projects

    def getProject(self, name):
        """
        @return: L{Deferred} firing with an L{AuthProjectRecord}; failing
            with L{EntryNotFound}.
        """
        return self.transactor.transact(self.thd_getProject, name)

    @readOnly
    def thd_getProject(self, store, name):
        return self._projectRecord(store, self._project(store, name))

    def listProjects(self, userName=None):
        """
        @return: L{Deferred} firing with a L{list} of L{AuthProjectRecord}
            by name: all, or those C{userName} is a member of.
        """
        return self.transactor.transact(self.thd_listProjects, userName)

    @readOnly
    def thd_listProjects(self, store, userName):
        if userName is None:
            rows = store.find(AuthProjectRow)
        else:
            rows = store.find(
                AuthProjectRow,
                AuthProjectRow.name == AuthMemberRow.project_name,
                AuthMemberRow.user_name == userName,
            )
        rows = rows.order_by(AuthProjectRow.name)
        return [self._projectRecord(store, row) for row in rows]

    def createProject(self, name, managerName, description, memberNames=()):
        """
        @return: L{Deferred} firing with the new L{AuthProjectRecord};
            failing with L{EntryExists} (C{project}) or L{EntryNotFound}
            (C{user}).
        """
        return self.transactor.transact(
            self.thd_createProject,
            name,
            managerName,
            description,
            tuple(memberNames),
            utcnow(self.clock),
        )

    def thd_createProject(self, store, name, managerName, description, memberNames, now):
        if store.find(AuthProjectRow, AuthProjectRow.name == name).one() is not None:
            raise EntryExists("project", name)
        members = {managerName, *memberNames}
        for member in sorted(members):
            self._user(store, member)
        row = AuthProjectRow()
        row.name, row.manager_name, row.description = name, managerName, description
        row.created_at = row.updated_at = now
        store.add(row)
        for member in sorted(members):
            self._addMember(store, member, name)
        try:
            store.flush()
        except IntegrityError:
            raise EntryExists("project", name)
        return self._projectRecord(store, row)

    def modifyProject(self, name, managerName=None, description=None):
        """
        Change the manager (made a member if needed) or the description.

        @return: L{Deferred} firing with the updated L{AuthProjectRecord};
            failing with L{EntryNotFound}.
        """
        return self.transactor.transact(
            self.thd_modifyProject, name, managerName, description, utcnow(self.clock)
        )

    def thd_modifyProject(self, store, name, managerName, description, now):
        row = self._project(store, name)
        if managerName is not None:
            self._user(store, managerName)
            if not self._isMember(store, managerName, name):
                self._addMember(store, managerName, name)
            row.manager_name = managerName
        if description is not None:
            row.description = description
        row.updated_at = now
        store.flush()
        return self._projectRecord(store, row)

    def deleteProject(self, name):
        """
        Delete a project with its memberships and role grants.

        @return: L{Deferred} firing with L{None}; failing with
            L{EntryNotFound}.
        """
        return self.transactor.transact(self.thd_deleteProject, name)

    def thd_deleteProject(self, store, name):
        row = self._project(store, name)
        store.find(AuthGrantRow, AuthGrantRow.project_name == name).remove()
        store.find(AuthMemberRow, AuthMemberRow.project_name == name).remove()
        store.remove(row)

    def addMember(self, userName, projectName):
        """
        @return: L{Deferred} firing with L{None}; failing with
            L{EntryNotFound} or L{EntryExists} (C{member}).
        """
        return self.transactor.transact(self.thd_addMember, userName, projectName)

    def thd_addMember(self, store, userName, projectName):
        self._user(store, userName)
        self._project(store, projectName)
        if self._isMember(store, userName, projectName):
            raise EntryExists(
                "member", userName, f"{userName!r} is already a member of {projectName!r}"
            )
        self._addMember(store, userName, projectName)

    def removeMember(self, userName, projectName):
        """
        Remove a member and its grants in the project.

        @return: L{Deferred} firing with L{None}; failing with
            L{EntryNotFound} (C{user}, C{project} or C{member}) or
            L{ManagerCannotLeave}.
        """
        return self.transactor.transact(self.thd_removeMember, userName, projectName)

    def thd_removeMember(self, store, userName, projectName):
        self._user(store, userName)
        project = self._project(store, projectName)
        if not self._isMember(store, userName, projectName):
            raise EntryNotFound(
                "member", userName, f"{userName!r} is not a member of {projectName!r}"
            )
        if project.manager_name == userName:
            raise ManagerCannotLeave(userName, [projectName])
        store.find(
            AuthMemberRow,
            AuthMemberRow.project_name == projectName,
            AuthMemberRow.user_name == userName,
        ).remove()
        store.find(
            AuthGrantRow,
            AuthGrantRow.project_name == projectName,
            AuthGrantRow.user_name == userName,
        ).remove()

    # Roles

    def getRoles(self, userName, projectName=None):
        """
        @return: L{Deferred} firing with the sorted L{list} of roles granted
            globally or in C{projectName}; failing with L{EntryNotFound}.
        """
        return self.transactor.transact(self.thd_getRoles, userName, projectName)

    @readOnly
    def thd_getRoles(self, store, userName, projectName):
        self._user(store, userName)
        if projectName is not None:
            self._project(store, projectName)
        rows = store.find(
            AuthGrantRow,
            And(
                AuthGrantRow.user_name == userName,
                AuthGrantRow.project_name == (projectName or GLOBAL),
            ),
        )
        return sorted(row.role for row in rows)

    def addRole(self, userName, role, projectName=None):
        """
        Grant a role (idempotent); a project role needs membership.

        @return: L{Deferred} firing with L{None}; failing with
            L{EntryNotFound} (C{user}, C{project} or C{member}).
        """
        return self.transactor.transact(self.thd_addRole, userName, role, projectName)

    def thd_addRole(self, store, userName, role, projectName):
        self._user(store, userName)
        if projectName is not None:
            self._project(store, projectName)
            if not self._isMember(store, userName, projectName):
                raise EntryNotFound(
                    "member", userName, f"{userName!r} is not a member of {projectName!r}"
                )
        scope = projectName or GLOBAL
        existing = store.find(
            AuthGrantRow,
            AuthGrantRow.user_name == userName,
            AuthGrantRow.role == role,
            AuthGrantRow.project_name == scope,
        ).one()
        if existing is None:
            row = AuthGrantRow()
            row.user_name, row.role, row.project_name = userName, role, scope
            store.add(row)

    def removeRole(self, userName, role, projectName=None):
        """
        Revoke a role (idempotent).

        @return: L{Deferred} firing with L{None}; failing with
            L{EntryNotFound} (C{user} or C{project}).
        """
        return self.transactor.transact(self.thd_removeRole, userName, role, projectName)

    def thd_removeRole(self, store, userName, role, projectName):
        self._user(store, userName)
        if projectName is not None:
            self._project(store, projectName)
        store.find(
            AuthGrantRow,
            AuthGrantRow.user_name == userName,
            AuthGrantRow.role == role,
            AuthGrantRow.project_name == (projectName or GLOBAL),
        ).remove()
