"""Test doubles and helpers shared by several services' test suites (`services.tests.support.…`)."""
