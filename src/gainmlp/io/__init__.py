"""Image files in and out, one module per concern.

* :mod:`~gainmlp.io.files`: reading bytes, atomic writes, opening with Pillow.
* :mod:`~gainmlp.io.sdr`: 8-bit SDR images (PNG / TIFF / JPEG) and their encoding.
* :mod:`~gainmlp.io.hdr`: HDR images (EXR, .hdr, 16-bit PNG / TIFF, AVIF) as PQ BT.2020.
* :mod:`~gainmlp.io.png`: PNG header chunks and cICP.
* :mod:`~gainmlp.io.jpeg`: the one JPEG encoder and decoder.
"""

from gainmlp.io.files import atomic_write, check_output
from gainmlp.io.hdr import HDR_OUT_EXTENSIONS, encode_hdr_png, read_hdr, read_hdr_linear, write_hdr
from gainmlp.io.sdr import decode_sdr_bytes, encode_sdr_jpeg, read_sdr, write_sdr_png

__all__ = ["HDR_OUT_EXTENSIONS", "atomic_write", "check_output", "decode_sdr_bytes",
           "encode_hdr_png",
           "encode_sdr_jpeg", "read_hdr", "read_hdr_linear", "read_sdr", "write_hdr",
           "write_sdr_png"]
