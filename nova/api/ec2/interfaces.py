# -*- test-case-name: tests.api.ec2.test_resource -*-
"""
What the EC2 framework needs from the rest of Nova, as interfaces.
"""

from zope.interface import Interface


class IEC2Authenticator(Interface):
    """
    Authenticates EC2 Query API requests (L{nova.auth.manager.AuthManager}
    provides it).
    """

    def authenticateEC2(parts, params, remoteAddress=None, requestId=None,
                        weakSignatures=False):
        """
        Find the user an EC2 request's access key names, check its
        signature (version 2 or 4; 0 and 1 too if C{weakSignatures}) and
        its project.

        @param parts: the request's L{nova.auth.signer.HTTPRequestParts}.
        @param params: the decoded parameters (a L{dict} from L{str} to
            L{str}, bytes that are not UTF-8 kept as surrogates), including
            the authentication parameters of a version 2 signature.
        @param remoteAddress: the client's address, for logs and the
            context.
        @param requestId: the request id the context is to carry.
        @param weakSignatures: whether signature versions 0 and 1 (Cactus's,
            HMAC-SHA1 over little or ambiguous text) are accepted; if not,
            they fail with C{AuthFailure} saying they are disabled.
        @return: L{Deferred} firing with C{(context, verification)}: a
            L{nova.context.RequestContext} for the user in the project the
            access key names (C{access:project}) or the user's default
            project, and whatever the verifier returned.  It fails with a
            L{nova.auth.signer.SignerError} (C{AuthFailure},
            C{SignatureDoesNotMatch}, C{RequestExpired}...) or another
            L{nova.exception.NovaError} whose C{ec2Code} and C{httpStatus}
            are the answer (a user who is not a member of the project, a
            locked-out key).
        """
