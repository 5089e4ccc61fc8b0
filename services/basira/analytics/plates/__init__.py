"""Licence-plate reading: pluggable engines behind one interface, per-country layout repair."""

from basira.analytics.plates.engine import (
    PlateAlternative,
    PlateEngine,
    PlateRead,
    create_plate_engine,
    plate_engine_types,
)

__all__ = ["PlateAlternative", "PlateEngine", "PlateRead", "create_plate_engine", "plate_engine_types"]
