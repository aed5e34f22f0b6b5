# -*- test-case-name: tests.auth.test_manage -*-
"""
The C{user}, C{project} and C{role} categories of C{nova-manage}, with
Nova's positional arguments::

    nova-manage user admin <name> [access] [secret]
    nova-manage user create <name> [access] [secret]
    nova-manage user delete <name>
    nova-manage user exports <name>
    nova-manage user list
    nova-manage user modify <name> <access> <secret> <admin T/F>
    nova-manage user revoke <name> [project]
    nova-manage project create <name> <manager> [description]
    nova-manage project modify <name> <manager> [description]
    nova-manage project delete <name>
    nova-manage project list [user]
    nova-manage project add <project> <user>
    nova-manage project remove <project> <user>
    nova-manage project quota <project> [key] [value]
    nova-manage project environment <project> <user> [filename]
    nova-manage project zipfile <project> <user> [filename]
    nova-manage project scrub <project>
    nova-manage role add <user> <role> [project]
    nova-manage role has <user> <role> [project]
    nova-manage role remove <user> <role> [project]

C{account} is another name of C{project}, as in Cactus.

Every command but C{project scrub} (which works on the database alone)
works through L{nova.auth.manager.AuthManager} built from the
flags (C{--auth_driver}, C{--cache_backend}...), so a change made here
invalidates the shared cache the API daemons read.
"""

import functools
import io
import os
import shlex
import zipfile

from twisted.internet.defer import inlineCallbacks, maybeDeferred
from twisted.internet.threads import deferToThreadPool

from nova.exception import Invalid
from nova.manage import Commands

REGION_NAME = "nova"

_TRUE = ("t", "true", "y", "yes", "1")
_FALSE = ("f", "false", "n", "no", "0")


def _withAuth(method):
    """
    Run a command with C{self.auth}, an L{AuthManager} from the flags whose
    services are started for the command and stopped after it.
    """

    @functools.wraps(method)
    def wrapper(self, *args):
        from nova.auth.manager import authManagerFromConfig

        self.auth = authManagerFromConfig(self.config, self.env.db, self.env.reactor)
        self.auth.service.startService()
        d = maybeDeferred(method, self, *args)

        def stop(result):
            return maybeDeferred(self.auth.service.stopService).addBoth(lambda _: result)

        return d.addBoth(stop)

    return wrapper


def _inThread(reactor, function, *args):
    return deferToThreadPool(reactor, reactor.getThreadPool(), function, *args)


def _parseBool(text):
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise Invalid(f"expected T or F, not {text!r}")


def ec2URL(config):
    """
    @return: the EC2 API endpoint clients use, from C{--ec2_host},
        C{--ec2_port} and C{--ec2_path}.
    """
    return f"http://{config.ec2_host}:{config.ec2_port}{config.ec2_path}"


def s3URL(config):
    """
    @return: the object store endpoint, from C{--s3_host} and C{--s3_port}.
    """
    return f"http://{config.s3_host}:{config.s3_port}"


