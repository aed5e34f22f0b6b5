"""
Remote procedure calls between Nova's services: an in-process bus
(L{nova.rpc.local}) and AMQP over RabbitMQ (L{nova.rpc.amqp}), both behind
L{nova.rpc.interfaces.IRPC}.
"""
