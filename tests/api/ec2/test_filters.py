"""
Tests for L{nova.api.ec2.filters}.
"""

from datetime import datetime

from twisted.trial.unittest import SynchronousTestCase

from nova.api.ec2.errors import InvalidFilter, InvalidParameterValue
from nova.api.ec2.filters import applyFilters, exactValues

ITEMS = [
    {"name": "web-1", "state": "running", "tags": {"role": "web"}, "ids": ["a", "b"]},
    {"name": "web-2", "state": "stopped", "tags": {"role": "web", "env": "prod"}, "ids": []},
    {"name": "db*1", "state": "running", "tags": {}, "ids": None, "on": True},
]
TABLE = {
    "name": lambda item: item["name"],
    "state": lambda item: item["state"],
    "id": lambda item: item["ids"],
    "on": lambda item: item.get("on", False),
    "when": lambda item: datetime(2011, 3, 1),
    "tag": lambda item: item["tags"],
}


def names(filters):
    return [item["name"] for item in applyFilters(filters, ITEMS, TABLE)]


class FilterTests(SynchronousTestCase):
    def test_none(self):
        self.assertEqual(names(None), ["web-1", "web-2", "db*1"])
        self.assertEqual(names([]), ["web-1", "web-2", "db*1"])

    def test_exactAndOr(self):
        self.assertEqual(names([{"Name": "state", "Values": ["running"]}]), ["web-1", "db*1"])
        self.assertEqual(names([{"Name": "name", "Values": ["web-2", "db*1"]}]), ["web-2", "db*1"])

    def test_and(self):
        self.assertEqual(
            names([{"Name": "state", "Values": ["running"]}, {"Name": "name", "Values": ["web-*"]}]),
            ["web-1"],
        )

    def test_wildcards(self):
        self.assertEqual(names([{"Name": "name", "Values": ["web-?"]}]), ["web-1", "web-2"])
        self.assertEqual(names([{"Name": "name", "Values": ["*1"]}]), ["web-1", "db*1"])
        self.assertEqual(names([{"Name": "name", "Values": ["db\\*1"]}]), ["db*1"])
        self.assertEqual(names([{"Name": "name", "Values": ["db\\*"]}]), [])
        self.assertEqual(names([{"Name": "name", "Values": ["WEB-1"]}]), [])
        self.assertEqual(names([{"Name": "name", "Values": ["(.*)"]}]), [])

    def test_multipleValuesPerItem(self):
        self.assertEqual(names([{"Name": "id", "Values": ["b"]}]), ["web-1"])

    def test_booleansAndTimes(self):
        self.assertEqual(names([{"Name": "on", "Values": ["true"]}]), ["db*1"])
        self.assertEqual(
            names([{"Name": "when", "Values": ["2011-03-01T00:00:00.000Z"]}]),
            ["web-1", "web-2", "db*1"],
        )

    def test_tags(self):
        self.assertEqual(names([{"Name": "tag:role", "Values": ["web"]}]), ["web-1", "web-2"])
        self.assertEqual(names([{"Name": "tag-key", "Values": ["env"]}]), ["web-2"])
        self.assertEqual(names([{"Name": "tag-value", "Values": ["pr*"]}]), ["web-2"])

    def test_noValues(self):
        self.assertEqual(names([{"Name": "name"}]), [])

    def test_unknown(self):
        error = self.assertRaises(InvalidFilter, names, [{"Name": "colour", "Values": ["x"]}])
        self.assertEqual(str(error), "The filter 'colour' is invalid")
        self.assertEqual(error.ec2Code, "InvalidParameterValue")
        self.assertRaises(InvalidParameterValue, names, [{"Values": ["x"]}])
        self.assertRaises(
            InvalidFilter, applyFilters, [{"Name": "tag:x", "Values": ["y"]}], ITEMS,
            {"name": TABLE["name"]},
        )


class ExactValuesTests(SynchronousTestCase):
    def test_narrows(self):
        """
        The values every filter of the name allows, without wildcards.
        """
        filters = [
            {"Name": "id", "Values": ["a", "b", "c"]},
            {"Name": "state", "Values": ["running"]},
            {"Name": "id", "Values": ["b", "c", "d"]},
        ]
        self.assertEqual(exactValues(filters, "id"), frozenset({"b", "c"}))
        self.assertEqual(exactValues(filters, "state"), frozenset({"running"}))
        self.assertEqual(exactValues([{"Name": "id", "Values": []}], "id"), frozenset())

    def test_doesNotNarrow(self):
        """
        No filter of the name, or a wildcard in one: L{None}.
        """
        self.assertIsNone(exactValues(None, "id"))
        self.assertIsNone(exactValues([{"Name": "state", "Values": ["x"]}], "id"))
        self.assertIsNone(
            exactValues(
                [{"Name": "id", "Values": ["a"]}, {"Name": "id", "Values": ["a?"]}], "id"
            )
        )
        self.assertIsNone(exactValues([{"Name": "id", "Values": ["a\\*"]}], "id"))
