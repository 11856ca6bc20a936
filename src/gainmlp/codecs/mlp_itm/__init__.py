"""MLP-ITM (Liu et al., ACM MM 2024), the paper's strongest prior art, as a baseline.

A re-implementation from the published description: docs/mlp.md lists what that leaves
open and the choices made here. ``format`` is the body wire format and ``decode`` the
numpy decoder (never imports torch); ``model`` and ``fit`` are the torch side.
"""

from gainmlp.codecs.registry import register_method

register_method("mlp-itm", code=19, family="mlp-itm", residual="direct",
                encoder="gainmlp.codecs.mlp_itm.fit:encode_itm",
                decoder="gainmlp.codecs.mlp_itm.decode:decode_itm",
                summary="spatial + colour MLP pair predicting the HDR (baseline)")
