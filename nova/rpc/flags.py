"""
Flags of the RPC layer.
"""

from nova.config import Flag

OPTIONS = (
    Flag(
        "rpc_backend",
        "str",
        "local",
        "How services talk: 'local' is an in-process bus (every service in "
        "one process, as nova-all runs them); 'amqp' is RabbitMQ.",
        choices=("local", "amqp"),
    ),
    Flag("rabbit_host", "str", "127.0.0.1", "RabbitMQ host."),
    Flag("rabbit_port", "int", 5672, "RabbitMQ port.", minimum=1),
    Flag("rabbit_userid", "str", "guest", "RabbitMQ user name."),
    Flag("rabbit_password", "str", "guest", "RabbitMQ password."),
    Flag("rabbit_virtual_host", "str", "/", "RabbitMQ virtual host."),
    Flag(
        "control_exchange",
        "str",
        "nova",
        "Name of the AMQP topic exchange; fanout exchanges are named "
        "<topic>_fanout.",
    ),
    Flag(
        "rabbit_retry_interval",
        "float",
        1.0,
        "Seconds before the first reconnection attempt to RabbitMQ; later "
        "attempts back off up to rabbit_max_retry_interval.",
        minimum=0.0,
    ),
    Flag(
        "rabbit_max_retry_interval",
        "float",
        30.0,
        "Longest wait in seconds between reconnection attempts to RabbitMQ.",
        minimum=0.0,
    ),
    Flag(
        "rpc_call_timeout",
        "float",
        60.0,
        "Seconds an RPC call waits for its answer before it fails with "
        "RPCTimeout.",
        minimum=0.0,
    ),
)
