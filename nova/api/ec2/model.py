# -*- test-case-name: tests.api.ec2.test_model -*-
"""
The service models the EC2 framework works from.

The EC2 API's model is botocore's own description of EC2
(C{botocore/data/ec2/2016-11-15/service-2.json}): the same document boto3,
botocore and the aws CLI build requests from and parse responses with.
The framework reads each action's input shape to parse and check the
request's parameters, and its output shape to write the response, so what
the server accepts and writes is what those clients send and expect.

Actions EC2 does not have (Nova's own) and the admin API are described in
the same format: see L{NOVA_EC2_EXTENSIONS} and
L{nova.api.ec2.admin.ADMIN_MODEL}.
"""

import copy
import functools

from botocore.loaders import create_loader
from botocore.model import ServiceModel

EC2_API_VERSION = "2016-11-15"

# Operations and shapes Nova adds to the EC2 API, in botocore's service
# model format; merged into botocore's model by loadEC2Model.  A Nova-only
# action adds its operation here (with its input and output shapes) and its
# function to nova.api.ec2.actions.ACTIONS.
def _novaOperation(name, inputShape, outputShape=None):
    operation = {
        "name": name,
        "http": {"method": "POST", "requestUri": "/"},
        "input": {"shape": inputShape},
    }
    if outputShape is not None:
        operation["output"] = {"shape": outputShape}
    return operation


def _member(shape, locationName=None):
    member = {"shape": shape}
    if locationName is not None:
        member["locationName"] = locationName
    return member


NOVA_EC2_EXTENSIONS = {
    "operations": {
        # Cactus: change a volume's display name and description.
        "UpdateVolume": _novaOperation("UpdateVolume", "UpdateVolumeRequest"),
        # Cactus: change the name and description of an image one owns.
        "UpdateImage": _novaOperation("UpdateImage", "UpdateImageRequest"),
        # Cactus: DescribeInstances with each instance's IPv6 DNS name
        # (dnsNameV6); the derived shapes are made from botocore's by
        # _derivedShapes.
        "DescribeInstancesV6": _novaOperation(
            "DescribeInstancesV6", "DescribeInstancesRequest", "DescribeInstancesV6Result"
        ),
        # Cactus: boot an instance's rescue image with its disk attached
        # second, and back.
        "RescueInstance": _novaOperation("RescueInstance", "RescueInstanceRequest"),
        "UnrescueInstance": _novaOperation("UnrescueInstance", "UnrescueInstanceRequest"),
        # Cactus: change an instance's display name and description.
        "UpdateInstance": _novaOperation("UpdateInstance", "UpdateInstanceRequest"),
        # Cactus: the websocket URL (noVNC) of an instance's VNC console.
        "GetVncConsole": _novaOperation(
            "GetVncConsole", "GetVncConsoleRequest", "GetVncConsoleResult"
        ),
    },
    "shapes": {
        "UpdateVolumeRequest": {
            "type": "structure",
            "required": ["VolumeId"],
            "members": {
                "VolumeId": _member("VolumeId"),
                "DisplayName": _member("String"),
                "DisplayDescription": _member("String"),
                "DryRun": _member("Boolean", "dryRun"),
            },
        },
        "RescueInstanceRequest": {
            "type": "structure",
            "required": ["InstanceId"],
            "members": {
                "InstanceId": _member("InstanceId"),
                "DryRun": _member("Boolean", "dryRun"),
            },
        },
        "UnrescueInstanceRequest": {
            "type": "structure",
            "required": ["InstanceId"],
            "members": {
                "InstanceId": _member("InstanceId"),
                "DryRun": _member("Boolean", "dryRun"),
            },
        },
        "GetVncConsoleRequest": {
            "type": "structure",
            "required": ["InstanceId"],
            "members": {
                "InstanceId": _member("InstanceId"),
                "DryRun": _member("Boolean", "dryRun"),
            },
        },
        "GetVncConsoleResult": {
            "type": "structure",
            "members": {
                "InstanceId": _member("String", "instanceId"),
                "Type": _member("String", "type"),
                "Url": _member("String", "url"),
                "Token": _member("String", "token"),
                "Password": _member("String", "password"),
                "Expires": _member("String", "expires"),
            },
        },
        "UpdateInstanceRequest": {
            "type": "structure",
            "required": ["InstanceId"],
            "members": {
                "InstanceId": _member("InstanceId"),
                "DisplayName": _member("String"),
                "DisplayDescription": _member("String"),
                "DryRun": _member("Boolean", "dryRun"),
            },
        },
        "UpdateImageRequest": {
            "type": "structure",
            "required": ["ImageId"],
            "members": {
                "ImageId": _member("ImageId"),
                "DisplayName": _member("String"),
                "Description": _member("String"),
                "DryRun": _member("Boolean", "dryRun"),
            },
        },
    },
}