def novarc(config, user, project):
    """
    The shell file that sets up a user's clients for a project: the
    variables of euca2ools and ec2-api-tools (C{EC2_*}, C{S3_URL},
    C{NOVA_CERT}, C{EUCALYPTUS_CERT}) and those of today's AWS clients
    (C{AWS_*}).  Key and certificate paths are relative to the file's
    directory (as the credentials zip unpacks them).

    @param user: the L{nova.auth.interfaces.User}.
    @param project: the project's name.
    @return: the text of C{novarc}.
    """
    q = shlex.quote
    access = f"{user.accessKey}:{project}"
    return "\n".join(
        [
            f"# Nova credentials of user {user.name} in project {project}.",
            "# Load them into a shell with: . novarc",
            'NOVA_KEY_DIR=$(cd "$(dirname "${BASH_SOURCE:-$0}")" >/dev/null && pwd)',
            f"export EC2_ACCESS_KEY={q(access)}",
            f"export EC2_SECRET_KEY={q(user.secretKey)}",
            f"export EC2_URL={q(ec2URL(config))}",
            f"export S3_URL={q(s3URL(config))}",
            "export EC2_USER_ID=42  # unused by Nova, but bundling tools need one",
            "export EC2_PRIVATE_KEY=${NOVA_KEY_DIR}/pk.pem",
            "export EC2_CERT=${NOVA_KEY_DIR}/cert.pem",
            "export NOVA_CERT=${NOVA_KEY_DIR}/cloud-cert.pem",
            "export EUCALYPTUS_CERT=${NOVA_CERT}",
            'alias ec2-bundle-image="ec2-bundle-image --cert ${EC2_CERT} '
            '--privatekey ${EC2_PRIVATE_KEY} --user 42 --ec2cert ${NOVA_CERT}"',
            'alias ec2-upload-bundle="ec2-upload-bundle -a ${EC2_ACCESS_KEY} '
            '-s ${EC2_SECRET_KEY} --url ${S3_URL} --ec2cert ${NOVA_CERT}"',
            'export AWS_ACCESS_KEY_ID="${EC2_ACCESS_KEY}"',
            'export AWS_SECRET_ACCESS_KEY="${EC2_SECRET_KEY}"',
            f"export AWS_DEFAULT_REGION={REGION_NAME}",
            'export AWS_ENDPOINT_URL_EC2="${EC2_URL}"',
            'export AWS_ENDPOINT_URL_S3="${S3_URL}"',
            "",
        ]
    )


def _writeFile(path, data, mode=0o600):
    """
    Write a credentials file readable only by its owner.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def credentialsZip(config, authority, user, project, vpnEndpoint=None):
    """
    Make a user's credentials for a project (blocking: run in a thread).

    @param authority: the L{nova.auth.ca.CertificateAuthority}.
    @param vpnEndpoint: C{(address, port)} of the project's cloudpipe VPN
        (L{nova.network.vpn.vpnEndpoint}), or L{None}.
    @return: the bytes of C{nova.zip}: C{novarc}, C{pk.pem} (the user's
        private key), C{cert.pem} (its certificate, signed for the
        project), C{cacert.pem} (the CA that signed it),
        C{cloud-cert.pem} (the cloud certificate image bundles are
        encrypted to) and, with C{vpnEndpoint}, C{nova-vpn.conf} (the
        OpenVPN client configuration of L{nova.network.vpn}).
    """
    privateKey, certificate, _ = authority.signUserCertificate(user.name, project)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("novarc", novarc(config, user, project))
        archive.writestr("pk.pem", privateKey)
        archive.writestr("cert.pem", certificate)
        archive.writestr("cacert.pem", authority.projectCertificatePEM(project))
        archive.writestr("cloud-cert.pem", authority.cloudCertificatePEM())
        if vpnEndpoint is not None:
            from nova.network.vpn import CLIENT_CONFIG_NAME, credentialsConfig

            archive.writestr(
                CLIENT_CONFIG_NAME, credentialsConfig(authority, project, vpnEndpoint)
            )
    return buffer.getvalue()


def _authority(config, clock):
    from nova.auth.ca import CertificateAuthority

    return CertificateAuthority.fromConfig(config, clock)


class UserCommands(Commands):
    """
    Users: their keys and admin flag.
    """

    def _exports(self, user):
        self.say(f"export EC2_ACCESS_KEY={shlex.quote(user.accessKey)}")
        self.say(f"export EC2_SECRET_KEY={shlex.quote(user.secretKey)}")

    @_withAuth
    @inlineCallbacks
    def do_admin(self, name, access=None, secret=None):
        """Create an admin user (a superuser); print its keys."""
        user = yield self.auth.createUser(name, access, secret, admin=True)
        self._exports(user)

    @_withAuth
    @inlineCallbacks
    def do_create(self, name, access=None, secret=None):
        """Create a user; print its keys."""
        user = yield self.auth.createUser(name, access, secret, admin=False)
        self._exports(user)

    @_withAuth
    @inlineCallbacks
    def do_delete(self, name):
        """Delete a user, its memberships, roles and key pairs."""
        yield self.auth.deleteUser(name)
        self.say(f"user {name} deleted")

    @_withAuth
    @inlineCallbacks
    def do_exports(self, name):
        """Print a user's keys as shell exports."""
        user = yield self.auth.getUser(name)
        self._exports(user)

    @_withAuth
    @inlineCallbacks
    def do_list(self):
        """List the users' names."""
        for user in (yield self.auth.getUsers()):
            self.say(user.name)

    @_withAuth
    @inlineCallbacks
    def do_modify(self, name, access, secret, is_admin):
        """Change a user's access key, secret key and admin flag (T/F); '' keeps one."""
        admin = _parseBool(is_admin) if is_admin.strip() else None
        user = yield self.auth.modifyUser(name, access or None, secret or None, admin)
        self.say(f"user {user.name}: access key {user.accessKey}, admin {user.isAdmin}")

    @_withAuth
    @inlineCallbacks
    def do_revoke(self, name, project=None):
        """Revoke a user's certificates (in one project, if given)."""
        yield self.auth.getUser(name)
        authority = _authority(self.config, self.env.reactor)
        serials = yield _inThread(
            self.env.reactor, authority.revokeUserCertificates, name, project
        )
        self.say(f"revoked {len(serials)} certificate(s) of {name}")


