"""
Tests for the security group actions, through boto3/botocore, boto 2 (its
flat legacy authorize form included) and the aws CLI against a real
listening nova-api whose security group API works on the real database and
tells compute hosts over the in-process bus.
"""

import attr
from twisted.trial.unittest import TestCase

from tests.api.ec2.cloud import ALICE, BOB, CAROL, DAVE, ROOT, CloudServerMixin, contextFor


def _tcp(port, *cidrs):
    return {
        "IpProtocol": "tcp",
        "FromPort": port,
        "ToPort": port,
        "IpRanges": [{"CidrIp": cidr} for cidr in cidrs],
    }


class SecurityGroupTests(CloudServerMixin, TestCase):
    async def setUp(self):
        await self.startCloud()
        self.carol = await self.clientFor(CAROL)

    async def group(self, client, name):
        [group] = (
            await self.inThread(client.describe_security_groups, GroupNames=[name])
        )["SecurityGroups"]
        return group

    async def test_default(self):
        """
        Every project has a group named default, made on first use, owned
        by the project and without rules; it cannot be deleted.
        """
        groups = (await self.inThread(self.carol.describe_security_groups))["SecurityGroups"]
        [default] = groups
        self.assertEqual(default["GroupName"], "default")
        self.assertRegex(default["GroupId"], r"^sg-[0-9a-f]{8}$")
        self.assertEqual(default["OwnerId"], "alice")
        self.assertEqual(default["IpPermissions"], [])
        self.assertEqual(default["IpPermissionsEgress"], [])
        await self.expectError(
            "CannotDelete", self.carol.delete_security_group, GroupName="default"
        )
        await self.expectError(
            "CannotDelete", self.carol.delete_security_group, GroupId=default["GroupId"]
        )

    async def test_createDescribeDelete(self):
        created = await self.inThread(
            self.carol.create_security_group, GroupName="web", Description="web servers"
        )
        groupId = created["GroupId"]
        self.assertRegex(groupId, r"^sg-[0-9a-f]{8}$")
        byName = await self.group(self.carol, "web")
        self.assertEqual(byName["GroupId"], groupId)
        self.assertEqual(byName["Description"], "web servers")
        [byId] = (
            await self.inThread(self.carol.describe_security_groups, GroupIds=[groupId])
        )["SecurityGroups"]
        self.assertEqual(byId["GroupName"], "web")
        error = await self.expectError(
            "InvalidGroup.Duplicate",
            self.carol.create_security_group, GroupName="web", Description="again",
        )
        self.assertEqual(error["Message"], "The security group 'web' already exists")
        await self.expectError(
            "InvalidGroup.Duplicate",
            self.carol.create_security_group, GroupName="default", Description="d",
        )
        deleted = await self.inThread(self.carol.delete_security_group, GroupName="web")
        self.assertTrue(deleted["Return"])
        self.assertEqual(deleted["GroupId"], groupId)
        names = [
            g["GroupName"]
            for g in (await self.inThread(self.carol.describe_security_groups))["SecurityGroups"]
        ]
        self.assertEqual(names, ["default"])
        await self.expectError(
            "InvalidGroup.NotFound", self.carol.delete_security_group, GroupName="web"
        )
        await self.expectError(
            "InvalidGroup.NotFound", self.carol.delete_security_group, GroupId=groupId
        )
        await self.expectError(
            "InvalidGroup.NotFound", self.carol.describe_security_groups, GroupNames=["web"]
        )
        await self.expectError(
            "InvalidGroupId.Malformed", self.carol.describe_security_groups, GroupIds=["sg-x"]
        )
        await self.expectError("MissingParameter", self.carol.delete_security_group)

    async def test_deleteById(self):
        created = await self.inThread(
            self.carol.create_security_group, GroupName="db", Description="databases"
        )
        await self.inThread(self.carol.delete_security_group, GroupId=created["GroupId"])
        await self.expectError(
            "InvalidGroup.NotFound", self.carol.describe_security_groups, GroupNames=["db"]
        )

    async def test_badNames(self):
        await self.expectError(
            "InvalidParameterValue",
            self.carol.create_security_group, GroupName="sg-12345678", Description="d",
        )
        await self.expectError(
            "InvalidParameterValue",
            self.carol.create_security_group, GroupName="x" * 256, Description="d",
        )
        await self.expectError(
            "UnsupportedOperation",
            self.carol.create_security_group, GroupName="v", Description="d", VpcId="vpc-1",
        )

    async def test_authorizeAndRevoke(self):
        """
        IpPermissions with CIDRs and source groups (by name and owner, and
        by id), protocols by name and number, ICMP types and -1: each rule
        is added, shown grouped by protocol and ports, and removed.
        """
        client = self.carol
        await self.inThread(client.create_security_group, GroupName="web", Description="w")
        app = await self.inThread(client.create_security_group, GroupName="app", Description="a")
        default = await self.group(client, "default")
        result = await self.inThread(
            client.authorize_security_group_ingress,
            GroupName="web",
            IpPermissions=[
                _tcp(22, "10.0.0.0/8", "192.168.0.0/16"),
                {"IpProtocol": "17", "FromPort": 53, "ToPort": 53,
                 "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "dns"}]},
                {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1,
                 "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
                {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "172.16.0.0/12"}]},
                {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 89,
                 "UserIdGroupPairs": [{"GroupName": "default", "UserId": "alice"},
                                      {"GroupId": app["GroupId"]}]},
            ],
        )
        self.assertTrue(result["Return"])
        rules = result["SecurityGroupRules"]
        self.assertEqual(len(rules), 7)
        self.assertTrue(all(r["SecurityGroupRuleId"].startswith("sgr-") for r in rules))
        self.assertEqual(
            [(r["IpProtocol"], r["FromPort"], r["ToPort"], r.get("CidrIpv4")) for r in rules[:5]],
            [
                ("tcp", 22, 22, "10.0.0.0/8"),
                ("tcp", 22, 22, "192.168.0.0/16"),
                ("udp", 53, 53, "0.0.0.0/0"),
                ("icmp", 8, -1, "0.0.0.0/0"),
                ("-1", -1, -1, "172.16.0.0/12"),
            ],
        )
        self.assertEqual(
            [r["ReferencedGroupInfo"]["GroupId"] for r in rules[5:]],
            [default["GroupId"], app["GroupId"]],
        )
        web = await self.group(client, "web")
        self.assertEqual(
            web["IpPermissions"],
            [
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                 "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "192.168.0.0/16"}],
                 "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []},
                {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
                 "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                 "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []},
                {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1,
                 "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                 "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []},
                {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "172.16.0.0/12"}],
                 "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []},
                {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 89, "IpRanges": [],
                 "Ipv6Ranges": [], "PrefixListIds": [],
                 "UserIdGroupPairs": [
                     {"GroupId": default["GroupId"], "GroupName": "default", "UserId": "alice"},
                     {"GroupId": app["GroupId"], "GroupName": "app", "UserId": "alice"},
                 ]},
            ],
        )
        # Compute hosts were told.
        self.assertIn(
            ("fanout", "compute", "refreshSecurityGroup",
             {"securityGroupId": int(web["GroupId"][3:], 16)}),
            self.rpc.sent,
        )
        error = await self.expectError(
            "InvalidPermission.Duplicate",
            client.authorize_security_group_ingress,
            GroupId=web["GroupId"], IpPermissions=[_tcp(443, "0.0.0.0/0"), _tcp(22, "10.0.0.0/8")],
        )
        self.assertIn("10.0.0.0/8", error["Message"])
        # All or none: 443 was not added.
        ports = [p.get("FromPort") for p in (await self.group(client, "web"))["IpPermissions"]]
        self.assertNotIn(443, ports)

        revoked = await self.inThread(
            client.revoke_security_group_ingress,
            GroupName="web",
            IpPermissions=[_tcp(22, "10.0.0.0/8"),
                           {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "172.16.0.0/12"}]}],
        )
        self.assertTrue(revoked["Return"])
        self.assertEqual(
            sorted(r["SecurityGroupRuleId"] for r in revoked["RevokedSecurityGroupRules"]),
            sorted([rules[0]["SecurityGroupRuleId"], rules[4]["SecurityGroupRuleId"]]),
        )
        await self.expectError(
            "InvalidPermission.NotFound",
            client.revoke_security_group_ingress,
            GroupName="web", IpPermissions=[_tcp(22, "10.0.0.0/8")],
        )
        # By rule id.
        await self.inThread(
            client.revoke_security_group_ingress,
            GroupId=web["GroupId"],
            SecurityGroupRuleIds=[r["SecurityGroupRuleId"] for r in rules[5:]],
        )
        await self.expectError(
            "InvalidSecurityGroupRuleId.NotFound",
            client.revoke_security_group_ingress,
            GroupId=web["GroupId"], SecurityGroupRuleIds=[rules[5]["SecurityGroupRuleId"]],
        )
        left = (await self.group(client, "web"))["IpPermissions"]
        self.assertEqual(
            [(p["IpProtocol"], p.get("FromPort"), [r["CidrIp"] for r in p["IpRanges"]],
              p["UserIdGroupPairs"]) for p in left],
            [("tcp", 22, ["192.168.0.0/16"], []), ("udp", 53, ["0.0.0.0/0"], []),
             ("icmp", 8, ["0.0.0.0/0"], [])],
        )

    async def test_badPermissions(self):
        client = self.carol
        await self.inThread(client.create_security_group, GroupName="web", Description="w")
        bad = [
            ("InvalidParameterValue", [_tcp(70000, "0.0.0.0/0")]),
            ("InvalidParameterValue",
             [{"IpProtocol": "tcp", "FromPort": 90, "ToPort": 80,
               "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
            ("InvalidParameterValue", [_tcp(22, "10.0.0.0/33")]),
            ("InvalidParameterValue", [_tcp(22, "banana")]),
            ("InvalidParameterValue", [_tcp(22, "10.0.0.1")]),
            ("InvalidParameterValue",
             [{"IpProtocol": "gre", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
            ("InvalidParameterValue",
             [{"IpProtocol": "icmp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
            ("InvalidParameterValue",
             [{"IpProtocol": "icmp", "FromPort": 256, "ToPort": 0,
               "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
            ("MissingParameter", [{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2}]),
            ("MissingParameter", [{"FromPort": 1, "ToPort": 2,
                                   "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
            ("UnsupportedOperation",
             [{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2,
               "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]),
            ("InvalidGroup.NotFound",
             [{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2,
               "UserIdGroupPairs": [{"GroupName": "nosuch"}]}]),
        ]
        for code, permissions in bad:
            await self.expectError(
                code, client.authorize_security_group_ingress,
                GroupName="web", IpPermissions=permissions,
            )
        self.assertEqual((await self.group(client, "web"))["IpPermissions"], [])
        await self.expectError(
            "InvalidParameterCombination", client.authorize_security_group_ingress,
            GroupName="web", IpProtocol="tcp", FromPort=1, ToPort=1, CidrIp="0.0.0.0/0",
            IpPermissions=[_tcp(2, "0.0.0.0/0")],
        )
        await self.expectError(
            "MissingParameter", client.authorize_security_group_ingress, GroupName="web"
        )
        await self.expectError(
            "MissingParameter", client.authorize_security_group_ingress,
            IpPermissions=[_tcp(2, "0.0.0.0/0")],
        )
        await self.expectError(
            "InvalidGroup.NotFound", client.authorize_security_group_ingress,
            GroupName="nosuch", IpPermissions=[_tcp(2, "0.0.0.0/0")],
        )
        web = await self.group(client, "web")
        for call in (client.authorize_security_group_egress, client.revoke_security_group_egress):
            await self.expectError(
                "UnsupportedOperation", call,
                GroupId=web["GroupId"], IpPermissions=[_tcp(2, "0.0.0.0/0")],
            )

    async def test_flatForm(self):
        """
        The flat legacy parameters: a protocol with a CIDR, a protocol
        alone (from anywhere), and a source group alone (all of TCP, UDP
        and ICMP from it).
        """
        client = self.carol
        await self.inThread(client.create_security_group, GroupName="web", Description="w")
        await self.inThread(
            client.authorize_security_group_ingress,
            GroupName="web", IpProtocol="tcp", FromPort=80, ToPort=80, CidrIp="10.1.0.0/16",
        )
        await self.inThread(
            client.authorize_security_group_ingress,
            GroupName="web", IpProtocol="udp", FromPort=123, ToPort=123,
        )
        await self.inThread(
            client.authorize_security_group_ingress,
            GroupName="web", SourceSecurityGroupName="default", SourceSecurityGroupOwnerId="alice",
        )
        default = await self.group(client, "default")
        pair = {"GroupId": default["GroupId"], "GroupName": "default", "UserId": "alice"}
        permissions = (await self.group(client, "web"))["IpPermissions"]
        self.assertEqual(
            [(p["IpProtocol"], p.get("FromPort"), p.get("ToPort"),
              [r["CidrIp"] for r in p["IpRanges"]], p["UserIdGroupPairs"]) for p in permissions],
            [
                ("tcp", 80, 80, ["10.1.0.0/16"], []),
                ("udp", 123, 123, ["0.0.0.0/0"], []),
                ("tcp", 0, 65535, [], [pair]),
                ("udp", 0, 65535, [], [pair]),
                ("icmp", -1, -1, [], [pair]),
            ],
        )
        await self.inThread(
            client.revoke_security_group_ingress,
            GroupName="web", SourceSecurityGroupName="default",
        )
        self.assertEqual(len((await self.group(client, "web"))["IpPermissions"]), 2)
        await self.expectError(
            "MissingParameter", client.authorize_security_group_ingress,
            GroupName="web", CidrIp="0.0.0.0/0",
        )

    async def test_inUse(self):
        """
        A group that another group's rule names as source, or that has
        instances, cannot be deleted.
        """
        client = self.carol
        await self.inThread(client.create_security_group, GroupName="web", Description="w")
        await self.inThread(client.create_security_group, GroupName="app", Description="a")
        await self.inThread(
            client.authorize_security_group_ingress,
            GroupName="web",
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2,
                            "UserIdGroupPairs": [{"GroupName": "app"}]}],
        )
        await self.expectError(
            "InvalidGroup.InUse", client.delete_security_group, GroupName="app"
        )
        await self.inThread(client.delete_security_group, GroupName="web")
        instance = await self.runInstance()
        await self.securityGroupAPI.addInstance(contextFor(ALICE), instance.id, ["app"])
        await self.expectError(
            "InvalidGroup.InUse", client.delete_security_group, GroupName="app"
        )
        await self.securityGroupAPI.removeInstance(contextFor(ALICE), instance.id)
        await self.inThread(client.delete_security_group, GroupName="app")

    async def test_filters(self):
        client = self.carol
        await self.inThread(client.create_security_group, GroupName="web", Description="web tier")
        await self.inThread(client.create_security_group, GroupName="db", Description="data")
        await self.inThread(
            client.authorize_security_group_ingress, GroupName="web",
            IpPermissions=[_tcp(443, "0.0.0.0/0"),
                           {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
                            "UserIdGroupPairs": [{"GroupName": "db"}]}],
        )
        await self.inThread(
            client.authorize_security_group_ingress, GroupName="db",
            IpPermissions=[_tcp(5432, "10.0.0.0/8")],
        )

        async def names(*filters, **kwargs):
            result = await self.inThread(
                client.describe_security_groups,
                Filters=[{"Name": n, "Values": list(v)} for n, v in filters], **kwargs,
            )
            return [g["GroupName"] for g in result["SecurityGroups"]]

        self.assertEqual(await names(("group-name", ["w*"])), ["web"])
        self.assertEqual(await names(("description", ["data"])), ["db"])
        self.assertEqual(await names(("owner-id", ["alice"])), ["db", "default", "web"])
        self.assertEqual(await names(("ip-permission.from-port", ["5432", "443"])), ["db", "web"])
        self.assertEqual(await names(("ip-permission.cidr", ["10.*"])), ["db"])
        self.assertEqual(await names(("ip-permission.protocol", ["tcp"])), ["db", "web"])
        self.assertEqual(await names(("ip-permission.group-name", ["db"])), ["web"])
        self.assertEqual(
            await names(("ip-permission.protocol", ["tcp"]), ("ip-permission.to-port", ["443"])),
            ["web"],
        )
        db = await self.group(client, "db")
        self.assertEqual(await names(("group-id", [db["GroupId"]])), ["db"])
        self.assertEqual(await names(("group-name", ["db", "web"]), GroupNames=["web"]), ["web"])
        await self.expectError(
            "InvalidParameterValue", client.describe_security_groups,
            Filters=[{"Name": "vpc-id", "Values": ["x"]}],
        )

    async def test_tags(self):
        client = self.carol
        created = await self.inThread(
            client.create_security_group, GroupName="web", Description="w",
            TagSpecifications=[{"ResourceType": "security-group",
                                "Tags": [{"Key": "tier", "Value": "front"}]}],
        )
        self.assertEqual(created["Tags"], [{"Key": "tier", "Value": "front"}])
        await self.inThread(client.create_security_group, GroupName="db", Description="d")
        web = await self.group(client, "web")
        self.assertEqual(web["Tags"], [{"Key": "tier", "Value": "front"}])
        tagged = await self.inThread(
            client.describe_security_groups, Filters=[{"Name": "tag:tier", "Values": ["front"]}]
        )
        self.assertEqual([g["GroupName"] for g in tagged["SecurityGroups"]], ["web"])
        await self.inThread(client.delete_security_group, GroupName="web")
        again = await self.inThread(client.create_security_group, GroupName="web", Description="w")
        described = await self.inThread(
            client.describe_security_groups, GroupIds=[again["GroupId"]]
        )
        self.assertEqual(described["SecurityGroups"][0]["Tags"], [])

    async def test_pages(self):
        client = self.carol
        for index in range(6):
            await self.inThread(
                client.create_security_group, GroupName=f"g{index}", Description="d"
            )
        first = await self.inThread(client.describe_security_groups, MaxResults=5)
        self.assertEqual(
            [g["GroupName"] for g in first["SecurityGroups"]],
            ["default", "g0", "g1", "g2", "g3"],
        )
        second = await self.inThread(
            client.describe_security_groups, MaxResults=5, NextToken=first["NextToken"]
        )
        self.assertEqual([g["GroupName"] for g in second["SecurityGroups"]], ["g4", "g5"])
        self.assertNotIn("NextToken", second)

    async def test_projectIsolation(self):
        """
        Another project does not see or change the project's groups, but
        may name one as a source with its owner, as EC2-Classic allows.
        """
        web = await self.inThread(
            self.carol.create_security_group, GroupName="web", Description="w"
        )
        bob = await self.clientFor(BOB)
        self.assertEqual(
            [g["GroupName"] for g in
             (await self.inThread(bob.describe_security_groups))["SecurityGroups"]],
            ["default"],
        )
        await self.expectError(
            "InvalidGroup.NotFound", bob.describe_security_groups, GroupIds=[web["GroupId"]]
        )
        await self.expectError(
            "InvalidGroup.NotFound", bob.delete_security_group, GroupId=web["GroupId"]
        )
        await self.expectError(
            "InvalidGroup.NotFound", bob.authorize_security_group_ingress,
            GroupId=web["GroupId"], IpPermissions=[_tcp(1, "0.0.0.0/0")],
        )
        await self.inThread(bob.create_security_group, GroupName="web", Description="bob's")
        await self.inThread(
            bob.authorize_security_group_ingress, GroupName="web",
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1,
                            "UserIdGroupPairs": [{"GroupName": "web", "UserId": "alice"}]}],
        )
        [pair] = (await self.group(bob, "web"))["IpPermissions"][0]["UserIdGroupPairs"]
        self.assertEqual(pair, {"GroupId": web["GroupId"], "GroupName": "web", "UserId": "alice"})
        await self.expectError(
            "InvalidGroup.InUse", self.carol.delete_security_group, GroupName="web"
        )

    async def test_roles(self):
        """
        netadmin may change groups; a developer, and a project manager
        who is not netadmin, may only describe them; superusers may do
        anything.
        """
        for user in (DAVE, ALICE, BOB):
            client = await self.clientFor(user, project="alice")
            groups = (await self.inThread(client.describe_security_groups))["SecurityGroups"]
            self.assertEqual([g["GroupName"] for g in groups], ["default"])
            await self.expectError(
                "UnauthorizedOperation", client.create_security_group,
                GroupName="x", Description="x",
            )
            await self.expectError(
                "UnauthorizedOperation", client.authorize_security_group_ingress,
                GroupName="default", IpPermissions=[_tcp(22, "0.0.0.0/0")],
            )
            await self.expectError(
                "UnauthorizedOperation", client.delete_security_group, GroupName="default"
            )
        root = await self.clientFor(ROOT)
        await self.inThread(root.create_security_group, GroupName="ops", Description="o")
        await self.inThread(
            root.authorize_security_group_ingress, GroupName="ops",
            IpPermissions=[_tcp(22, "0.0.0.0/0")],
        )

    async def test_boto2(self):
        """
        boto 2's calls, with its flat legacy authorize form, work and
        parse what the server writes.
        """
        connection = self.botoFor(CAROL)
        group = await self.inThread(connection.create_security_group, "web", "web servers")
        self.assertEqual(group.name, "web")
        self.assertTrue(
            await self.inThread(
                connection.authorize_security_group_deprecated, "web",
                ip_protocol="tcp", from_port=80, to_port=80, cidr_ip="0.0.0.0/0",
            )
        )
        self.assertTrue(
            await self.inThread(
                connection.authorize_security_group, "web",
                src_security_group_name="default", src_security_group_owner_id="alice",
            )
        )
        self.assertTrue(
            await self.inThread(
                connection.authorize_security_group, "web",
                ip_protocol="udp", from_port=53, to_port=53, cidr_ip="10.0.0.0/8",
            )
        )
        [web] = await self.inThread(connection.get_all_security_groups, groupnames=["web"])
        self.assertEqual(web.description, "web servers")
        self.assertEqual(web.owner_id, "alice")
        rules = [
            (r.ip_protocol, r.from_port, r.to_port,
             sorted(g.cidr_ip or f"{g.owner_id}/{g.name}" for g in r.grants))
            for r in web.rules
        ]
        self.assertEqual(
            rules,
            [
                ("tcp", "80", "80", ["0.0.0.0/0"]),
                ("tcp", "0", "65535", ["alice/default"]),
                ("udp", "0", "65535", ["alice/default"]),
                ("icmp", "-1", "-1", ["alice/default"]),
                ("udp", "53", "53", ["10.0.0.0/8"]),
            ],
        )
        self.assertTrue(
            await self.inThread(
                connection.revoke_security_group, "web",
                ip_protocol="tcp", from_port=80, to_port=80, cidr_ip="0.0.0.0/0",
            )
        )
        self.assertTrue(
            await self.inThread(
                connection.revoke_security_group, "web", src_security_group_name="default",
                src_security_group_owner_id="alice",
            )
        )
        [web] = await self.inThread(connection.get_all_security_groups, groupnames=["web"])
        self.assertEqual([r.from_port for r in web.rules], ["53"])
        self.assertTrue(await self.inThread(connection.delete_security_group, "web"))
        names = [g.name for g in await self.inThread(connection.get_all_security_groups)]
        self.assertEqual(names, ["default"])

    async def test_awsCLI(self):
        await self.inThread(self.carol.create_security_group, GroupName="web", Description="w")
        home = {"project": "alice"}
        code, _, err = await self.aws(
            "authorize-security-group-ingress", "--group-name", "web",
            "--protocol", "tcp", "--port", "22", "--cidr", "10.0.0.0/8",
            user=self._cliUser(CAROL, **home),
        )
        self.assertEqual(code, 0, err)
        code, described, err = await self.aws(
            "describe-security-groups", "--group-names", "web", user=self._cliUser(CAROL, **home)
        )
        self.assertEqual(code, 0, err)
        [group] = described["SecurityGroups"]
        self.assertEqual(
            group["IpPermissions"][0]["IpRanges"], [{"CidrIp": "10.0.0.0/8"}]
        )
        code, _, err = await self.aws(
            "create-security-group", "--group-name", "x", "--description", "x",
            user=self._cliUser(DAVE, **home),
        )
        self.assertNotEqual(code, 0)
        self.assertIn("UnauthorizedOperation", err)

    def _cliUser(self, user, project):
        return attr.evolve(user, access=f"{user.access}:{project}")
