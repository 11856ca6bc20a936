"""Image files in and out."""

from gainmlp.io.images import (
    HDR_OUT_EXTENSIONS,
    atomic_write,
    decode_sdr_bytes,
    encode_hdr_png,
    encode_sdr_jpeg,
    read_hdr,
    read_hdr_linear,
    read_sdr,
    write_hdr,
    write_sdr_png,
)

__all__ = ["HDR_OUT_EXTENSIONS", "atomic_write", "decode_sdr_bytes", "encode_hdr_png",
           "encode_sdr_jpeg", "read_hdr", "read_hdr_linear", "read_sdr", "write_hdr",
           "write_sdr_png"]
