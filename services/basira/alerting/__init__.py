"""Alerting: turns match candidates and camera health into per-agency alerts, streamed to command rooms."""
