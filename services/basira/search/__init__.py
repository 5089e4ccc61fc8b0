"""Search: indexes plate detections and counts, answers plate/sighting/trajectory/evidence queries."""
