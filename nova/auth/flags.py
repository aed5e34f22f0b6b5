# -*- test-case-name: tests.auth.test_ca -*-
"""
Flags of the identity subsystem.

The certificate authority's flags come first.  Subject templates are
OpenSSL-style distinguished names (C{/C=US/ST=.../CN=...}; the keys C, ST,
L, O, OU, CN, DC and emailAddress are understood, a C{/} inside a value is
written C{\\/}) in which each C{%s} is filled in, in order, with the values
the flag's help names; C{%%} is a literal C{%}.
"""

import os

from nova.config import Computed, Flag


# Default subject templates, shared with nova.auth.ca's constructor.
DEFAULT_CA_SUBJECT = (
    "/C=US/ST=California/L=MountainView/O=AnsoLabs/OU=NovaDev/CN=nova-root-ca"
)
DEFAULT_PROJECT_SUBJECT = (
    "/C=US/ST=California/L=MountainView/O=AnsoLabs/OU=NovaDev/CN=project-ca-%s-%s"
)
DEFAULT_USER_SUBJECT = (
    "/C=US/ST=California/L=MountainView/O=AnsoLabs/OU=NovaDev/CN=%s-%s-%s"
)


def _defaultCAPath(values):
    return os.path.join(values["state_path"], "CA")


OPTIONS = (
    # Certificate authority (nova.auth.ca).
    Flag(
        "ca_path",
        "path",
        Computed(_defaultCAPath, "$state_path/CA"),
        "Directory of the certificate authority: the cloud's root CA "
        "certificate and key (the key also decrypts uploaded image bundles), "
        "the per-project CAs, the certificate index and the CRLs.",
    ),
    Flag(
        "use_project_ca",
        "bool",
        False,
        "Give each project its own intermediate CA, signed by the root, to "
        "sign the project's user and VPN certificates and publish its own "
        "CRL.  When false the root CA signs everything.",
    ),
    Flag(
        "ca_cert_subject",
        "str",
        DEFAULT_CA_SUBJECT,
        "Subject of the cloud's root CA certificate (no %s).",
    ),
    Flag(
        "project_cert_subject",
        "str",
        DEFAULT_PROJECT_SUBJECT,
        "Subject of a project's CA certificate; the two %s are the project "
        "id and the time of issue.",
    ),
    Flag(
        "user_cert_subject",
        "str",
        DEFAULT_USER_SUBJECT,
        "Subject of a user's X.509 certificate; the three %s are the "
        "project id, the user id and the time of issue.  Values longer than "
        "X.509 allows (64 characters for CN, O and OU) are cut short.",
    ),
)
