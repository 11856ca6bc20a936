"""Where a base's pixels sit in the original frame a payload was fitted on.

A payload's network (and a conventional map body) is a function over the *original*
frame: pixel centres ``x, y`` in (0, 1) of the image it was fitted on. After an edit
(crop, resize, thumbnail, rotation, flip) the base shows a *view* of that frame: a crop
box in normalised coordinates of the original frame, shown in one of the eight EXIF
orientations. A decoder that knows the view evaluates the network at the right original
coordinates for any base size (docs/payload-format.md, header version 2; docs/edits.md).

Orientation numbering is EXIF's (TIFF tag 274): the base is the crop as a viewer would
display a stored image carrying that tag (1 as is, 2 mirrored left-right, 3 rotated 180°,
4 mirrored top-bottom, 5 transposed, 6 rotated 90° clockwise, 7 transversed, 8 rotated
90° counter-clockwise). Numpy only; imported by the decoders and the payload reader.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from gainmlp.errors import GainMLPError

#: Per EXIF orientation: (swap, flip_u, flip_v). ``swap``: the base's columns run along
#: the original frame's y (a 90° turn); ``flip_u``/``flip_v``: the crop's x / y run
#: backwards.
ORIENTATIONS = {1: (False, False, False), 2: (False, True, False), 3: (False, True, True),
                4: (False, False, True), 5: (True, False, False), 6: (True, False, True),
                7: (True, True, True), 8: (True, True, False)}
_BY_FLAGS = {flags: code for code, flags in ORIENTATIONS.items()}
#: Clockwise rotation in degrees -> orientation.
ROTATIONS = {0: 1, 90: 6, 180: 3, 270: 8}


@dataclass(frozen=True)
class View:
    """The part of the original frame a base shows: crop box ``(x0, y0, x1, y1)`` in
    normalised coordinates of the original frame (0 <= x0 < x1 <= 1, likewise y), shown in
    EXIF ``orientation`` (1..8)."""

    x0: float = 0.0
    y0: float = 0.0
    x1: float = 1.0
    y1: float = 1.0
    orientation: int = 1
    #: (width, height) of the original frame, when known (a decoder's view: the header's
    #: original size): base pixels are then evaluated at original pixel centres.
    frame: tuple[int, int] | None = field(default=None, compare=False)

    def check(self) -> View:
        """This view, or :class:`GainMLPError` when a field is out of range."""
        box = (self.x0, self.y0, self.x1, self.y1)
        if not all(math.isfinite(v) for v in box):
            raise GainMLPError("payload view has a non-finite crop box")
        if not (0.0 <= self.x0 < self.x1 <= 1.0 and 0.0 <= self.y0 < self.y1 <= 1.0):
            raise GainMLPError(f"payload view has an invalid crop box {box}")
        if self.orientation not in ORIENTATIONS:
            raise GainMLPError(f"payload view has an invalid orientation {self.orientation}")
        return self

    @property
    def swapped(self) -> bool:
        """True when the base's columns run along the original frame's y."""
        return ORIENTATIONS[self.orientation][0]

    @property
    def is_identity(self) -> bool:
        return (self.x0, self.y0, self.x1, self.y1, self.orientation) == (0.0, 0.0, 1.0, 1.0, 1)

    def crop_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the crop before orientation, for a base ``width x height``."""
        return (height, width) if self.swapped else (width, height)

    def axes(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """Original-frame coordinates (float64) of a ``width x height`` base's pixel
        centres: ``(along_columns (width,), along_rows (height,))``. Without a swap the
        first is x and the second y; with one (:attr:`swapped`) the first is y.

        A centre is ``x0 + (x1 - x0) * (k + 0.5) / n`` (``k`` counted from the far end
        when that axis is flipped), in float64. With :attr:`frame` known, each coordinate
        is then moved to the centre of the original pixel it falls in,
        ``(floor(x * W0) + 0.5) / W0`` (``floor`` clamped to ``0..W0 - 1``): a network
        fitted on pixel centres is only ever evaluated where it was fitted (between them
        its highest frequencies alias; docs/edits.md). A crop or rotation at the original
        scale lands on the same centres either way.
        """
        swap, flip_u, flip_v = ORIENTATIONS[self.orientation]
        n_u, n_v = (height, width) if swap else (width, height)
        u = _centres(n_u, flip_u)
        v = _centres(n_v, flip_v)
        x = self.x0 + (self.x1 - self.x0) * u
        y = self.y0 + (self.y1 - self.y0) * v
        if self.frame is not None:
            x, y = _snap(x, self.frame[0]), _snap(y, self.frame[1])
        return (y, x) if swap else (x, y)

    def matrix(self) -> np.ndarray:
        """The affine map (3 x 3, float64) from base coordinates (p, q, 1) in [0, 1] to
        original-frame coordinates (x, y, 1)."""
        return _box_matrix(self.x0, self.y0, self.x1, self.y1) @ _orientation_matrix(
            self.orientation)

    def then(self, edit: View) -> View:
        """The view after applying ``edit`` (a view of *this* base) to this base."""
        return replace(from_matrix(self.matrix() @ edit.matrix()), frame=self.frame)


def _centres(n: int, flip: bool) -> np.ndarray:
    k = np.arange(n, dtype=np.float64)
    if flip:
        k = (n - 1) - k
    return (k + 0.5) / n


def _snap(coords: np.ndarray, n: int) -> np.ndarray:
    """Coordinates moved to the centre of the pixel (of ``n``) they fall in (float64)."""
    idx = np.clip(np.floor(coords * n), 0, n - 1)
    return (idx + 0.5) / n


def _box_matrix(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x1 - x0, 0.0, x0], [0.0, y1 - y0, y0], [0.0, 0.0, 1.0]])


