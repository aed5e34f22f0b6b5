"""
boto 2 sends, for every EC2 call it has, parameters the framework"s parser
accepts: the wire names of botocore"s model, or the older names
L{nova.api.ec2.model.LEGACY_EC2_PARAMETERS} maps (checked without a
server: the requests are captured before they are sent).
"""

from boto.ec2.connection import EC2Connection
from boto.ec2.regioninfo import RegionInfo
from twisted.trial.unittest import SynchronousTestCase

from nova.api.ec2.model import loadEC2Model
from nova.api.ec2.request import Limits, convertInput, parameterTree


class _Captured(Exception):
    pass


class Boto2ParameterTests(SynchronousTestCase):
    def test_everyCallParses(self):
        captured = []
        conn = EC2Connection("a", "b", region=RegionInfo(name="nova", endpoint="127.0.0.1"))

        def capture(action, params=None, path="/", verb="GET"):
            captured.append((action, {k: str(v) for k, v in (params or {}).items()}))
            raise _Captured()

        conn.make_request = capture
        calls = [
            lambda: conn.run_instances(
                "ami-1", min_count=1, max_count=2, key_name="k", security_groups=["default"],
                user_data="hi", instance_type="m1.small", placement="nova", kernel_id="aki-1",
                ramdisk_id="ari-1", monitoring_enabled=True, disable_api_termination=True,
                instance_initiated_shutdown_behavior="stop", private_ip_address="10.0.0.5",
                client_token="t", security_group_ids=["sg-1"], additional_info="x",
                ebs_optimized=True,
            ),
            lambda: conn.get_all_reservations(instance_ids=["i-1"], filters={"instance-state-name":"running"}),
            lambda: conn.get_all_instance_status(instance_ids=["i-1"]),
            lambda: conn.terminate_instances(["i-1"]),
            lambda: conn.stop_instances(["i-1"], force=True),
            lambda: conn.start_instances(["i-1"]),
            lambda: conn.reboot_instances(["i-1"]),
            lambda: conn.get_console_output("i-1"),
            lambda: conn.get_all_images(image_ids=["ami-1"], owners=["self"], executable_by=["all"], filters={"name":"x"}),
            lambda: conn.register_image(name="n", description="d", image_location="b/m.xml", architecture="x86_64", kernel_id="aki-1", ramdisk_id="ari-1", root_device_name="/dev/sda1"),
            lambda: conn.deregister_image("ami-1"),
            lambda: conn.get_image_attribute("ami-1", "launchPermission"),
            lambda: conn.modify_image_attribute("ami-1", "launchPermission", "add", groups=["all"]),
            lambda: conn.reset_image_attribute("ami-1"),
            lambda: conn.get_all_addresses(addresses=["1.2.3.4"]),
            lambda: conn.allocate_address(),
            lambda: conn.release_address("1.2.3.4"),
            lambda: conn.associate_address("i-1", "1.2.3.4"),
            lambda: conn.disassociate_address("1.2.3.4"),
            lambda: conn.get_all_volumes(volume_ids=["vol-1"]),
            lambda: conn.create_volume(1, "nova", snapshot="snap-1"),
            lambda: conn.delete_volume("vol-1"),
            lambda: conn.attach_volume("vol-1", "i-1", "/dev/vdb"),
            lambda: conn.detach_volume("vol-1", "i-1", "/dev/vdb", force=True),
            lambda: conn.create_snapshot("vol-1", "d"),
            lambda: conn.delete_snapshot("snap-1"),
            lambda: conn.get_all_snapshots(snapshot_ids=["snap-1"], owner="self"),
            lambda: conn.get_all_security_groups(groupnames=["default"], group_ids=["sg-1"]),
            lambda: conn.create_security_group("g", "d"),
            lambda: conn.delete_security_group("g"),
            lambda: conn.authorize_security_group("g", src_security_group_name="o", src_security_group_owner_id="p"),
            lambda: conn.authorize_security_group("g", ip_protocol="tcp", from_port=22, to_port=22, cidr_ip="0.0.0.0/0"),
            lambda: conn.revoke_security_group("g", ip_protocol="tcp", from_port=22, to_port=22, cidr_ip="0.0.0.0/0"),
            lambda: conn.authorize_security_group_deprecated("g", src_security_group_name="o", src_security_group_owner_id="p", ip_protocol="tcp", from_port=1, to_port=2, cidr_ip="0.0.0.0/0"),
            lambda: conn.create_tags(["i-1"], {"a": "b"}),
            lambda: conn.delete_tags(["i-1"], {"a": None}),
            lambda: conn.get_all_tags(filters={"key":"a"}),
            lambda: conn.get_instance_attribute("i-1", "instanceType"),
            lambda: conn.modify_instance_attribute("i-1", "instanceType", "m1.large"),
            lambda: conn.get_all_zones(["nova"]),
            lambda: conn.get_all_regions(["nova"]),
            lambda: conn.get_all_key_pairs(["k"]),
            lambda: conn.create_image("i-1", "n", description="d", no_reboot=True),
        ]
        model = loadEC2Model()
        for call in calls:
            del captured[:]
            self.assertRaises(_Captured, call)
            [(action, params)] = captured
            self.assertTrue(model.hasOperation(action), action)
            converted = convertInput(
                model,
                model.inputShape(action),
                parameterTree(model.renameLegacy(action, params), Limits()),
            )
            self.assertIsInstance(converted, dict)
