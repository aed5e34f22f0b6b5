# -*- test-case-name: tests.api.ec2.test_admin -*-
"""
Nova's admin API at C{/services/Admin}: users, projects, roles, hosts,
instance types, users' credentials and projects' cloudpipe VPNs, for
superusers only.

It speaks the EC2 Query protocol as Nova's C{AdminController} did, so the
admin client Nova shipped (boto 2's C{EC2Connection} with
C{path="/services/Admin"} and C{APIVersion = "nova"}, parsing with
C{get_object}, C{get_list} and C{get_status}) works unchanged.  There is
no botocore model for it: L{ADMIN_MODEL} describes its parameters and XML
in botocore's format, and the framework checks and writes them exactly as
for the EC2 API.  docs/ec2.md shows every response.

That client sends L{None} arguments as the text C{None}; optional
parameters treat C{None} and the empty string as absent.
"""

import base64

from nova.api.ec2.errors import InvalidParameterValue
from nova.api.ec2.model import APIModel
from nova.auth.interfaces import (
    ALLOWED_ROLES,
    GLOBAL_ROLES,
    NotProjectMember,
    ProjectNotFound,
    UserNotFound,
)


def _structure(*members, required=()):
    return {
        "type": "structure",
        "required": list(required),
        "members": {name: {"shape": shape} for name, shape in members},
    }


def _listOf(shape):
    return {"type": "list", "member": {"shape": shape, "locationName": "item"}}


def _operation(name, inputShape=None, outputShape=None):
    operation = {"name": name, "http": {"method": "POST", "requestUri": "/"}}
    if inputShape:
        operation["input"] = {"shape": inputShape}
    if outputShape:
        operation["output"] = {"shape": outputShape}
    return operation


_SHAPES = {
    "String": {"type": "string"},
    "Integer": {"type": "integer"},
    "Boolean": {"type": "boolean"},
    # Inputs
    "NameRequest": _structure(("Name", "String"), required=["Name"]),
    "DescribeUsersRequest": _structure(("IncludeSecrets", "Boolean")),
    "DescribeUserRequest": _structure(
        ("Name", "String"), ("IncludeSecrets", "Boolean"), required=["Name"]
    ),
    "DescribeProjectsRequest": _structure(("User", "String")),
    "DescribeRolesRequest": _structure(("ProjectRoles", "Boolean")),
    "DescribeUserRolesRequest": _structure(
        ("User", "String"), ("Project", "String"), required=["User"]
    ),
    "ModifyUserRoleRequest": _structure(
        ("User", "String"),
        ("Role", "String"),
        ("Project", "String"),
        ("Operation", "String"),
        required=["User", "Role"],
    ),
    "RegisterProjectRequest": _structure(
        ("Name", "String"),
        ("ManagerUser", "String"),
        ("Description", "String"),
        ("MemberUsers", "String"),
        required=["Name", "ManagerUser"],
    ),
    "ModifyProjectRequest": _structure(
        ("Name", "String"),
        ("ManagerUser", "String"),
        ("Description", "String"),
        required=["Name"],
    ),
    "ModifyProjectMemberRequest": _structure(
        ("User", "String"),
        ("Project", "String"),
        ("Operation", "String"),
        required=["User", "Project"],
    ),
    "GenerateX509ForUserRequest": _structure(
        ("Name", "String"), ("Project", "String"), required=["Name"]
    ),
    "StartVpnRequest": _structure(("Project", "String"), required=["Project"]),
    # Outputs
    "UserInfo": _structure(
        ("username", "String"),
        ("accesskey", "String"),
        ("secretkey", "String"),
        ("file", "String"),
    ),
    "UserList": _listOf("UserInfo"),
    "DescribeUsersResult": _structure(("userSet", "UserList")),
    "RoleInfo": _structure(("role", "String")),
    "RoleList": _listOf("RoleInfo"),
    "RolesResult": _structure(("roles", "RoleList")),
    "ProjectInfo": _structure(
        ("projectname", "String"),
        ("projectManagerId", "String"),
        ("description", "String"),
    ),
    "ProjectList": _listOf("ProjectInfo"),
    "DescribeProjectsResult": _structure(("projectSet", "ProjectList")),
    "MemberInfo": _structure(("member", "String")),
    "MemberList": _listOf("MemberInfo"),
    "DescribeProjectMembersResult": _structure(("members", "MemberList")),
    "HostInfo": _structure(
        ("hostname", "String"),
        ("zone", "String"),
        ("compute", "String"),
        ("volume", "String"),
        ("network", "String"),
        ("scheduler", "String"),
        ("instanceCount", "Integer"),
    ),
    "HostList": _listOf("HostInfo"),
    "DescribeHostsResult": _structure(("hosts", "HostList")),
    "InstanceTypeInfo": _structure(
        ("name", "String"),
        ("memory_mb", "Integer"),
        ("vcpus", "Integer"),
        ("disk_gb", "Integer"),
        ("flavor_id", "Integer"),
    ),
    "InstanceTypeList": _listOf("InstanceTypeInfo"),
    "DescribeInstanceTypesResult": _structure(("instanceTypeSet", "InstanceTypeList")),
    "StartVpnResult": _structure(("instance_id", "String")),
    "VpnInfo": _structure(
        ("project_id", "String"),
        ("public_ip", "String"),
        ("public_port", "Integer"),
        ("instance_id", "String"),
        ("created_at", "String"),
        ("internal_ip", "String"),
        ("state", "String"),
    ),
    "VpnList": _listOf("VpnInfo"),
    "DescribeVpnsResult": _structure(("items", "VpnList")),
}

