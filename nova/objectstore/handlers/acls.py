# -*- test-case-name: tests.objectstore.test_clients,tests.objectstore.test_fidelity -*-
"""
Access control lists: GetBucketAcl, PutBucketAcl, GetObjectAcl,
PutObjectAcl, and the ACL a write asks for in its headers (C{x-amz-acl},
C{x-amz-grant-*}).

An access control list is kept and listed as S3 lists it: a canned ACL
stands for its group grants and then the owner's full control, grant
headers and C{AccessControlPolicy} documents for exactly the grants they
list.  A grant naming a canonical user (a project) that does not exist is
refused (L{checkGrantees}).
"""

import re

from nova.objectstore import common, errors, s3xml
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


async def readableObject(call, bucketInfo, permission="READ"):
    """
    @return: the L{ObjectInfo} of the key addressed, if the caller has
        C{permission} on it.
    @raise NoSuchKey: if there is no such key and the caller may list the
        bucket (L{AccessDenied} if not, as S3 answers).
    @raise AccessDenied: if the caller lacks C{permission}.
    """
    try:
        info = await call.store.getObjectInfo(call.bucket, call.key)
    except errors.NoSuchKey:
        if not common.isAllowed(call.context, bucketInfo.owner, bucketInfo.acl, "READ"):
            raise errors.AccessDenied()
        raise errors.NoSuchKey(Key=call.key)
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


async def getObjectACL(call):
    bucketInfo = await call.store.getBucket(call.bucket)
    call.versionId()
    info = await readableObject(call, bucketInfo, "READ_ACP")
    return xmlResponse(s3xml.accessControlPolicy(info.owner, info.acl))


async def putObjectACL(call):
    bucketInfo = await call.store.getBucket(call.bucket)
    call.versionId()
    info = await readableObject(call, bucketInfo, "WRITE_ACP")
    acl = await _aclFromRequest(call, info.owner, bucketInfo.owner)
    await call.store.setObjectACL(call.bucket, call.key, acl)
    return Response(200, [], b"")
