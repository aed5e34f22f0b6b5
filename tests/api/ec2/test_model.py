"""
Tests for L{nova.api.ec2.model}.
"""

from twisted.trial.unittest import SynchronousTestCase

from nova.api.ec2.actions import ACTIONS
from nova.api.ec2.model import (
    EC2_API_VERSION,
    ModelError,
    extendDefinition,
    loadEC2Model,
    wireName,
    xmlName,
)
from nova.auth import policy


class ModelTests(SynchronousTestCase):
    def test_version(self):
        model = loadEC2Model()
        self.assertEqual(model.apiVersion, EC2_API_VERSION)
        self.assertIs(loadEC2Model(), model)

    def test_wireNames(self):
        """
        Wire names follow botocore's EC2 serializer: queryName, else the
        capitalized locationName, else the member name.
        """
        model = loadEC2Model()
        members = model.inputMembers(model.inputShape("DescribeKeyPairs"))
        self.assertEqual(
            {wire: name for wire, (name, _) in members.items()},
            {
                "KeyName": "KeyNames",
                "KeyPairId": "KeyPairIds",
                "IncludePublicKey": "IncludePublicKey",
                "DryRun": "DryRun",
                "Filter": "Filters",
            },
        )
        shape = model.inputShape("RunInstances")
        self.assertEqual(wireName(shape.members["SecurityGroupIds"], "SecurityGroupIds"), "SecurityGroupId")
        self.assertEqual(xmlName(model.outputShape("DescribeKeyPairs").members["KeyPairs"], "KeyPairs"), "keySet")

    def test_extend(self):
        base = {"operations": {"A": {}}, "shapes": {"S": {"type": "string"}}}
        merged = extendDefinition(base, {"operations": {"B": {}}, "shapes": {"S": {"type": "string"}}})
        self.assertEqual(sorted(merged["operations"]), ["A", "B"])
        self.assertEqual(sorted(base["operations"]), ["A"])
        self.assertRaises(ModelError, extendDefinition, base, {"operations": {"A": {}}})
        self.assertRaises(ModelError, extendDefinition, base, {"shapes": {"S": {"type": "integer"}}})

    def test_legacyNames(self):
        """
        boto 2 sends GetConsoleOutput's instance as C{InstanceId.1}.
        """
        model = loadEC2Model()
        self.assertEqual(
            model.renameLegacy("GetConsoleOutput", {"Action": "GetConsoleOutput", "InstanceId.1": "i-1"}),
            {"Action": "GetConsoleOutput", "InstanceId": "i-1"},
        )
        both = {"InstanceId.1": "i-1", "InstanceId": "i-2"}
        self.assertEqual(model.renameLegacy("GetConsoleOutput", both), both)
        params = {"InstanceId.1": "i-1"}
        self.assertIs(model.renameLegacy("DescribeInstances", params), params)

    def test_everyActionHasAPolicy(self):
        """
        Each action in the table is in the policy's table (or it would be
        for superusers only).
        """
        for action in ACTIONS:
            self.assertIn(action, policy.ACTION_ROLES, action)