_OPERATIONS = [
    _operation("DescribeUsers", "DescribeUsersRequest", "DescribeUsersResult"),
    _operation("DescribeUser", "DescribeUserRequest", "UserInfo"),
    _operation("RegisterUser", "NameRequest", "UserInfo"),
    _operation("DeregisterUser", "NameRequest"),
    _operation("DescribeRoles", "DescribeRolesRequest", "RolesResult"),
    _operation("DescribeUserRoles", "DescribeUserRolesRequest", "RolesResult"),
    _operation("ModifyUserRole", "ModifyUserRoleRequest"),
    _operation("DescribeProject", "NameRequest", "ProjectInfo"),
    _operation("DescribeProjects", "DescribeProjectsRequest", "DescribeProjectsResult"),
    _operation("RegisterProject", "RegisterProjectRequest", "ProjectInfo"),
    _operation("ModifyProject", "ModifyProjectRequest"),
    _operation("DeregisterProject", "NameRequest"),
    _operation("DescribeProjectMembers", "NameRequest", "DescribeProjectMembersResult"),
    _operation("ModifyProjectMember", "ModifyProjectMemberRequest"),
    _operation("DescribeHosts", None, "DescribeHostsResult"),
    _operation("DescribeHost", "NameRequest", "HostInfo"),
    _operation("DescribeInstanceTypes", None, "DescribeInstanceTypesResult"),
    _operation("GenerateX509ForUser", "GenerateX509ForUserRequest", "UserInfo"),
    _operation("StartVpn", "StartVpnRequest", "StartVpnResult"),
    _operation("DescribeVpns", None, "DescribeVpnsResult"),
]

ADMIN_MODEL_DEFINITION = {
    "version": "2.0",
    "metadata": {
        "apiVersion": "nova",
        "endpointPrefix": "admin",
        "protocol": "ec2",
        "serviceFullName": "Nova Admin",
        "serviceId": "NovaAdmin",
        "signatureVersion": "v4",
        "xmlNamespace": "http://ec2.amazonaws.com/doc/nova",
    },
    "operations": {operation["name"]: operation for operation in _OPERATIONS},
    "shapes": _SHAPES,
}


def adminModel():
    """
    @return: the admin API's L{APIModel}.
    """
    return APIModel(ADMIN_MODEL_DEFINITION, "admin")


def _optional(value):
    """
    @return: C{value}, or L{None} for the absent forms C{None} and C{""}.
    """
    if value is None or value in ("", "None"):
        return None
    return value


def _addOrRemove(params):
    operation = (_optional(params.get("Operation")) or "add").lower()
    if operation not in ("add", "remove"):
        raise InvalidParameterValue("Operation must be add or remove")
    return operation


def _userInfo(user, includeSecret=True):
    info = {"username": user.name, "accesskey": user.accessKey}
    if includeSecret:
        info["secretkey"] = user.secretKey
    return info


def _includeSecrets(call):
    """
    @return: whether a describe answer may hold secret keys: only when a
        cloud admin (a superuser) asks with C{IncludeSecrets=true}.
    """
    return call.params.get("IncludeSecrets") is True and bool(call.context.isAdmin)


