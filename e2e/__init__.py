"""End-to-end tests: only the public gRPC and NATS interfaces of a running platform."""
