"""A procedural HDR test scene (no downloads): sky, sun with glare, shadows, colours.

:func:`demo_scene` returns linear BT.2020 scene radiance on a cd/m2-like scale:

* sky: a vertical gradient from a deep blue zenith (~3,000 cd/m2) to a pale horizon
  (~6,000 cd/m2) with soft clouds;
* sun: a disc of ~1.5e6 cd/m2 (luminance) with a glare halo around it;
* ground: sunlit textured ground (~2,000-6,000 cd/m2) and a wall-cast shadow region
  (~30-120 cd/m2), deeper under the spheres: the sun is > 10,000x the shadows;
* objects: saturated spheres, several in BT.2020 colours outside the BT.709 gamut,
  each with Lambert-like shading and a cast shadow;
* multiplicative 1/f-ish texture and fine grain everywhere.

Everything is drawn from ``numpy.random.default_rng(seed)``, so a seed gives the same
image on every run.
"""

from __future__ import annotations

import numpy as np

from gainmlp import colorimetry, filters
from gainmlp.errors import GainMLPError

__all__ = ["demo_scene"]


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise (periodic edges: scipy.ndimage's ``wrap``, as
    :func:`gainmlp.filters.gaussian_filter` reproduces it), rescaled to zero mean and unit
    standard deviation."""
    noise = filters.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    std = float(noise.std())
    return (noise - noise.mean()) / (std if std > 0 else 1.0)


def _texture(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Sum of smooth noises at three scales (a cheap 1/f-like texture), unit variance."""
    scale = max(shape) / 256.0
    tex = (
        _smooth_noise(rng, shape, 16.0 * scale)
        + 0.6 * _smooth_noise(rng, shape, 4.0 * scale)
        + 0.35 * _smooth_noise(rng, shape, 1.0 * scale)
    )
    return tex / float(tex.std() or 1.0)