def _orientation_matrix(orientation: int) -> np.ndarray:
    """(p, q) -> (u, v): the crop's coordinates of a base point."""
    swap, flip_u, flip_v = ORIENTATIONS[orientation]
    m = np.zeros((3, 3))
    m[2, 2] = 1.0
    src_u, src_v = (1, 0) if swap else (0, 1)
    m[0, src_u] = -1.0 if flip_u else 1.0
    m[0, 2] = 1.0 if flip_u else 0.0
    m[1, src_v] = -1.0 if flip_v else 1.0
    m[1, 2] = 1.0 if flip_v else 0.0
    return m


def from_matrix(m: np.ndarray) -> View:
    """The view whose :meth:`View.matrix` is ``m`` (a scaled signed permutation)."""
    swap = abs(m[0, 1]) > abs(m[0, 0])
    flip_u = (m[0, 1] if swap else m[0, 0]) < 0
    flip_v = (m[1, 0] if swap else m[1, 1]) < 0
    orientation = _BY_FLAGS[(bool(swap), bool(flip_u), bool(flip_v))]
    box = m @ np.linalg.inv(_orientation_matrix(orientation))

    def snap(v: float) -> float:
        v = min(max(float(v), 0.0), 1.0)
        return float(round(v)) if abs(v - round(v)) < 1e-12 else v

    return View(snap(box[0, 2]), snap(box[1, 2]), snap(box[0, 0] + box[0, 2]),
                snap(box[1, 1] + box[1, 2]), orientation).check()


def crop_view(x: int, y: int, w: int, h: int, width: int, height: int) -> View:
    """The view of pixels ``x..x+w-1``, ``y..y+h-1`` of a ``width x height`` base."""
    if not (0 <= x and 0 <= y and w >= 1 and h >= 1 and x + w <= width and y + h <= height):
        raise GainMLPError(f"crop box {x},{y},{w},{h} is not inside the {width}x{height} image")
    return View(x / width, y / height, (x + w) / width, (y + h) / height, 1)


def orient_array(a: np.ndarray, orientation: int) -> np.ndarray:
    """The crop-frame array ``a`` ``(h, w, ...)`` as the base shows it in ``orientation``."""
    swap, flip_u, flip_v = ORIENTATIONS[orientation]
    if swap:
        return np.swapaxes(a, 0, 1)[::-1 if flip_u else 1, ::-1 if flip_v else 1]
    return a[::-1 if flip_v else 1, ::-1 if flip_u else 1]


def unorient_array(a: np.ndarray, orientation: int) -> np.ndarray:
    """The inverse of :func:`orient_array`: a base array back in the crop frame."""
    swap, flip_u, flip_v = ORIENTATIONS[orientation]
    if swap:
        return np.swapaxes(a[::-1 if flip_u else 1, ::-1 if flip_v else 1], 0, 1)
    return a[::-1 if flip_v else 1, ::-1 if flip_u else 1]


def view_encodings(view: View | None, height: int, width: int, centre: np.ndarray,
                   scale: np.ndarray, n_frequencies: int
                   ) -> tuple[np.ndarray, np.ndarray, bool]:
    """Frequency encodings of the coordinate along every column ``(W, 2F)`` and every row
    ``(H, 2F)`` of a ``width x height`` base, and whether they are swapped (the column
    table then encodes y and the row table x). ``view`` None: the base is the original
    frame (``features.coordinate_encodings``, bit for bit)."""
    from gainmlp.codecs.features import coordinate_encodings, encode_numpy, normalise_inputs

    if view is None:
        enc_x, enc_y = coordinate_encodings(height, width, centre, scale, n_frequencies)
        return enc_x, enc_y, False
    along_cols, along_rows = view.axes(width, height)
    ci, ri = (1, 0) if view.swapped else (0, 1)

    def enc(coords: np.ndarray, i: int) -> np.ndarray:
        c = coords.astype(np.float32)[:, None]
        return encode_numpy(normalise_inputs(c, centre[i:i + 1], scale[i:i + 1]),
                            n_frequencies)

    return enc(along_cols, ci), enc(along_rows, ri), view.swapped


def base_coordinates(view: View | None, height: int, width: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Original-frame ``(x, y)`` of every pixel of a ``width x height`` base, float64
    ``(H, W)`` each (for fitters and tests; decoders use the separable :meth:`View.axes`)."""
    view = view or View()
    along_cols, along_rows = view.axes(width, height)
    a = np.broadcast_to(along_cols[None, :], (height, width))
    b = np.broadcast_to(along_rows[:, None], (height, width))
    return (b, a) if view.swapped else (a, b)


__all__ = ["ORIENTATIONS", "ROTATIONS", "View", "base_coordinates", "crop_view", "from_matrix",
           "orient_array", "unorient_array", "view_encodings"]
