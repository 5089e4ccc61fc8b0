"""Ingest: frames from cameras (RTSP, HTTP/MJPEG, files, pushed), sampled, gated, and health-watched."""
