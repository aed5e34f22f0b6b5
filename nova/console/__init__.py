"""
Graphical consoles: the tokens that open an instance's VNC console and the
websocket proxy nova-api serves them through.
"""
