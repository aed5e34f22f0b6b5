# -*- test-case-name: tests.api.ec2.test_instances -*-
"""
DescribeInstanceTypes: the instance types table (C{nova-manage
instance_type}), shaped as EC2 describes its types.
"""

from nova.api.ec2.actions.paging import paginate
from nova.api.ec2.errors import InvalidParameterValue
from nova.api.ec2.filters import applyFilters
from nova.compute.api import hypervisorType

INSTANCE_TYPE_FILTERS = {
    "instance-type": lambda info: info["InstanceType"],
    "vcpu-info.default-vcpus": lambda info: info["VCpuInfo"]["DefaultVCpus"],
    "memory-info.size-in-mib": lambda info: info["MemoryInfo"]["SizeInMiB"],
    "instance-storage-supported": lambda info: info["InstanceStorageSupported"],
    "instance-storage-info.total-size-in-gb": lambda info: (
        info.get("InstanceStorageInfo", {}).get("TotalSizeInGB")
    ),
    "current-generation": lambda info: info["CurrentGeneration"],
    "supported-root-device-type": lambda info: info["SupportedRootDeviceTypes"],
    "processor-info.supported-architecture": lambda info: (
        info["ProcessorInfo"]["SupportedArchitectures"]
    ),
    "hypervisor": lambda info: info["Hypervisor"],
}


def instanceTypeInfo(record, hypervisor):
    """
    @param record: an L{nova.db.records.InstanceTypeRecord}.
    @param hypervisor: the hypervisor guests run on
        (L{nova.compute.api.hypervisorType}).
    @return: its EC2 C{InstanceTypeInfo}.
    """
    info = {
        "InstanceType": record.name,
        "CurrentGeneration": True,
        "FreeTierEligible": False,
        "SupportedUsageClasses": ["on-demand"],
        "SupportedRootDeviceTypes": ["instance-store"],
        "SupportedVirtualizationTypes": ["hvm", "paravirtual"],
        "BareMetal": False,
        "Hypervisor": hypervisor,
        "ProcessorInfo": {"SupportedArchitectures": ["i386", "x86_64"]},
        "VCpuInfo": {
            "DefaultVCpus": record.vcpus,
            "DefaultCores": record.vcpus,
            "DefaultThreadsPerCore": 1,
        },
        "MemoryInfo": {"SizeInMiB": record.memory_mb},
        "InstanceStorageSupported": record.local_gb > 0,
        "EbsInfo": {"EbsOptimizedSupport": "unsupported", "EncryptionSupport": "unsupported"},
        "NetworkInfo": {
            "NetworkPerformance": "Moderate",
            "MaximumNetworkInterfaces": 1,
            "Ipv4AddressesPerInterface": 1,
            "Ipv6AddressesPerInterface": 0,
            "Ipv6Supported": False,
            "EnaSupport": "unsupported",
        },
        "PlacementGroupInfo": {"SupportedStrategies": []},
        "HibernationSupported": False,
        "BurstablePerformanceSupported": False,
        "DedicatedHostsSupported": False,
        "AutoRecoverySupported": False,
        "SupportedBootModes": ["legacy-bios"],
    }
    if record.local_gb > 0:
        info["InstanceStorageInfo"] = {
            "TotalSizeInGB": record.local_gb,
            "Disks": [{"SizeInGB": record.local_gb, "Count": 1, "Type": "hdd"}],
            "NvmeSupport": "unsupported",
            "EncryptionSupport": "unsupported",
        }
    return info


async def describeInstanceTypes(call):
    """
    The instance types, by name (C{InstanceType.N}: each must exist) and
    filters, in pages of C{MaxResults} (5 to 100).
    """
    params = call.params
    records = await call.backends.compute.describeInstanceTypes(call.context)
    hypervisor = hypervisorType(call.backends.config)
    infos = [instanceTypeInfo(record, hypervisor) for record in records]
    wanted = params.get("InstanceTypes")
    if wanted:
        have = {info["InstanceType"] for info in infos}
        missing = [name for name in wanted if name not in have]
        if missing:
            raise InvalidParameterValue(
                f"The following supplied instance types do not exist: [{', '.join(missing)}]"
            )
        infos = [info for info in infos if info["InstanceType"] in wanted]
    infos = applyFilters(params.get("Filters"), infos, INSTANCE_TYPE_FILTERS)
    page, nextToken = paginate(
        call, infos, lambda info: info["InstanceType"], maximum=100, exclusive=()
    )
    return {"InstanceTypes": page, "NextToken": nextToken}