class ProjectCommands(Commands):
    """
    Projects: members, managers, quotas and credentials.
    """

    @_withAuth
    @inlineCallbacks
    def do_create(self, name, project_manager, description=None):
        """Create a project managed (and joined) by a user."""
        project = yield self.auth.createProject(name, project_manager, description)
        self.say(f"project {project.name} created, managed by {project.managerId}")

    @_withAuth
    @inlineCallbacks
    def do_modify(self, name, project_manager, description=None):
        """Change a project's manager and description."""
        project = yield self.auth.modifyProject(name, project_manager, description)
        self.say(f"project {project.name} is managed by {project.managerId}")

    @_withAuth
    @inlineCallbacks
    def do_delete(self, name):
        """Delete a project, its roles and its quota overrides."""
        from nova.quota import QuotaEngine

        yield self.auth.deleteProject(name)
        yield QuotaEngine.fromConfig(self.config, self.env.db).resetQuota(name)
        self.say(f"project {name} deleted")

    @inlineCallbacks
    def do_scrub(self, project_id):
        """Give back a project's network and delete its security groups (the project may be gone).

        Groups that instances still use, or that another project's group
        names in a rule, are kept and listed.
        """
        from nova.db.security_groups import SecurityGroupInUse

        db = self.env.db
        yield db.networks.disassociateProject(project_id)
        remaining = list((yield db.securityGroups.list(projectId=project_id)))
        deleted, reasons = [], {}
        # A group another one names in a rule goes once the other is gone.
        while remaining:
            progress, kept = False, []
            for group in remaining:
                try:
                    yield db.securityGroups.delete(group.id)
                except SecurityGroupInUse as e:
                    kept.append(group)
                    reasons[group.name] = str(e)
                else:
                    deleted.append(group.name)
                    progress = True
            remaining = kept
            if not progress:
                break
        self.say(
            f"project {project_id} scrubbed: network released, "
            f"{len(deleted)} security group(s) deleted"
        )
        for group in remaining:
            self.say(f"kept security group {group.name}: {reasons[group.name]}")

    @_withAuth
    @inlineCallbacks
    def do_list(self, username=None):
        """List the projects (of a user, if given)."""
        for project in (yield self.auth.getProjects(username)):
            self.say(project.name)

    @_withAuth
    @inlineCallbacks
    def do_add(self, project_id, user_id):
        """Add a user to a project."""
        yield self.auth.addToProject(user_id, project_id)
        self.say(f"{user_id} added to {project_id}")

    @_withAuth
    @inlineCallbacks
    def do_remove(self, project_id, user_id):
        """Remove a user from a project (and its roles there)."""
        yield self.auth.removeFromProject(user_id, project_id)
        self.say(f"{user_id} removed from {project_id}")

    @_withAuth
    @inlineCallbacks
    def do_quota(self, project_id, key=None, value=None):
        """Print a project's quotas, or set one: <key> <number or unlimited>."""
        from nova.quota import RESOURCES, QuotaEngine, parseLimit

        yield self.auth.getProject(project_id)
        engine = QuotaEngine.fromConfig(self.config, self.env.db)
        if key is not None and value is not None:
            yield engine.setQuota(project_id, key, parseLimit(value))
        elif key is not None and key not in RESOURCES:
            raise Invalid(f"no quota resource {key!r}; resources are {', '.join(RESOURCES)}")
        quota = yield engine.getQuota(project_id)
        for resource in (key,) if key is not None and value is None else RESOURCES:
            limit = quota[resource]
            self.say(f"{resource}: {'unlimited' if limit is None else limit}")

    @_withAuth
    @inlineCallbacks
    def do_environment(self, project_id, user_id, filename="novarc"):
        """Write a user's novarc for a project, and an openrc (OpenStack clients) beside it."""
        from nova.api.openstack.identity import openrc

        user = yield self.auth.getUser(user_id)
        credentials = yield self.auth.getCredentials(f"{user.accessKey}:{project_id}")
        text = novarc(self.config, credentials.user, credentials.project.name)
        yield _inThread(self.env.reactor, _writeFile, filename, text.encode("utf-8"))
        self.say(f"wrote {filename}")
        rc = os.path.join(os.path.dirname(filename), "openrc")
        text = openrc(self.config, credentials.user, credentials.project.name)
        yield _inThread(self.env.reactor, _writeFile, rc, text.encode("utf-8"))
        self.say(f"wrote {rc}")

    @_withAuth
    @inlineCallbacks
    def do_zipfile(self, project_id, user_id, filename="nova.zip"):
        """Write a user's credentials for a project (novarc, keys, certificates, nova-vpn.conf) to a zip."""
        from nova.db.networks import NetworkNotFound
        from nova.network.vpn import vpnEndpoint

        user = yield self.auth.getUser(user_id)
        credentials = yield self.auth.getCredentials(f"{user.accessKey}:{project_id}")
        authority = _authority(self.config, self.env.reactor)
        try:
            network = yield self.env.db.networks.getForProject(credentials.project.name)
        except NetworkNotFound:
            network = None
        endpoint = vpnEndpoint(network)

        def make():
            data = credentialsZip(
                self.config, authority, credentials.user, credentials.project.name,
                endpoint,
            )
            _writeFile(filename, data)

        yield _inThread(self.env.reactor, make)
        self.say(f"wrote {filename}")


class RoleCommands(Commands):
    """
    Roles, global or in a project.  A project role counts only when the
    user also holds it globally.
    """

    @_withAuth
    @inlineCallbacks
    def do_add(self, user, role, project=None):
        """Grant a role (globally, or in a project)."""
        yield self.auth.addRole(user, role, project)
        where = f"in {project}" if project else "globally"
        self.say(f"{user} has role {role} {where}")

    @_withAuth
    @inlineCallbacks
    def do_has(self, user, role, project=None):
        """Print True if the role counts for the user (in the project)."""
        self.say(str((yield self.auth.hasRole(user, role, project))))

    @_withAuth
    @inlineCallbacks
    def do_remove(self, user, role, project=None):
        """Revoke a role (globally, or in a project)."""
        yield self.auth.removeRole(user, role, project)
        where = f"in {project}" if project else "globally"
        self.say(f"{user} no longer has role {role} {where}")
