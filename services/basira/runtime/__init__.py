"""The embedded runtime: real NATS and PostgreSQL servers and every service, on one machine."""
