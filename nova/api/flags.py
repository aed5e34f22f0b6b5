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
    Flag(
        "vncproxy_base_url",
        "str",
        "",
        "URL browsers (noVNC) open a VNC console's websocket at; the "
        "console's token is added as ?token=.  Empty: "
        "ws://<osapi_host>:<osapi_port>/websockify, the proxy nova-api "
        "serves beside the OpenStack API.",
    ),
    Flag(
        "vnc_token_ttl",
        "int",
        600,
        "Seconds a VNC console token (GetVncConsole) can open connections "
        "through the proxy.",
        minimum=1,
    ),
    Flag(
        "osapi_max_limit",
        "int",
        1000,
        "Most items one page of an OpenStack API v1.0 list holds (the limit "
        "query parameter is capped to it).",
        minimum=1,
    ),
    Flag(
        "allow_admin_api",
        "bool",
        False,
        "Serve the OpenStack API v1.0's admin parts: the server actions pause, "
        "unpause, suspend, resume, rescue, unrescue, reset_network, "
        "inject_network_info, lock, unlock and diagnostics, and the /users and "
        "/accounts resources (each still needs a superuser, or the role the "
        "policy names).",
    ),
    Flag("dashboard_listen", "str", "0.0.0.0", "Address the web dashboard listens on."),
    Flag(
        "dashboard_port",
        "int",
        0,
        "Port of the web dashboard; 0: the OpenStack API's port (--osapi_port), "
        "where it is served at --dashboard_path beside the API and the VNC proxy.",
        minimum=0,
    ),
    Flag(
        "dashboard_path",
        "str",
        "/dashboard",
        "URL path of the web dashboard on its port: segments of letters, "
        "digits, '-', '_' and '.', as /dashboard or /cloud/ui; / for the "
        "whole port.",
    ),
    Flag(
        "dashboard_session_ttl",
        "int",
        3600,
        "Seconds a dashboard login lasts without a request; each request "
        "starts the time again.  Sessions live in the credentials cache "
        "(--cache_backend), so every nova-api sharing it knows them.",
        minimum=60,
    ),
    Flag(
        "dashboard_secure_cookies",
        "bool",
        False,
        "Mark the dashboard's session cookie Secure (sent over HTTPS only): "
        "set it when the dashboard is reached through an HTTPS proxy.",
    ),
)
