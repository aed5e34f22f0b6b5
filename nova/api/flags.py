"""
Flags of nova-api.
"""

from nova.config import Flag

OPTIONS = (
    Flag("ec2_listen", "str", "0.0.0.0", "Address the EC2 API and metadata service listen on."),
    Flag("ec2_port", "int", 8773, "Port of the EC2 API (/services/Cloud, /services/Admin) and the metadata service.", minimum=0),
    Flag("ec2_host", "str", "127.0.0.1", "Host name or address clients use to reach the EC2 API (written into credentials)."),
    Flag("ec2_path", "str", "/services/Cloud", "URL path of the EC2 API."),
    Flag("ec2_scheme", "str", "http", "Scheme clients use to reach the EC2 API (DescribeRegions and credentials).", choices=("http", "https")),
    Flag(
        "region_list",
        "list",
        (),
        "The regions DescribeRegions lists, as comma-separated name=host "
        "pairs (nova=10.0.0.1,other=10.0.0.2); each region's endpoint is "
        "<ec2_scheme>://<host>:<ec2_port><ec2_path>, or the value itself if "
        "it is a URL (other=https://ec2.example.com/services/Cloud).  Empty: "
        "one region, nova, at this API (ec2_host).",
    ),
    Flag(
        "ec2_max_request_bytes",
        "int",
        1024 * 1024,
        "Largest EC2 or admin API request body (and query string) accepted; "
        "larger requests are refused with HTTP 413.",
        minimum=1024,
    ),
    Flag(
        "ec2_weak_signatures",
        "bool",
        False,
        "Accept EC2 and admin API requests signed with signature version 0 or "
        "1, as Cactus did (HMAC-SHA1; version 0 signs only Action and "
        "Timestamp, so anyone who sees one request can send others).  Off: "
        "such requests are refused with AuthFailure; clients use signature "
        "version 2 or 4.",
    ),
    Flag(
        "metadata_trusted_proxies",
        "list",
        (),
        "Addresses or CIDR ranges of proxies in front of the metadata service "
        "whose X-Forwarded-For header is believed (comma-separated); from any "
        "other peer the header is ignored and the peer's own address names the "
        "instance.  Empty: trust none.",
    ),
    Flag("osapi_listen", "str", "0.0.0.0", "Address the OpenStack API listens on."),
    Flag("osapi_port", "int", 8774, "Port of the OpenStack API (/v1.0, /v1.1).", minimum=0),
    Flag(
        "osapi_host",
        "str",
        "127.0.0.1",
        "Host name or address clients use to reach the OpenStack API (written "
        "into the service catalog and openrc).",
    ),
    Flag(
        "auth_token_ttl",
        "int",
        2 * 24 * 3600,
        "Seconds an OpenStack API token (POST /v3/auth/tokens) stays valid.",
        minimum=1,
    ),
)
