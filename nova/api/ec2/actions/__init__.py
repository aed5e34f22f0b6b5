# -*- test-case-name: tests.api.ec2.test_resource -*-
"""
The EC2 API's action table: action name to action function.

An action is one function in an action module of this package, taking an
L{nova.api.ec2.resource.ActionCall} and returning (or, as a coroutine or
Deferred, firing with) a L{dict} shaped as boto3's output for the action,
and one line here.  Its parameters and its output are declared by the
action's input and output shapes in botocore's EC2 model (or, for an action
EC2 does not have, in L{nova.api.ec2.model.NOVA_EC2_EXTENSIONS}).  Who may
call it is decided by L{nova.auth.policy}.  See docs/ec2.md.
"""

from nova.api.ec2.actions import addresses, keypairs, security_groups, volumes, zones
from nova.api.ec2.actions import account, images, instance_types, instances, tags

ACTIONS = {
    # The account (the caller's project)
    "DescribeAccountAttributes": account.describeAccountAttributes,
    # Key pairs
    "CreateKeyPair": keypairs.createKeyPair,
    "ImportKeyPair": keypairs.importKeyPair,
    "DeleteKeyPair": keypairs.deleteKeyPair,
    "DescribeKeyPairs": keypairs.describeKeyPairs,
    # Instances
    "RunInstances": instances.runInstances,
    "DescribeInstances": instances.describeInstances,
    "DescribeInstancesV6": instances.describeInstancesV6,
    "TerminateInstances": instances.terminateInstances,
    "StopInstances": instances.stopInstances,
    "StartInstances": instances.startInstances,
    "RebootInstances": instances.rebootInstances,
    "GetConsoleOutput": instances.getConsoleOutput,
    "GetVncConsole": instances.getVncConsole,
    "GetPasswordData": instances.getPasswordData,
    "DescribeInstanceAttribute": instances.describeInstanceAttribute,
    "ModifyInstanceAttribute": instances.modifyInstanceAttribute,
    "DescribeInstanceStatus": instances.describeInstanceStatus,
    "RescueInstance": instances.rescueInstance,
    "UnrescueInstance": instances.unrescueInstance,
    "UpdateInstance": instances.updateInstance,
    "DescribeInstanceTypes": instance_types.describeInstanceTypes,
    # Tags
    "CreateTags": tags.createTags,
    "DeleteTags": tags.deleteTags,
    "DescribeTags": tags.describeTags,
    # Images
    "DescribeImages": images.describeImages,
    "RegisterImage": images.registerImage,
    "CreateImage": images.createImage,
    "DeregisterImage": images.deregisterImage,
    "DescribeImageAttribute": images.describeImageAttribute,
    "ModifyImageAttribute": images.modifyImageAttribute,
    "ResetImageAttribute": images.resetImageAttribute,
    "UpdateImage": images.updateImage,
    # Regions and availability zones
    "DescribeRegions": zones.describeRegions,
    "DescribeAvailabilityZones": zones.describeAvailabilityZones,
    # Security groups
    "CreateSecurityGroup": security_groups.createSecurityGroup,
    "DeleteSecurityGroup": security_groups.deleteSecurityGroup,
    "DescribeSecurityGroups": security_groups.describeSecurityGroups,
    "AuthorizeSecurityGroupIngress": security_groups.authorizeSecurityGroupIngress,
    "RevokeSecurityGroupIngress": security_groups.revokeSecurityGroupIngress,
    "AuthorizeSecurityGroupEgress": security_groups.authorizeSecurityGroupEgress,
    "RevokeSecurityGroupEgress": security_groups.revokeSecurityGroupEgress,
    # Addresses (floating IPs)
    "AllocateAddress": addresses.allocateAddress,
    "ReleaseAddress": addresses.releaseAddress,
    "AssociateAddress": addresses.associateAddress,
    "DisassociateAddress": addresses.disassociateAddress,
    "DescribeAddresses": addresses.describeAddresses,
    # Volumes and snapshots
    "CreateVolume": volumes.createVolume,
    "DeleteVolume": volumes.deleteVolume,
    "DescribeVolumes": volumes.describeVolumes,
    "UpdateVolume": volumes.updateVolume,
    "AttachVolume": volumes.attachVolume,
    "DetachVolume": volumes.detachVolume,
    "CreateSnapshot": volumes.createSnapshot,
    "DeleteSnapshot": volumes.deleteSnapshot,
    "DescribeSnapshots": volumes.describeSnapshots,
}
