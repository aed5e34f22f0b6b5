# -*- test-case-name: tests.objectstore.test_clients,tests.objectstore.test_fidelity -*-
"""
Access control lists: GetBucketAcl, PutBucketAcl, GetObjectAcl,
PutObjectAcl, and the ACL a write asks for in its headers (C{x-amz-acl},
C{x-amz-grant-*}).

An access control list is kept and listed as S3 lists it: a canned ACL
stands for its group grants and then the owner's full control, grant
headers and C{AccessControlPolicy} documents for exactly the grants they
list.  A grant naming a canonical user (a project) that does not exist is
refused (L{checkGrantees}).  An object's ACL is its version's: requests
naming a C{versionId} read or change that version's, others the latest's.
"""

import re

from nova.objectstore import common, conditions, errors, s3xml
from nova.objectstore.call import Response, xmlResponse
from nova.objectstore.interfaces import ANONYMOUS_OWNER, Grant, ownerGrants

_GRANT_HEADERS = {
    "x-amz-grant-read": "READ",
    "x-amz-grant-write": "WRITE",
    "x-amz-grant-read-acp": "READ_ACP",
    "x-amz-grant-write-acp": "WRITE_ACP",
    "x-amz-grant-full-control": "FULL_CONTROL",
}


def parseGrantHeaders(headers):
    """
    @param headers: a mapping of lower-case header names to values.
    @return: the L{Grant}s of the C{x-amz-grant-*} headers.
    @raise InvalidArgument: for a grantee that is not C{id="..."} or
        C{uri="..."}.
    @raise UnresolvableGrantByEmailAddress: for a grant by e-mail address.
    """
    grants = []
    for header, permission in _GRANT_HEADERS.items():
        value = headers.get(header)
        if value is None:
            continue
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            match = re.fullmatch(r'(id|uri|emailAddress)\s*=\s*"?([^"]*)"?', item)
            if match is None:
                raise errors.InvalidArgument(ArgumentName=header, ArgumentValue=value)
            kind, grantee = match.groups()
            if kind == "emailAddress":
                raise errors.UnresolvableGrantByEmailAddress()
            grants.append(Grant("Group" if kind == "uri" else "CanonicalUser", grantee, permission))
    return grants


def aclFromHeaders(call, owner, bucketOwner=None):
    """
    @param owner: the owner of the bucket or object (for canned ACLs).
    @param bucketOwner: for objects, the owner of their bucket (for the
        C{bucket-owner-*} canned ACLs).
    @return: the L{Grant}s that C{x-amz-acl} or C{x-amz-grant-*} ask for,
        or C{None} when neither is given.  Grant headers grant exactly what
        they list, the owner's full control only if they list it.
    @raise InvalidRequest: when both are given.
    """
    headers = call.headers()
    canned = headers.get("x-amz-acl")
    grants = parseGrantHeaders(headers)
    if canned is not None and grants:
        raise errors.InvalidRequest("Specifying both Canned ACLs and Header Grants is not allowed")
    if canned is not None:
        return common.cannedACL(canned.strip(), owner, bucketOwner)
    if grants:
        return tuple(grants)
    return None


async def checkGrantees(call, grants, known=()):
    """
    Check that every canonical user a grant names exists.

    @param known: ids known already (the owners).
    @raise InvalidArgument: for a grant to an unknown id, as S3 answers.
    """
    if call.canonicalUsers is None:
        return
    for grant in grants:
        if grant.granteeType != "CanonicalUser" or grant.grantee in known:
            continue
        if grant.grantee == ANONYMOUS_OWNER:
            continue
        if not await call.canonicalUsers.isCanonicalUser(grant.grantee):
            raise errors.InvalidArgument(
                "Invalid id", ArgumentName="CanonicalUser/ID", ArgumentValue=grant.grantee
            )


async def aclForWrite(call, owner, bucketOwner=None):
    """
    @return: the checked L{Grant}s a write (CreateBucket, PutObject,
        CopyObject, CreateMultipartUpload) asks for in its headers; a
        private ACL when it asks for none.
    """
    acl = aclFromHeaders(call, owner, bucketOwner)
    if acl is None:
        return ownerGrants(owner)
    await checkGrantees(call, acl, (owner, bucketOwner))
    return acl


