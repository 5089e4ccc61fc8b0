"""Tests of the tamper-evident access log."""
