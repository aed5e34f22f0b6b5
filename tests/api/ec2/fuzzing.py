"""
Generators of random and hostile EC2 parameters for the fuzz tests.
"""

_WORDS = (
    "Filter", "Name", "Value", "KeyName", "InstanceId", "BlockDeviceMapping", "Ebs",
    "VolumeSize", "IpPermissions", "IpRanges", "CidrIp", "TagSpecification", "Tag",
    "Key", "MinCount", "MaxCount", "DryRun", "StartTime", "PublicKeyMaterial", "Groups",
    "GroupName", "Placement", "AvailabilityZone", "UserData", "MaxResults", "",
)
_NASTY = (
    "", "0", "-1", "1e9", "99999999999999999999999", "true", "FALSE", "\x00", "\udcff",
    "\ufffe", "<a>&amp;</a>", "]]>", "\u202e", "\U0001f600", "..", "%00", "a" * 5000,
)


def randomKey(rng):
    segments = []
    for _ in range(rng.randint(1, 8)):
        choice = rng.random()
        if choice < 0.45:
            segments.append(rng.choice(_WORDS))
        elif choice < 0.8:
            segments.append(str(rng.choice([0, 1, 2, 7, 10**rng.randint(1, 30)])))
        else:
            segments.append("".join(chr(rng.randint(0, 0x2FF)) for _ in range(rng.randint(0, 5))))
    return ".".join(segments)


def randomValue(rng):
    if rng.random() < 0.5:
        return rng.choice(_NASTY)
    return "".join(chr(rng.choice([rng.randint(0, 127), rng.randint(0, 0x10FFFF)]))
                   for _ in range(rng.randint(0, 40)))


def randomBytes(rng):
    alphabet = b"=&%+.0123456789ABCabcFilterNameValue\x00\xff\xe9 "
    return bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