def _derivedShapes(definition):
    """
    The shapes of L{NOVA_EC2_EXTENSIONS}' operations that are botocore's
    with a member more: C{DescribeInstancesV6}'s answer is
    C{DescribeInstances}' whose instances have C{dnsNameV6}.

    @param definition: botocore's EC2 model.
    @return: a L{dict} of shapes.
    """
    shapes = definition["shapes"]
    instance = copy.deepcopy(shapes["Instance"])
    instance["members"]["DnsNameV6"] = _member("String", "dnsNameV6")
    reservation = copy.deepcopy(shapes["Reservation"])
    reservation["members"]["Instances"]["shape"] = "InstanceV6List"
    result = copy.deepcopy(shapes["DescribeInstancesResult"])
    result["members"]["Reservations"]["shape"] = "ReservationV6List"
    return {
        "InstanceV6": instance,
        "InstanceV6List": {"type": "list", "member": _member("InstanceV6", "item")},
        "ReservationV6": reservation,
        "ReservationV6List": {"type": "list", "member": _member("ReservationV6", "item")},
        "DescribeInstancesV6Result": result,
    }


# Wire names older clients send that botocore's model no longer has, per
# action: {action: {old wire name: the model's wire name}}.  boto 2 sends
# GetConsoleOutput's instance as InstanceId.1, as the 2010 API took it.
LEGACY_EC2_PARAMETERS = {
    "GetConsoleOutput": {"InstanceId.1": "InstanceId"},
    # Cactus turned parameter names into Python's (DisplayName into
    # display_name), so its clients sent either.
    "UpdateVolume": {
        "display_name": "DisplayName",
        "display_description": "DisplayDescription",
    },
    "UpdateImage": {"display_name": "DisplayName", "description": "Description"},
    "RescueInstance": {"instance_id": "InstanceId"},
    "UnrescueInstance": {"instance_id": "InstanceId"},
    "UpdateInstance": {
        "instance_id": "InstanceId",
        "display_name": "DisplayName",
        "display_description": "DisplayDescription",
    },
}


class ModelError(Exception):
    """
    A service model is inconsistent (a programming error, found at start).
    """


def extendDefinition(definition, extensions):
    """
    Merge operations and shapes into a service model definition.

    @param definition: a botocore service model (a L{dict}); not changed.
    @param extensions: a L{dict} with C{operations} and C{shapes}.
    @return: a new definition.
    @raise ModelError: if an extension redefines an existing operation or
        a shape differently.
    """
    merged = dict(definition)
    operations = dict(definition.get("operations", {}))
    shapes = dict(definition.get("shapes", {}))
    for name, operation in extensions.get("operations", {}).items():
        if name in operations:
            raise ModelError(f"operation {name} is already in the model")
        operations[name] = copy.deepcopy(operation)
    for name, shape in extensions.get("shapes", {}).items():
        if name in shapes and shapes[name] != shape:
            raise ModelError(f"shape {name} is already in the model, differently")
        shapes[name] = copy.deepcopy(shape)
    merged["operations"] = operations
    merged["shapes"] = shapes
    return merged


