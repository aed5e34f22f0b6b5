# -*- test-case-name: tests.image.test_bundletool -*-
"""
C{nova-bundle-image}: bundle an image file for a Nova cloud, in the format
of C{ec2-bundle-image}, and optionally upload the bundle to a bucket.

    nova-bundle-image -i disk.img [-d DIR] [--ec2cert cacert.pem]
        [--type machine|kernel|ramdisk] [--kernel aki-...] [--ramdisk ari-...]
        [--arch x86_64] [-p PREFIX] [--part-size MB]
        [-c cert.pem -k pk.pem] [-u ACCOUNT]
        [--upload BUCKET [--s3-url URL] [--access-key A --secret-key S]]

The cloud certificate defaults to C{$NOVA_CERT} or C{$EUCALYPTUS_CERT}
(set by the C{novarc} of the credentials that C{nova-manage project
zipfile} writes, pointing at its C{cloud-cert.pem}); the user's certificate
and key to C{$EC2_CERT} and C{$EC2_PRIVATE_KEY}; the object store's URL to
C{$S3_URL}; the keys to C{$EC2_ACCESS_KEY} and C{$EC2_SECRET_KEY} (or
C{$AWS_ACCESS_KEY_ID} and C{$AWS_SECRET_ACCESS_KEY}).
Uploading needs boto3.  The manifest is uploaded last, so a registration
never sees a manifest whose parts are not all there.
"""

import argparse
import os
import shutil
import sys
import tempfile

from nova.db.images import IMAGE_TYPES, MACHINE
from nova.image import bundle
from nova.util.progress import Progress


def _environment(*names):
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def parser():
    """
    @return: the L{argparse.ArgumentParser} of C{nova-bundle-image}.
    """
    p = argparse.ArgumentParser(
        prog="nova-bundle-image",
        description="Bundle an image for a Nova cloud (ec2-bundle-image format) and "
        "optionally upload it to a bucket.",
    )
    p.add_argument("-i", "--image", required=True, help="the image file to bundle")
    p.add_argument("-d", "--destination", help="directory for the manifest and parts "
                   "(default: the current directory; a temporary one with --upload)")
    p.add_argument("--ec2cert", help="the cloud's certificate, cloud-cert.pem (default: "
                   "$NOVA_CERT or $EUCALYPTUS_CERT)")
    p.add_argument("-c", "--cert", help="your certificate: the key is encrypted to it too "
                   "(default: $EC2_CERT)")
    p.add_argument("-k", "--privatekey", help="your private key: it signs the manifest "
                   "(default: $EC2_PRIVATE_KEY)")
    p.add_argument("-u", "--user", default="", help="your account, written in the manifest")
    p.add_argument("--type", choices=IMAGE_TYPES, default=MACHINE, help="the image's type")
    p.add_argument("--kernel", help="the kernel (aki-...) of a machine image")
    p.add_argument("--ramdisk", help="the ramdisk (ari-...) of a machine image")
    p.add_argument("-r", "--arch", default="x86_64", help="architecture (default x86_64)")
    p.add_argument("-p", "--prefix", help="the bundle's name (default: the file's name)")
    p.add_argument("--part-size", type=int, default=10, metavar="MB",
                   help="size of each part in MiB (default 10)")
    p.add_argument("--upload", metavar="BUCKET", help="upload the bundle to this bucket")
    p.add_argument("--key-prefix", default="", help="put the bundle under this key prefix")
    p.add_argument("--s3-url", help="the object store (default: $S3_URL or http://127.0.0.1:3333)")
    p.add_argument("--access-key", help="access key (default: $EC2_ACCESS_KEY or $AWS_ACCESS_KEY_ID)")
    p.add_argument("--secret-key", help="secret key (default: $EC2_SECRET_KEY or "
                   "$AWS_SECRET_ACCESS_KEY)")
    return p


