"""Licence-plate reading: pluggable engines behind one interface, per-country layout repair."""

from basira.analytics.plates.engine import PlateEngine, PlateRead, create_plate_engine, plate_engine_types

__all__ = ["PlateEngine", "PlateRead", "create_plate_engine", "plate_engine_types"]
