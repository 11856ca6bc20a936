"""gainmlp: HDR photos as an SDR image plus a ~10 KB MLP gain/gamma map.

Public API (numpy arrays in, numpy arrays out; see the README)::

    read_sdr, read_hdr, write_hdr      image I/O
    load_photo, save_photo             photo files: any gain-map JPEG in, Ultra HDR + payload out
    reencode_gainmap_photo             a gain-map JPEG's map re-encoded, metadata kept
    encode, decode                     SDR + HDR <-> Payload
    Payload                            the documented binary payload
    EncodeOptions, METHODS             codec choices
    edits.crop/resize/rotate/thumbnail edits that keep the HDR with the same payload
    View                               where an edited base sits in the original frame
"""

from __future__ import annotations

__version__ = "0.1.0"

from gainmlp import edits
from gainmlp.api import decode, encode, encode_many
from gainmlp.codecs import METHODS, EncodeOptions
from gainmlp.container.payload import Payload
from gainmlp.errors import GainMLPError
from gainmlp.image import SdrImage
from gainmlp.io import read_hdr, read_sdr, write_hdr
from gainmlp.photo import load_photo, reencode_gainmap_photo, save_photo
from gainmlp.view import View

__all__ = [
    "METHODS", "EncodeOptions", "GainMLPError", "Payload", "SdrImage", "View",
    "decode", "edits", "encode", "encode_many", "load_photo", "read_hdr", "read_sdr",
    "reencode_gainmap_photo", "save_photo", "write_hdr", "__version__",
]