async def _aclFromRequest(call, owner, bucketOwner=None):
    """
    @return: the checked L{Grant}s a PutBucketAcl or PutObjectAcl asks
        for, in its headers or in an C{AccessControlPolicy} document (as it
        lists them: an empty list grants nothing).
    """
    acl = aclFromHeaders(call, owner, bucketOwner)
    body = call.smallBody()
    if acl is not None:
        if body.strip():
            raise errors.UnexpectedContent()
    else:
        if not body.strip():
            raise errors.MissingSecurityHeader(MissingHeaderName="x-amz-acl")
        _, grants = s3xml.parseAccessControlPolicy(body)
        acl = common.checkGrants(grants)
    await checkGrantees(call, acl, (owner, bucketOwner))
    return acl


#: What a store fails with when the version a request addresses is not
#: there (see L{nova.objectstore.interfaces.IObjectStore}).
VERSION_ERRORS = (errors.NoSuchKey, errors.NoSuchVersion, errors.MethodNotAllowed)


def versionError(call, error, key=None):
    """
    Dress one of L{VERSION_ERRORS} as S3 answers it: a delete marker's
    version id and C{x-amz-delete-marker}, and for a delete marker named
    by its version id the method refused and C{Allow: DELETE}.

    @param key: the key to name in the error document (the request's key
        unless given).
    @return: C{error}.
    """
    key = call.key if key is None else key
    if isinstance(error, (errors.NoSuchKey, errors.NoSuchVersion)):
        error.extra["Key"] = key
    marker = getattr(error, "deleteMarker", None)
    if marker is not None:
        headers = [("x-amz-delete-marker", "true"), ("x-amz-version-id", marker.versionId)]
        if isinstance(error, errors.MethodNotAllowed):
            error.extra = {"Method": call.method, "ResourceType": "DeleteMarker"}
            headers += [
                ("Allow", "DELETE"),
                ("Last-Modified", conditions.httpDate(marker.lastModified)),
            ]
        error.responseHeaders = headers
    return error


async def readableObject(call, bucketInfo, permission="READ"):
    """
    @return: the L{ObjectInfo} of the version addressed (the latest unless
        the request names a C{versionId}), if the caller has C{permission}
        on it.
    @raise NoSuchKey: if there is no such key and the caller may list the
        bucket (L{AccessDenied} if not, as S3 answers); L{NoSuchVersion}
        and L{MethodNotAllowed} likewise (see L{versionError}).
    @raise AccessDenied: if the caller lacks C{permission}.
    """
    try:
        info = await call.store.getObjectInfo(call.bucket, call.key, call.versionId())
    except VERSION_ERRORS as e:
        if not common.isAllowed(call.context, bucketInfo.owner, bucketInfo.acl, "READ"):
            raise errors.AccessDenied()
        raise versionError(call, e)
    if not common.isAllowed(call.context, info.owner, info.acl, permission, bucketInfo.owner):
        raise errors.AccessDenied()
    return info


async def getBucketACL(call):
    info = await call.allowedBucket("READ_ACP")
    return xmlResponse(s3xml.accessControlPolicy(info.owner, info.acl))


async def putBucketACL(call):
    info = await call.allowedBucket("WRITE_ACP")
    acl = await _aclFromRequest(call, info.owner)
    await call.store.setBucketACL(call.bucket, acl)
    return Response(200, [], b"")


def versionHeaders(bucketInfo, versionId, requested=None):
    """
    @param versionId: the version id of the version a request read or
        wrote.
    @param requested: the version id the request named, if it named one.
    @return: the C{x-amz-version-id} header S3 answers with: in a bucket
        that keeps (or kept) versions, or when the request named one.
    """
    if bucketInfo.versioning or requested is not None:
        return [("x-amz-version-id", versionId)]
    return []


async def getObjectACL(call):
    bucketInfo = await call.store.getBucket(call.bucket)
    call.versionId()
    info = await readableObject(call, bucketInfo, "READ_ACP")
    return xmlResponse(
        s3xml.accessControlPolicy(info.owner, info.acl),
        headers=versionHeaders(bucketInfo, info.versionId, call.versionId()),
    )


async def putObjectACL(call):
    bucketInfo = await call.store.getBucket(call.bucket)
    call.versionId()
    info = await readableObject(call, bucketInfo, "WRITE_ACP")
    acl = await _aclFromRequest(call, info.owner, bucketInfo.owner)
    await call.store.setObjectACL(call.bucket, call.key, acl, info.versionId)
    return Response(200, versionHeaders(bucketInfo, info.versionId, call.versionId()), b"")
