"""matplotlib's ``magma`` colour map as a table, so the reports' error maps need no
matplotlib (an optional extra, ``gainmlp[plot]``, for the plotting commands only).

``MAGMA`` holds matplotlib's 256 entries as 8-bit RGB, as
``(matplotlib.colormaps["magma"](np.linspace(0, 1, 256))[:, :3] * 255).round()`` gives them
(``tests/test_imports.py`` compares the two).
"""

from __future__ import annotations

import numpy as np

MAGMA = np.frombuffer(bytes.fromhex(
    "00000401000501010601010802010902020b02020d03030f03031204041405041606051806051a07061c0807"
    "1e0907200a08220b09240c09260d0a290e0b2b100b2d110c2f120d31130d34140e36150e38160f3b180f3d19"
    "103f1a10421c10441d11471e114920114b21114e22115024125325125527125829115a2a115c2c115f2d1161"
    "2f116331116533106734106936106b38106c390f6e3b0f703d0f713f0f72400f74420f75440f764510774710"
    "784910784a10794c117a4e117b4f127b51127c52137c54137d56147d57157e59157e5a167e5c167f5d177f5f"
    "187f601880621980641a80651a80671b80681c816a1c816b1d816d1d816e1e81701f81721f81732081752181"
    "7621817822817922827b23827c23827e24828025828125818326818426818627818827818928818b29818c29"
    "818e2a81902a81912b81932b80942c80962c80982d80992d809b2e7f9c2e7f9e2f7fa02f7fa1307ea3307ea5"
    "317ea6317da8327daa337dab337cad347cae347bb0357bb2357bb3367ab5367ab73779b83779ba3878bc3978"
    "bd3977bf3a77c03a76c23b75c43c75c53c74c73d73c83e73ca3e72cc3f71cd4071cf4070d0416fd2426fd343"
    "6ed5446dd6456cd8456cd9466bdb476adc4869de4968df4a68e04c67e24d66e34e65e44f64e55064e75263e8"
    "5362e95462ea5661eb5760ec5860ed5a5fee5b5eef5d5ef05f5ef1605df2625df2645cf3655cf4675cf4695c"
    "f56b5cf66c5cf66e5cf7705cf7725cf8745cf8765cf9785df9795df97b5dfa7d5efa7f5efa815ffb835ffb85"
    "60fb8761fc8961fc8a62fc8c63fc8e64fc9065fd9266fd9467fd9668fd9869fd9a6afd9b6bfe9d6cfe9f6dfe"
    "a16efea36ffea571fea772fea973feaa74feac76feae77feb078feb27afeb47bfeb67cfeb77efeb97ffebb81"
    "febd82febf84fec185fec287fec488fec68afec88cfeca8dfecc8ffecd90fecf92fed194fed395fed597fed7"
    "99fed89afdda9cfddc9efddea0fde0a1fde2a3fde3a5fde5a7fde7a9fde9aafdebacfcecaefceeb0fcf0b2fc"
    "f2b4fcf4b6fcf6b8fcf7b9fcf9bbfcfbbdfcfdbf"
), dtype=np.uint8).reshape(256, 3)


def sample(lut: np.ndarray, n: int) -> np.ndarray:
    """``n`` evenly spaced entries of a 256-entry table, as a matplotlib listed colour map
    called with ``np.linspace(0, 1, n)`` picks them."""
    index = np.minimum((np.linspace(0, 1, n) * len(lut)).astype(np.intp), len(lut) - 1)
    return lut[index]