def s3Client(url, accessKey, secretKey):
    """
    @return: a boto3 S3 client for a Nova object store.
    """
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=accessKey,
        aws_secret_access_key=secretKey,
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def uploadBundle(result, client, bucket, keyPrefix="", progress=None):
    """
    Upload a bundle's parts, then its manifest, creating the bucket if
    needed.

    @param result: the L{bundle.BundleResult}.
    @param client: a boto3 S3 client.
    @param progress: a L{nova.util.progress.Progress} told of each byte
        sent, or L{None}.
    @return: the image location, C{bucket/key} of the manifest.
    """
    from botocore.exceptions import ClientError

    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
        client.create_bucket(Bucket=bucket)
    if keyPrefix and not keyPrefix.endswith("/"):
        keyPrefix += "/"
    paths = list(result.partPaths) + [result.manifestPath]
    if progress is not None:
        progress.total = sum(os.path.getsize(path) for path in paths)
        progress.step(f"uploading to {bucket}")
    for path in paths:
        client.upload_file(
            path,
            bucket,
            keyPrefix + os.path.basename(path),
            Callback=None if progress is None else progress.advance,
        )
    return f"{bucket}/{keyPrefix}{result.manifestName}"


def run(argv, out, err):
    """
    Run the tool.

    @return: the exit code.
    """
    args = parser().parse_args(argv)
    certificatePath = args.ec2cert or _environment("NOVA_CERT", "EUCALYPTUS_CERT")
    userCertificatePath = args.cert or _environment("EC2_CERT")
    userKeyPath = args.privatekey or _environment("EC2_PRIVATE_KEY")
    if not certificatePath:
        err.write("nova-bundle-image: give the cloud's certificate with --ec2cert\n")
        return 2
    try:
        with open(certificatePath) as f:
            cloudCertificate = f.read()
        userCertificate = userKey = None
        if userCertificatePath:
            with open(userCertificatePath) as f:
                userCertificate = f.read()
        if userKeyPath:
            with open(userKeyPath) as f:
                userKey = f.read()
    except OSError as e:
        err.write(f"nova-bundle-image: {e}\n")
        return 1
    if args.part_size < 1:
        err.write("nova-bundle-image: --part-size must be at least 1\n")
        return 2
    if not os.path.isfile(args.image):
        err.write(f"nova-bundle-image: no such file: {args.image}\n")
        return 1

    temporary = None
    destination = args.destination
    if destination is None:
        if args.upload:
            destination = temporary = tempfile.mkdtemp(prefix="nova-bundle-")
        else:
            destination = "."
    os.makedirs(destination, exist_ok=True)
    progress = Progress(err, "nova-bundle-image")
    try:
        progress.step(
            f"bundling {os.path.basename(args.image)} "
            f"({os.path.getsize(args.image) / 1048576:.1f} MB)"
        )
        try:
            result = bundle.makeBundle(
                args.image,
                destination,
                cloudCertificate,
                imageType=args.type,
                kernelId=args.kernel,
                ramdiskId=args.ramdisk,
                architecture=args.arch,
                prefix=args.prefix,
                partSize=args.part_size * 1024 * 1024,
                userCertificatePEM=userCertificate,
                userPrivateKeyPEM=userKey,
                account=args.user,
            )
        except (ValueError, bundle.BundleError) as e:
            progress.finish()
            err.write(f"nova-bundle-image: {e}\n")
            return 1
        if not args.upload:
            progress.finish()
        if temporary is None:
            out.write(f"{result.manifestPath}\n")
        if args.upload:
            url = args.s3_url or _environment("S3_URL") or "http://127.0.0.1:3333"
            accessKey = args.access_key or _environment("EC2_ACCESS_KEY", "AWS_ACCESS_KEY_ID")
            secretKey = args.secret_key or _environment("EC2_SECRET_KEY", "AWS_SECRET_ACCESS_KEY")
            if not accessKey or not secretKey:
                err.write("nova-bundle-image: uploading needs --access-key and --secret-key\n")
                return 2
            try:
                client = s3Client(url, accessKey, secretKey)
            except ImportError:
                err.write("nova-bundle-image: uploading needs boto3 (pip install boto3)\n")
                return 1
            try:
                location = uploadBundle(
                    result, client, args.upload, args.key_prefix, progress=progress
                )
            except Exception as e:  # botocore's errors have no common base worth naming
                progress.finish()
                err.write(f"nova-bundle-image: the upload failed: {e}\n")
                return 1
            finally:
                client.close()
            progress.finish()
            out.write(f"uploaded: {location}\n")
        return 0
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


def main(argv=None):
    """
    The C{nova-bundle-image} console script.
    """
    sys.exit(run(sys.argv[1:] if argv is None else argv, sys.stdout, sys.stderr))
