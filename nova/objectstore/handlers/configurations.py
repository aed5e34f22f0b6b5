# -*- test-case-name: tests.objectstore.test_clients,tests.objectstore.test_fidelity -*-
"""
Bucket configurations: GetBucketVersioning, PutBucketVersioning, and the
configurations this
store does not keep (policy, CORS, lifecycle, website, encryption,
tagging): reading one answers as S3 does for a bucket without it,
deleting one succeeds, setting one is not implemented.  CORS preflights
(C{OPTIONS}) answer as S3 does for a bucket without CORS.
"""

from nova.objectstore import common, errors, s3xml
from nova.objectstore.call import Response, xmlResponse
from nova.objectstore.handlers.acls import readableObject

#: The configurations a bucket never has, by sub-resource, with the error
#: reading one answers.
ABSENT_CONFIGURATIONS = {
    "policy": errors.NoSuchBucketPolicy,
    "cors": errors.NoSuchCORSConfiguration,
    "lifecycle": errors.NoSuchLifecycleConfiguration,
    "website": errors.NoSuchWebsiteConfiguration,
    "encryption": errors.ServerSideEncryptionConfigurationNotFoundError,
    "tagging": errors.NoSuchTagSet,
}


async def getBucketVersioning(call):
    info = await call.allowedBucket("READ")
    return xmlResponse(s3xml.versioning(info.versioning))


async def putBucketVersioning(call):
    """
    PutBucketVersioning: C{Enabled} or C{Suspended}, by the bucket's
    owner.  MFA delete is not supported: a configuration enabling it is
    refused as S3 refuses it without MFA (and a request carrying
    C{x-amz-mfa}, which S3 accepts only over HTTPS, as S3 refuses it over
    HTTP); C{MfaDelete} C{Disabled} changes nothing.
    """
    call.requireAuthenticated()
    info = await call.store.getBucket(call.bucket)
    if not common.isAllowed(call.context, info.owner, (), "FULL_CONTROL"):
        raise errors.AccessDenied()
    status, mfaDelete = s3xml.parseVersioning(call.smallBody())
    if call.header("x-amz-mfa") is not None:
        raise errors.InvalidRequest("x-amz-mfa must be used with HTTPS")
    if mfaDelete not in (None, "Enabled", "Disabled") or status not in ("Enabled", "Suspended"):
        raise errors.IllegalVersioningConfigurationException()
    if mfaDelete == "Enabled":
        raise errors.AccessDenied("Mfa Authentication must be used for this request")
    await call.store.setBucketVersioning(call.bucket, status)
    return Response(200, [], b"")


def absentConfiguration(error):
    """
    @param error: the L{S3Error} class reading the configuration answers.
    @return: the handler reading a configuration no bucket has.
    """

    async def getAbsentConfiguration(call):
        await call.allowedBucket("READ")
        raise error(BucketName=call.bucket)

    return getAbsentConfiguration


async def deleteAbsentConfiguration(call):
    """
    Delete a configuration a bucket (or, for tagging, an object) never
    has: nothing to do once the caller may.
    """
    bucketInfo = await call.allowedBucket("WRITE")
    if call.key is not None:
        await readableObject(call, bucketInfo)
    return Response(204, [], b"")


CORS_METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")


async def corsPreflight(call):
    """
    An C{OPTIONS} request: a browser's CORS preflight.  No bucket has a
    CORS configuration, so a well-formed preflight for a bucket that
    exists answers as S3 does for a bucket without one: 403
    C{AccessForbidden}, "CORS is not enabled for this bucket.".

    @raise BadRequest: without an C{Origin}, or without a valid
        C{Access-Control-Request-Method}.
    @raise AccessForbidden: otherwise.
    """
    if not call.header("origin"):
        raise errors.BadRequest("Insufficient information. Origin request header needed.")
    method = call.header("access-control-request-method")
    if method not in CORS_METHODS:
        raise errors.BadRequest(f"Invalid Access-Control-Request-Method: {method or 'null'}")
    resourceType = "OBJECT" if call.key is not None else "BUCKET"
    try:
        if call.bucket is None:
            raise errors.NoSuchBucket()
        await call.store.getBucket(call.bucket)
    except errors.NoSuchBucket:
        raise errors.AccessForbidden(
            "CORSResponse: Bucket not found", Method=method, ResourceType=resourceType
        )
    raise errors.AccessForbidden(
        "CORSResponse: CORS is not enabled for this bucket.",
        Method=method,
        ResourceType=resourceType,
    )


async def notImplemented(call):
    """
    An operation this store does not implement.
    """
    raise errors.NotImplemented_()
