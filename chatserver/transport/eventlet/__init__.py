"""The eventlet-only parts of the transport; imported by the entry points and under eventlet only."""