def _projectInfo(project):
    return {
        "projectname": project.name,
        "projectManagerId": project.managerId,
        "description": project.description,
    }


async def describeUsers(call):
    """
    The users, without their secret keys unless a cloud admin asks with
    C{IncludeSecrets=true}.
    """
    users = await call.backends.authManager.getUsers()
    includeSecrets = _includeSecrets(call)
    return {"userSet": [_userInfo(user, includeSecrets) for user in users]}


async def describeUser(call):
    """
    The user, without its secret key unless a cloud admin asks with
    C{IncludeSecrets=true}, or an empty answer if there is no such user
    (the admin client's C{has_user} relies on that).
    """
    try:
        user = await call.backends.authManager.getUser(call.params["Name"])
    except UserNotFound:
        return {}
    return _userInfo(user, _includeSecrets(call))


async def registerUser(call):
    """
    Create a user; the answer holds its new secret key (the creator needs
    it to hand it on).
    """
    user = await call.backends.authManager.createUser(call.params["Name"])
    return _userInfo(user)


async def deregisterUser(call):
    await call.backends.authManager.deleteUser(call.params["Name"])
    return True


def describeRoles(call):
    """
    The roles that can be granted: all of them, or with
    C{ProjectRoles=false} only the global ones.
    """
    roles = ALLOWED_ROLES if call.params.get("ProjectRoles", True) else GLOBAL_ROLES
    return {"roles": [{"role": role} for role in roles]}


async def describeUserRoles(call):
    params = call.params
    roles = await call.backends.authManager.getUserRoles(
        params["User"], _optional(params.get("Project"))
    )
    return {"roles": [{"role": role} for role in roles]}


async def modifyUserRole(call):
    params = call.params
    manager = call.backends.authManager
    project = _optional(params.get("Project"))
    if _addOrRemove(params) == "add":
        await manager.addRole(params["User"], params["Role"], project)
    else:
        await manager.removeRole(params["User"], params["Role"], project)
    return True


async def describeProject(call):
    """
    The project, or an empty answer if there is no such project.
    """
    try:
        project = await call.backends.authManager.getProject(call.params["Name"])
    except ProjectNotFound:
        return {}
    return _projectInfo(project)


async def describeProjects(call):
    projects = await call.backends.authManager.getProjects(
        _optional(call.params.get("User"))
    )
    return {"projectSet": [_projectInfo(project) for project in projects]}


def _names(text):
    """
    @return: the user names in a C{MemberUsers} value: separated by commas
        or spaces.
    """
    text = _optional(text)
    if text is None:
        return ()
    return tuple(name for name in text.replace(",", " ").split() if name)


async def registerProject(call):
    params = call.params
    project = await call.backends.authManager.createProject(
        params["Name"],
        params["ManagerUser"],
        _optional(params.get("Description")),
        _names(params.get("MemberUsers")),
    )
    return _projectInfo(project)


async def modifyProject(call):
    params = call.params
    await call.backends.authManager.modifyProject(
        params["Name"],
        _optional(params.get("ManagerUser")),
        _optional(params.get("Description")),
    )
    return True


async def deregisterProject(call):
    await call.backends.authManager.deleteProject(call.params["Name"])
    return True


async def describeProjectMembers(call):
    project = await call.backends.authManager.getProject(call.params["Name"])
    return {"members": [{"member": member} for member in project.memberIds]}


async def modifyProjectMember(call):
    params = call.params
    manager = call.backends.authManager
    if _addOrRemove(params) == "add":
        await manager.addToProject(params["User"], params["Project"])
    else:
        await manager.removeFromProject(params["User"], params["Project"])
    return True


_HOST_SERVICES = {
    "nova-compute": "compute",
    "nova-volume": "volume",
    "nova-network": "network",
    "nova-scheduler": "scheduler",
}


async def _hosts(call, only=None):
    hosts = []
    for host in await call.backends.hosts.describeHosts(call.context, only):
        info = {"hostname": host.host, "zone": host.zone}
        for binary, up in host.services.items():
            field = _HOST_SERVICES.get(binary)
            if field is not None:
                info[field] = "up" if up else "down"
        info["instanceCount"] = host.instanceCount
        hosts.append(info)
    return hosts


async def describeHosts(call):
    """
    Every host in the services table: the state of its compute, volume,
    network and scheduler services (C{up} or C{down}) and its instance
    count.
    """
    return {"hosts": await _hosts(call)}


