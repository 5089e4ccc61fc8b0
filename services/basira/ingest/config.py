"""Ingest settings (env `BASIRA_*` or the `[ingest]` table of BASIRA_CONFIG_FILE)."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from basira.common.config import ServiceSettings
from basira.ingest.frames import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE


class IngestSettings(ServiceSettings):
    service_name_default = "ingest"

    # Frames: what a source or a device may send, and what analytics receives.
    max_frame_bytes: int = Field(DEFAULT_MAX_BYTES, ge=1024, le=32 * 1024 * 1024,
                                 description="Largest encoded pushed frame (bytes); larger is rejected.")
    max_frame_pixels: int = Field(DEFAULT_MAX_PIXELS, ge=64 * 64,
                                  description="Largest frame (width × height) read or pushed.")
    max_frame_side: int = Field(DEFAULT_MAX_SIDE, ge=64, description="Largest width or height (pixels).")
    analysis_max_width: int = Field(1280, ge=160, le=7680,
                                    description="Frames are downscaled to at most this width for analytics.")
    jpeg_quality: int = Field(85, ge=30, le=100, description="JPEG quality of published frames (1–100).")
    default_analysis_fps: float = Field(2.0, gt=0, le=30,
                                        description="analysis_fps of a camera registered without one.")
    motion_gate: bool = Field(True, description="Skip still frames of fixed/PTZ cameras (a keep-alive "
                                                "frame still goes out every motion_keepalive_s).")
    motion_keepalive_s: float = Field(10.0, gt=0,
                                      description="A still camera still sends a frame this often (s).")
    file_realtime: bool = Field(True, description="Play file cameras at their media rate, like a live "
                                                  "camera; false reads as fast as analytics accepts.")

    # Pushed frames (FrameIngestService.PushFrames).
    push_rate_fps: float = Field(15.0, gt=0, description="Frames per second one camera may push (token "
                                                         "bucket refill); frames over it are rejected.")
    push_burst: int = Field(15, ge=1, description="Frames a camera may push at once above the rate.")
    push_queue: int = Field(2, ge=1, le=64, description="Decoded pushed frames waiting per camera; when "
                                                        "full, reading the client's stream waits.")
    max_rejection_lines: int = Field(20, ge=1, le=200,
                                     description="Distinct rejection reasons listed in a PushFrames reply.")

    # Streams and health.
    offline_after_s: float = Field(30.0, gt=0, description="No frame for this long raises 'offline'.")
    reconnect_initial_s: float = Field(1.0, gt=0, description="First delay before reopening a lost stream.")
    reconnect_max_s: float = Field(30.0, gt=0, description="Longest delay between reconnect attempts.")
    stream_open_timeout_s: float = Field(10.0, gt=0, description="Time a stream (RTSP/HTTP) has to open.")
    stream_read_timeout_s: float = Field(5.0, gt=0, description="Time a stream has to deliver a frame.")
    rtsp_transport: str = Field("tcp", pattern="^(tcp|udp)$",
                                description="RTSP transport (tcp survives NAT and packet loss).")
    ffmpeg_log_level: int = Field(8, ge=-8, le=56,
                                  description="FFmpeg log level (-8 quiet, 8 fatal, 16 error, 24 warning).")
    max_streams: int = Field(64, ge=1, description="Camera streams one ingest instance reads at most.")
    stream_lease_s: float = Field(15.0, ge=1.0, description="A stream whose instance has not renewed "
                                  "its lease for this long is taken over by another instance (or by "
                                  "this one after a crash).")
    instance_id: str = Field("", max_length=128, description="Stable name of this instance (e.g. the pod "
                             "name): a restarted instance takes its streams back at once; empty = random.")

    # Publishing.
    publish_timeout_s: float = Field(5.0, gt=0, description="Wait for JetStream's ack of one publish.")
    publish_retry_initial_s: float = Field(0.05, gt=0, description="First wait after JetStream refuses "
                                           "a frame (stream full or NATS slow) before retrying it.")
    publish_retry_max_s: float = Field(2.0, gt=0, description="Longest wait between retries of one frame.")

    @field_validator("reconnect_max_s", "publish_retry_max_s")
    @classmethod
    def _not_below_initial(cls, value: float, info: ValidationInfo) -> float:
        initial_name = info.field_name.replace("_max_s", "_initial_s") if info.field_name else ""
        initial = info.data.get(initial_name)
        if initial is not None and value < initial:
            raise ValueError(f"must be >= {initial_name} ({initial:g})")
        return value
