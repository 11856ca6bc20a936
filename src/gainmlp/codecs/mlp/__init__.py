"""The Gain-MLP codec: a small MLP (and an optional learned grid) fitted per image.

``format`` is the body wire format, ``grid`` the learned grids' option and sampling maths,
``decode`` the numpy decoder (never imports torch); ``model`` and ``fit`` are the torch
side, ``rate`` the rate control above ``fit`` (the registered encoders: the smallest
configuration that reaches a target PSNR); ``meta_init`` reads the shipped initial
weights. The encoding, normalisation and tiling shared with MLP-ITM are in
:mod:`gainmlp.codecs.features` (numpy) and :mod:`gainmlp.codecs.torch_helpers` (torch).
"""

from gainmlp.codecs.registry import register_method

for _code, _kind in ((17, "gamma"), (16, "gain"), (18, "direct")):
    register_method(
        f"{_kind}-mlp", code=_code, family="mlp", residual=_kind,
        encoder="gainmlp.codecs.mlp.rate:encode_mlp",  # fit's, or the rate-control search
        decoder="gainmlp.codecs.mlp.decode:decode_mlp",
        many_encoder="gainmlp.codecs.mlp.rate:encode_many",
        summary=("the HDR itself" if _kind == "direct" else f"the {_kind} map")
        + " fitted by a 2x16 MLP (paper §3.2)")
