"""
Property-based fuzzing (hypothesis) of the EC2 parameter parser: whatever
bytes a request carries, L{nova.api.ec2.request} either gives parameters
or raises an L{EC2Error} (an answer in EC2's own format), and well-formed
parameters come back as they were sent.  The number of examples is fixed
and the search derandomized, so a run in CI is bounded and repeatable.
"""

from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nova.api.ec2.errors import EC2Error
from nova.api.ec2.model import loadEC2Model
from nova.api.ec2.request import (
    RESERVED_PARAMETERS,
    Limits,
    convertInput,
    parameterTree,
    requestParameters,
)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

LIMITS = Limits(maxBytes=4096, maxParameters=50, maxNameLength=64, maxDepth=6)

_NAME_WORDS = st.sampled_from(
    ["Filter", "Name", "Value", "InstanceId", "KeyName", "MinCount", "MaxCount", "Tag",
     "Key", "GroupName", "IpPermissions", "IpRanges", "CidrIp", "DryRun", "UserData"]
)
_SEGMENT = st.one_of(_NAME_WORDS, st.integers(0, 10**12).map(str), st.text(max_size=4))
_NAME = st.lists(_SEGMENT, min_size=1, max_size=8).map(".".join)
_FORM_BYTES = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.tuples(st.text(max_size=20), st.text(max_size=20)), max_size=12
    ).map(
        lambda pairs: "&".join(
            f"{quote(n, safe='')}={quote(v, safe='')}" for n, v in pairs
        ).encode()
    ),
)
_CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8",
         "application/x-www-form-urlencoded; charset=latin-1", "text/xml", "", ";;;"]
    ),
    st.text(max_size=40),
)


def operations():
    return sorted(loadEC2Model().operationNames())


class ParameterParserProperties(SynchronousTestCase):
    @FUZZ
    @given(
        method=st.sampled_from(["GET", "POST", "PUT"]),
        query=_FORM_BYTES,
        contentType=_CONTENT_TYPES,
        body=_FORM_BYTES,
    )
    def test_anyRequestParsesOrFailsCleanly(self, method, query, contentType, body):
        """
        Any query string and body give a flat L{dict} of text, then a tree,
        or an L{EC2Error}.
        """
        try:
            params = requestParameters(method, query, contentType, body, LIMITS)
        except EC2Error:
            return
        self.assertTrue(all(isinstance(k, str) and isinstance(v, str) for k, v in params.items()))
        self.assertLessEqual(len(params), LIMITS.maxParameters)
        try:
            tree = parameterTree(params, LIMITS)
        except EC2Error:
            return
        self.assertIsInstance(tree, dict)

    @FUZZ
    @given(
        params=st.dictionaries(
            _NAME.filter(lambda n: n not in RESERVED_PARAMETERS), st.text(max_size=30), max_size=10
        ),
        operation=st.sampled_from(operations()),
    )
    def test_anyParametersConvertOrFailCleanly(self, params, operation):
        """
        Any parameters against any action's input shape convert to a
        L{dict} or raise an L{EC2Error}: never another exception.
        """
        model = loadEC2Model()
        try:
            tree = parameterTree(params, LIMITS)
            converted = convertInput(model, model.inputShape(operation), tree)
        except EC2Error:
            return
        self.assertIsInstance(converted, dict)

    @FUZZ
    @given(
        params=st.dictionaries(
            st.text(min_size=1, max_size=30).filter(lambda n: "\x00" not in n),
            st.text(max_size=60),
            max_size=15,
        ),
        inBody=st.booleans(),
    )
    def test_wellFormedParametersRoundTrip(self, params, inBody):
        """
        Parameters encoded as a client encodes them (UTF-8, percent
        escapes) come back exactly, from the query or from a POST body.
        """
        encoded = "&".join(
            f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in params.items()
        ).encode("ascii")
        if inBody:
            parsed = requestParameters(
                "POST", b"", "application/x-www-form-urlencoded; charset=UTF-8", encoded, Limits()
            )
        else:
            parsed = requestParameters("GET", encoded, None, b"", Limits())
        self.assertEqual(parsed, params)