def demo_scene(height: int = 256, width: int = 384, seed: int = 0) -> np.ndarray:
    """Deterministic procedural HDR scene: linear BT.2020 RGB, float32, (height, width, 3).

    Values are scene radiance on a cd/m2-like scale (see the module docstring for what it
    holds); all are >= 0, the sun disc is the brightest part, and some object colours are
    outside the BT.709 gamut (negative components once converted to BT.709).
    """
    if height < 8 or width < 8:
        raise GainMLPError(f"demo scene needs at least 8x8 pixels, got {width}x{height}")
    rng = np.random.default_rng(seed)
    h, w = int(height), int(width)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    v = yy / (h - 1)  # 0 at top, 1 at bottom
    u = xx / (w - 1)
    aspect = w / h
    horizon = 0.55 + 0.03 * rng.uniform(-1.0, 1.0)

    # ---- sky: zenith deep blue -> pale horizon, plus clouds (BT.709 colours -> BT.2020)
    t = np.clip(v / horizon, 0.0, 1.0)[..., None]
    zenith = np.array([0.25, 0.45, 1.0]) * 3000.0
    horizon_col = np.array([0.85, 0.92, 1.0]) * 6000.0
    sky = (1.0 - t**1.5) * zenith + t**1.5 * horizon_col
    clouds = np.clip(_smooth_noise(rng, (h, w), max(h, w) / 40.0) - 0.6, 0.0, None)
    sky = sky * (1.0 + 0.8 * clouds[..., None])
    sky = colorimetry.convert_primaries(sky, "bt709", "bt2020")

    # ---- ground: warm sunlit texture; a wall shadow over part of it
    tex = _texture(rng, (h, w))
    ground_albedo = np.array([0.55, 0.45, 0.32])
    ground_level = 3500.0 * np.exp(0.25 * tex)[..., None] * ground_albedo / ground_albedo.mean()
    ground_level *= 0.8 + 0.4 * (v[..., None] - horizon)  # a little brighter in front
    ground = colorimetry.convert_primaries(ground_level, "bt709", "bt2020")

    # wall shadow: a slanted band from the left edge; shadows lit by the blue sky only
    shadow_edge = 0.38 + 0.12 * (v - horizon) / (1.0 - horizon)
    in_shadow = u < shadow_edge
    penumbra = np.clip((shadow_edge - u) * w / 3.0, 0.0, 1.0)  # ~3 px soft edge
    skylight = colorimetry.convert_primaries(np.array([0.6, 0.8, 1.0]), "bt709", "bt2020")
    shadow_level = 60.0 * np.exp(0.35 * tex)[..., None] * skylight
    shade = np.where(in_shadow[..., None], penumbra[..., None], 0.0)
    ground = (1.0 - shade) * ground + shade * shadow_level

    img = np.where((v < horizon)[..., None], sky, ground)

    # ---- saturated spheres on the ground (BT.2020 colours; the first three are out of 709)
    colours = [
        np.array([0.9, 0.02, 0.02]),  # BT.2020 red: outside BT.709
        np.array([0.03, 0.85, 0.05]),  # BT.2020 green: outside BT.709
        np.array([0.02, 0.15, 0.95]),  # deep blue-violet: outside BT.709
        colorimetry.convert_primaries(np.array([0.9, 0.75, 0.05]), "bt709", "bt2020"),
        colorimetry.convert_primaries(np.array([0.8, 0.1, 0.7]), "bt709", "bt2020"),
    ]
    n = len(colours)
    centres_u = (np.arange(n) + 0.5) / n + rng.uniform(-0.03, 0.03, n)
    centres_v = horizon + (1.0 - horizon) * rng.uniform(0.35, 0.75, n)
    radii = (1.0 - horizon) * rng.uniform(0.12, 0.2, n)
    light_dir = np.array([0.5, -0.6, 0.62])
    light_dir /= np.linalg.norm(light_dir)
    for colour, cu, cv, r in zip(colours, centres_u, centres_v, radii, strict=True):
        dx = (u - cu) * aspect / r
        dy = (v - cv) / r
        # cast shadow: a flattened ellipse below-right of the sphere
        sh = ((dx - 0.7) / 1.4) ** 2 + ((dy - 0.9) / 0.45) ** 2 < 1.0
        sh &= v > horizon
        img = np.where(sh[..., None], img * 0.04, img)
        d2 = dx**2 + dy**2
        inside = d2 < 1.0
        nz = np.sqrt(np.clip(1.0 - d2, 0.0, 1.0))
        lambert = np.clip(dx * light_dir[0] + dy * light_dir[1] + nz * light_dir[2], 0.0, None)
        shading = 80.0 + 5000.0 * lambert  # ambient sky + sunlight
        sphere = colour[None, None, :] * shading[..., None]
        sphere *= np.exp(0.1 * tex)[..., None]
        img = np.where(inside[..., None], sphere, img)

    # ---- sun disc with glare, in the sky
    su, sv = 0.72 + rng.uniform(-0.05, 0.05), horizon * rng.uniform(0.3, 0.45)
    dist = np.hypot((u - su) * aspect, v - sv)  # in units of image height
    sun_r = 0.025
    sun_white = colorimetry.convert_primaries(np.array([1.0, 0.97, 0.9]), "bt709", "bt2020")
    disc = np.clip((sun_r - dist) * h + 0.5, 0.0, 1.0)  # anti-aliased edge
    glare = 4.0e4 * np.exp(-dist / 0.02) + 3.0e3 * np.exp(-dist / 0.1)
    img = img + glare[..., None] * sun_white[None, None, :] * (v < horizon)[..., None]
    img = img * (1.0 - disc[..., None]) + disc[..., None] * 1.5e6 * sun_white

    # ---- fine grain
    grain = 1.0 + 0.02 * rng.standard_normal((h, w, 1))
    img = np.clip(img * grain, 0.0, None)
    return img.astype(np.float32)
