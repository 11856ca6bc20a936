"""Containers: how payloads and gain maps travel in files, one format per module.

* :mod:`~gainmlp.container.payload`: the gainmlp payload's binary format.
* :mod:`~gainmlp.container.segments`: JPEG marker segments and image boundaries.
* :mod:`~gainmlp.container.app11`: our payload framed in APP11 segments.
* :mod:`~gainmlp.container.mpf`: the Multi-Picture Format image index.
* :mod:`~gainmlp.container.xmp`: XMP packets and the ``hdrgm`` gain-map schema.
* :mod:`~gainmlp.container.iso21496`: the ISO 21496-1 gain-map metadata record.
* :mod:`~gainmlp.container.apple`: Apple's HDRGainMap metadata, headroom and formula.
* :mod:`~gainmlp.container.icc`: ICC profiles (reading, naming primaries, writing).
* :mod:`~gainmlp.container.gainmap_jpeg`: whole gain-map JPEGs, read, rendered, written.
* :mod:`~gainmlp.container.ultrahdr`: an (SDR, HDR) pair as an Ultra HDR JPEG.
* :mod:`~gainmlp.container.photo`: a gainmlp photo's bytes.

Nothing here runs the encoder or decoder: :mod:`gainmlp.photo` does, above this package.
"""
