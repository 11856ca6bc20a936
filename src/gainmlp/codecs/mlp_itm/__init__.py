"""MLP-ITM (Liu et al., ACM MM 2024), the paper's strongest prior art, as a baseline.

``decode`` holds the body format and the numpy decoder; ``fit`` the torch model and fit.
"""

from gainmlp.codecs.registry import register_method

register_method("mlp-itm", code=19, family="mlp-itm", residual="direct",
                encoder="gainmlp.codecs.mlp_itm.fit:encode_itm",
                decoder="gainmlp.codecs.mlp_itm.decode:decode_itm",
                summary="spatial + colour MLP pair predicting the HDR (baseline)")