async def describeHost(call):
    """
    One host, or an empty answer.
    """
    hosts = await _hosts(call, call.params["Name"])
    return hosts[0] if hosts else {}


def describeInstanceTypes(call):
    """
    The instance types, as Cactus's admin API listed them: name, memory
    (MiB), vCPUs, local disk (GiB) and flavor id.
    """

    def shapes(records):
        return {
            "instanceTypeSet": [
                {
                    "name": record.name,
                    "memory_mb": record.memory_mb,
                    "vcpus": record.vcpus,
                    "disk_gb": record.local_gb,
                    "flavor_id": record.flavorid,
                }
                for record in records
            ]
        }

    return call.backends.compute.describeInstanceTypes(call.context).addCallback(shapes)


async def generateX509ForUser(call):
    """
    A user's credentials for a project (by default the project named like
    the user), as Cactus answered them: the user's keys and, in C{file},
    base64, the zip C{nova-manage project zipfile} writes (C{novarc}, a
    new key and certificate signed for the project, the CA's and the
    cloud's certificates, and C{nova-vpn.conf} when the project's network
    has a cloudpipe VPN address).
    """
    from nova.auth.ca import CertificateAuthority
    from nova.auth.manage import credentialsZip
    from nova.network.vpn import projectEndpoint

    params = call.params
    backends = call.backends
    manager = backends.authManager
    name = params["Name"]
    projectName = _optional(params.get("Project")) or name
    user = await manager.getUser(name)
    try:
        credentials = await manager.getCredentials(f"{user.accessKey}:{projectName}")
    except NotProjectMember as e:
        # The admin is asking about someone else: a bad parameter, not a
        # refusal of the caller.
        raise InvalidParameterValue(str(e)) from None
    authority = CertificateAuthority.fromConfig(backends.config, backends.clock)
    endpoint = await projectEndpoint(backends, credentials.project.name)
    data = await backends.runInThread(
        credentialsZip, backends.config, authority, credentials.user,
        credentials.project.name, endpoint,
    )
    return dict(_userInfo(user), file=base64.b64encode(data).decode("ascii"))


async def startVpn(call):
    """
    Launch a project's cloudpipe (with its manager's C{-vpn} key pair)
    unless one runs already, as Cactus did; answer its instance id.
    """
    from nova.network.vpn import VpnAPI

    vpns = VpnAPI.fromBackends(call.backends)
    instance = await vpns.startVpn(call.context, call.params["Project"])
    return {"instance_id": instance.ec2Id}


async def describeVpns(call):
    """
    The cloudpipe of every project with a vlan network, as Cactus listed
    them: project, public address and port, the instance, when it was
    made, its address in the project network and its state (C{pending}
    without an instance).
    """
    from nova.network.vpn import VpnAPI

    vpns = VpnAPI.fromBackends(call.backends)
    items = []
    for vpn in await vpns.describeVpns(call.context):
        item = {"project_id": vpn["projectId"], "state": vpn["state"]}
        for key, field in (
            ("public_ip", "publicIp"),
            ("public_port", "publicPort"),
            ("instance_id", "instanceId"),
            ("internal_ip", "internalIp"),
        ):
            if vpn[field] is not None:
                item[key] = vpn[field]
        if vpn["createdAt"] is not None:
            item["created_at"] = vpn["createdAt"].strftime("%Y-%m-%dT%H:%M:%SZ")
        items.append(item)
    return {"items": items}


ADMIN_ACTIONS = {
    "DescribeUsers": describeUsers,
    "DescribeUser": describeUser,
    "RegisterUser": registerUser,
    "DeregisterUser": deregisterUser,
    "DescribeRoles": describeRoles,
    "DescribeUserRoles": describeUserRoles,
    "ModifyUserRole": modifyUserRole,
    "DescribeProject": describeProject,
    "DescribeProjects": describeProjects,
    "RegisterProject": registerProject,
    "ModifyProject": modifyProject,
    "DeregisterProject": deregisterProject,
    "DescribeProjectMembers": describeProjectMembers,
    "ModifyProjectMember": modifyProjectMember,
    "DescribeHosts": describeHosts,
    "DescribeHost": describeHost,
    "DescribeInstanceTypes": describeInstanceTypes,
    "GenerateX509ForUser": generateX509ForUser,
    "StartVpn": startVpn,
    "DescribeVpns": describeVpns,
}