class APIModel:
    """
    A query-protocol API described by a botocore service model.

    @ivar service: the L{botocore.model.ServiceModel}.
    @ivar apiVersion: the model's API version, the default C{Version} of
        responses.
    """

    def __init__(self, definition, serviceName, legacyParameters=None):
        """
        @param definition: the service model (a L{dict} in botocore's
            format).
        @param serviceName: a short name, for messages.
        @param legacyParameters: older wire names accepted per action (see
            L{LEGACY_EC2_PARAMETERS}).
        """
        self.service = ServiceModel(definition, service_name=serviceName)
        self.legacyParameters = dict(legacyParameters or {})
        self.apiVersion = definition["metadata"]["apiVersion"]
        self._operations = frozenset(definition["operations"])
        self._wireMaps = {}

    def hasOperation(self, name):
        """
        @return: C{True} if the model describes the operation C{name}.
        """
        return name in self._operations

    def operationNames(self):
        """
        @return: a L{frozenset} of every operation's name.
        """
        return self._operations

    def inputShape(self, name):
        """
        @return: the input structure shape of operation C{name}, or L{None}
            if it takes no parameters.
        """
        return self.service.operation_model(name).input_shape

    def outputShape(self, name):
        """
        @return: the output structure shape of operation C{name}, or
            L{None} if it has no output (the response is then
            C{<return>true</return>}).
        """
        return self.service.operation_model(name).output_shape

    def renameLegacy(self, name, params):
        """
        Rename the older wire names operation C{name} accepts to the
        model's (unless the model's name is given too).

        @param params: the flat parameters.
        @return: the parameters, renamed (a new L{dict} if any was).
        """
        aliases = self.legacyParameters.get(name)
        if not aliases:
            return params
        renamed = dict(params)
        for old, new in aliases.items():
            if old in renamed and new not in renamed:
                renamed[new] = renamed.pop(old)
        return renamed

    def inputMembers(self, shape):
        """
        The members of an input structure by the names they have on the
        wire: a member's C{queryName}, else its C{locationName} with a
        capital first letter, else its own name (the EC2 protocol's rule,
        as botocore's C{EC2Serializer} applies it).

        @param shape: a structure shape.
        @return: a L{dict} from wire name to C{(memberName, memberShape)}.
        """
        cached = self._wireMaps.get(shape.name)
        if cached is not None:
            return cached
        wire = {}
        for memberName, memberShape in shape.members.items():
            wire[wireName(memberShape, memberName)] = (memberName, memberShape)
        self._wireMaps[shape.name] = wire
        return wire


def wireName(memberShape, memberName):
    """
    @return: the name a structure member has in an EC2 query request.
    """
    serialization = memberShape.serialization
    if "queryName" in serialization:
        return serialization["queryName"]
    if "name" in serialization:
        name = serialization["name"]
        return name[0].upper() + name[1:]
    return memberName


def xmlName(memberShape, memberName):
    """
    @return: the element name a structure member has in a response.
    """
    return memberShape.serialization.get("name", memberName)


@functools.lru_cache(maxsize=None)
def loadEC2Model():
    """
    Load botocore's EC2 model, extended with L{NOVA_EC2_EXTENSIONS}.  The
    model is immutable and read once per process (about 0.2 s).

    @return: an L{APIModel}.
    """
    definition = create_loader().load_service_model(
        "ec2", "service-2", api_version=EC2_API_VERSION
    )
    extensions = {
        "operations": NOVA_EC2_EXTENSIONS["operations"],
        "shapes": {**NOVA_EC2_EXTENSIONS["shapes"], **_derivedShapes(definition)},
    }
    return APIModel(extendDefinition(definition, extensions), "ec2", LEGACY_EC2_PARAMETERS)
