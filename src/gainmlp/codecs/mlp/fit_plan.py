"""What a Gain-MLP fit needs before its first step, without torch.

The fitted quantity and its normalisation, the input normalisation, the learning-rate
schedule, the grid and the start network (the shipped meta-initialisation or tcnn's
random initialisation, drawn in numpy exactly as torch draws it:
:func:`start_network`), gathered in one :class:`Plan` that every engine fits from
(:mod:`.fit`: the CPU trainer, the torch fused trainer, the autograd fit). docs/grid.md
explains the grid choices below and holds their measurements.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from gainmlp import paper_residual
from gainmlp.codecs.features import (
    STAT_CHUNK,
    check_pair,
    chunk_stats,
    chunks,
    map_chunks,
    padded_width,
)
from gainmlp.codecs.mlp.format import MAX_WIDTH, N_FREQUENCIES, MlpParams
from gainmlp.codecs.mlp.grid import GridSpec, guide_range, is_bilateral, parse_grid_spec
from gainmlp.errors import GainMLPError
from gainmlp.options import (
    INPUTS,
    LOSSES,
    LR_SCHEDULES,
    OPTIMISERS,
    EncodeOptions,
    grid_for,
    resolve_activation,
    resolve_precision,
)

#: Output transform per residual kind unless :func:`choose_transform` says otherwise.
DEFAULT_OUTPUT_TRANSFORM = {"gain": "linear", "gamma": "linear", "direct": "linear"}
HIDDEN_LAYERS = 2
#: Largest deviation, in standard deviations, beyond which a gain map is fitted in log2.
HEAVY_TAIL = 8.0

XY_ONLY_SCALE = 1e30  # colour inputs divided by this are 0 to float32 precision
#: The layer whose pre-activation the grid features join: the first, where they act like
#: extra inputs (entering deeper fitted worse, docs/grid.md).
GRID_ENTRY = 1
#: Grid learning rate relative to the MLP's. Under the cosine-tail schedule the grid's
#: late steps are damped with the MLP's, so it needs no slower rate of its own.
GRID_LR_SCALE = 1.0
#: Fraction of the steps after which the grids are rounded to their stored precision and
#: frozen, so that the MLP spends the remaining steps adapting to the grid the decoder sees.
GRID_FREEZE_AT = 0.9


#: The memo of :func:`shared_setup` (None outside one).
_SHARED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("gainmlp_shared_setup",
                                                                     default=None)


@contextlib.contextmanager
def shared_setup() -> Iterator[None]:
    """Within this context, what every fit of the same pair computes before its first step
    (the output transform, the input and output constants, the normalised targets, the
    highlight pixels: :func:`once`) is computed once. Rate control's search fits one pair
    several times; at 12.5 MP this set-up was about 40 % of a re-encode's CPU
    (docs/speed.md). Results are the same with or without it."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def once(key: tuple, compute: Callable[[], object], *arrays: np.ndarray):
    """``compute()``, or inside :func:`shared_setup` the value computed for ``key`` before.
    ``key`` names the arrays by ``id``; they are kept with the value, so no other array can
    take their ids while the context lasts. Callers must not modify the value."""
    memo = _SHARED.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = (compute(), arrays)
    return memo[key][0]


@dataclass
class FitResult:
    """A fitted network: stored-layout params, some diagnostics, and (on first use) the
    torch model holding the params (:attr:`model`)."""

    params: MlpParams
    _model: object | None = None
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    snapshots: dict[int, MlpParams] = field(default_factory=dict)

    @property
    def model(self):
        """The fitted :class:`~gainmlp.codecs.mlp.model.GainMLPNet` (imports torch)."""
        if self._model is None:
            from gainmlp.codecs.mlp.model import model_from_params

            self._model = model_from_params(self.params)
        return self._model


# ``EncodeOptions.optimiser``: ``muon`` fits the weight matrices of MUON_BLOCKS with Muon
# (momentum orthogonalised by Newton-Schulz iterations) and everything else with Adam;
# ``adam``: Adam for all (the paper's recipe). docs/fewer-steps.md holds the study.
#: The matrices Muon fits, as indices of the fused layout's blocks (W0ᵀ of the encoded
#: inputs: 0; the hidden W1ᵀ: 2). The bias, the output layer, the grid columns and the
#: grid stay on Adam (Muon on the output layer too fitted worse, docs/fewer-steps.md).
MUON_BLOCKS = (0, 2)
#: With Muon, the rate of everything Adam still fits (bias, output layer, grid columns,
#: grid) relative to ``lr``: the orthogonalised matrices fit fast enough that the Adam
#: part is what holds a short fit back (docs/fewer-steps.md).
MUON_ADAM_LR = 3.0
MUON_BETA = 0.95   # momentum (Nesterov)
#: Update size: ``lr * MUON_SCALE * sqrt(max(rows, cols))`` times the orthogonalised
#: momentum (whose entries have RMS ``1 / sqrt(max(rows, cols))``).
MUON_SCALE = 0.4
#: Newton-Schulz quintic coefficients and iterations (Keller Jordan's Muon).
MUON_NS = (3.4445, -4.7750, 2.0315)
MUON_NS_STEPS = 5

LR_TAIL_START = 0.5   # cosine-tail: fraction of the steps at the full rate
LR_TAIL_FLOOR = 0.01  # cosine-tail: rate at the last step, relative to the full rate


def resolve_grid(spec: str | None, kind: str = "gamma") -> GridSpec | None:
    """``EncodeOptions.grid`` -> the grid to fit (``"auto"`` and the spellings of "no
    grid" resolved per residual kind by :func:`gainmlp.options.grid_for`)."""
    return parse_grid_spec(grid_for(spec, kind))


def lr_factor(schedule: str, step: int, steps: int) -> float:
    """Multiplier of the learning rate at ``step`` (0-based) of ``steps``."""
    if schedule == "constant":
        return 1.0
    if schedule != "cosine-tail":
        raise GainMLPError(f"unknown learning-rate schedule {schedule!r}; use "
                           f"{' or '.join(LR_SCHEDULES)}")
    start = int(steps * LR_TAIL_START)
    if step < start or steps - start <= 1:
        return 1.0
    t = (step - start) / (steps - 1 - start)
    return LR_TAIL_FLOOR + (1.0 - LR_TAIL_FLOOR) * 0.5 * (1.0 + math.cos(math.pi * t))


#: Pixels per chunk of the normalised targets (elementwise: any size gives the same values;
#: float64 temporaries of this many pixels stay in the cache: 12.5 MP in 0.14 s, not 0.3-0.5
#: with the statistics' 1 M-pixel chunks, docs/speed.md).
TARGET_CHUNK = 1 << 16


def target_values(kind: str, transform: str, sdr: np.ndarray, hdr: np.ndarray,
                  eps: float) -> np.ndarray:
    """The fitted quantity T (float64): the map (or its log2), or the HDR for direct."""
    if kind == "direct":
        return np.asarray(hdr, dtype=np.float64)
    f = paper_residual.compute(kind, hdr, sdr, eps)
    return np.log2(f) if transform == "log2" else f


def choose_transform(kind: str, sdr: np.ndarray, hdr: np.ndarray, eps: float) -> str:
    """The output transform to fit ``kind``'s map in: linear, or log2 for heavy-tailed
    gain maps.

    Linear targets fit best on typical pairs, but a heavy-tailed gain map (a dark SDR,
    e.g. Ward's histogram operator: a few pixels with huge gains) squeezes every other
    pixel into a sliver of [-1, 1] after the max-deviation normalisation. When the largest
    deviation exceeds :data:`HEAVY_TAIL` standard deviations in any channel, fit log2 of
    the gain map instead (eq. 2's space). The threshold lies between the values measured
    on ordinary and on heavy-tailed gain maps (docs/mlp.md)."""
    if kind != "gain":
        return DEFAULT_OUTPUT_TRANSFORM[kind]
    step = max(1, sdr.size // 3 // STAT_CHUNK)
    f = paper_residual.compute(kind, hdr.reshape(-1, 3)[::step], sdr.reshape(-1, 3)[::step], eps)
    spread = np.maximum(f.max(axis=0) - f.mean(axis=0), f.mean(axis=0) - f.min(axis=0))
    ratio = spread / np.maximum(f.std(axis=0), 1e-12)
    return "log2" if float(ratio.max()) > HEAVY_TAIL else "linear"


def output_constants(kind: str, transform: str, sdr: np.ndarray, hdr: np.ndarray,
                     eps: float) -> tuple[np.ndarray, ...]:
    """Per channel: mean of T, its largest deviation from the mean, min and max (float32)."""
    s2, h2 = sdr.reshape(-1, 3), hdr.reshape(-1, 3)

    def block(rows: slice) -> np.ndarray:
        """A statistics block's T, made in small pieces (their float64 temporaries stay in
        the cache and are not kept by a thread's heap)."""
        s, h = s2[rows], h2[rows]
        out = np.empty((s.shape[0], 3))
        for sub in chunks(s.shape[0], TARGET_CHUNK):
            out[sub] = target_values(kind, transform, s[sub], h[sub], eps)
        return out

    stats = chunk_stats(block, s2.shape[0])
    return tuple(np.asarray(a, dtype=np.float32) for a in stats)


def input_constants(sdr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre/scale of (x, y, r, g, b): x, y in (0, 1) -> [-1, 1]; SDR around its mean."""
    s2 = sdr.reshape(-1, 3)
    mean, dev, _, _ = chunk_stats(lambda rows: s2[rows].astype(np.float64), s2.shape[0])
    centre = np.concatenate([[0.5, 0.5], mean]).astype(np.float32)
    scale = np.concatenate([[0.5, 0.5], dev]).astype(np.float32)
    return centre, scale


@dataclass
class Plan:
    """Everything a fit needs before its first step, for either trainer."""

    kind: str
    activation: str
    transform: str
    precision: str
    grid: GridSpec | None
    entry: int
    guide: tuple[float, float]
    sdr: np.ndarray
    hdr: np.ndarray
    eps: float
    seed: int
    in_centre: np.ndarray
    in_scale: np.ndarray
    out_c: np.ndarray
    out_s: np.ndarray
    out_lo: np.ndarray
    out_hi: np.ndarray
    width: int = 16
    #: The start params (``init`` or the meta-initialisation; None: random weights).
    start: MlpParams | None = None
    _model: object | None = None

    @property
    def n_encoded(self) -> int:
        return 2 * N_FREQUENCIES * 5

    @property
    def model(self):
        """The start network as a torch :class:`~gainmlp.codecs.mlp.model.GainMLPNet`
        (made on first use; imports torch)."""
        if self._model is None:
            from gainmlp.codecs.mlp.model import start_model

            self._model = start_model(self.width, HIDDEN_LAYERS, self.activation,
                                      self.grid.shapes if self.grid else (), self.entry,
                                      self.seed, self.start)
        return self._model

    @property
    def start_weights(self) -> list[np.ndarray]:
        """The start weights in the stored layout, without grid columns."""
        return start_network(self.width, self.activation, self._n_grid, self.seed,
                             self.start)[0]

    @property
    def grid_weight(self) -> np.ndarray | None:
        """The grid columns' start weights ``(width, C)`` (None without a grid)."""
        return start_network(self.width, self.activation, self._n_grid, self.seed,
                             self.start)[1]

    @property
    def _n_grid(self) -> int:
        return sum(g[-1] for g in self.grid.shapes) if self.grid else 0

    def target(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The normalised fitted quantity, ``(H*W, 3)`` float32, or ``(n, 3)`` at the flat
        pixel indices ``rows``."""
        key = ("target", self.kind, self.transform, id(self.sdr), id(self.hdr), self.eps,
               self.out_c.tobytes(), self.out_s.tobytes(), id(rows))
        return once(key, lambda: self._target(rows), self.sdr, self.hdr, rows)

    def _target(self, rows: np.ndarray | None) -> np.ndarray:
        s2, h2 = self.sdr.reshape(-1, 3), self.hdr.reshape(-1, 3)
        n = s2.shape[0] if rows is None else len(rows)
        out = np.empty((n, 3), np.float32)

        def fill(sl: slice) -> None:
            at = sl if rows is None else rows[sl]
            t = target_values(self.kind, self.transform, s2[at], h2[at], self.eps)
            out[sl] = (t - self.out_c) / self.out_s

        map_chunks(fill, n, TARGET_CHUNK)  # (on threads: the same values)
        return out

    def params(self, weights: list[np.ndarray], grids: list[np.ndarray]) -> MlpParams:
        return MlpParams(activation=self.activation, weights=weights,
                         in_centre=self.in_centre, in_scale=self.in_scale,
                         out_centre=self.out_c, out_scale=self.out_s, out_min=self.out_lo,
                         out_max=self.out_hi, output_transform=self.transform,
                         precision=self.precision, n_frequencies=N_FREQUENCIES, grids=grids,
                         grid_entry=self.entry,
                         grid_precision=self.grid.precision if self.grid else "fp16",
                         grid_guide=self.guide)


def make_plan(method: str, kind: str, sdr_pq: np.ndarray, hdr_pq: np.ndarray, eps: float,
          options: EncodeOptions, *, init: MlpParams | None = None,
          output_transform: str | None = None, grid_entry: int | None = None) -> Plan:
    """Check the options and the pair, compute the constants, build the start network."""
    sdr, hdr = check_pair(sdr_pq, hdr_pq)
    if not (0.0 < eps < 0.5):
        raise GainMLPError(f"offset eps={eps} must be in (0, 0.5)")
    activation = resolve_activation(options.activation)
    transform = output_transform or once(("transform", kind, id(sdr), id(hdr), eps),
                                         lambda: choose_transform(kind, sdr, hdr, eps),
                                         sdr, hdr)
    if options.loss not in LOSSES:
        raise GainMLPError(f"unknown loss {options.loss!r}; use {' or '.join(LOSSES)}")
    if options.steps < 0 or options.batch < 1 or not (1 <= options.width <= MAX_WIDTH):
        raise GainMLPError(f"steps must be >= 0, batch >= 1 and width in 1..{MAX_WIDTH}")
    grid = resolve_grid(options.grid, kind)
    precision = resolve_precision(options.precision, grid is not None)
    entry = GRID_ENTRY if grid_entry is None else int(grid_entry)
    if grid is not None and not (1 <= entry <= HIDDEN_LAYERS):
        raise GainMLPError(f"grid entry layer {entry} is outside 1..{HIDDEN_LAYERS}")
    lr_factor(options.lr_schedule, 0, 1)  # validates the name
    if options.optimiser not in OPTIMISERS:
        raise GainMLPError(f"unknown optimiser {options.optimiser!r}; use "
                           f"{' or '.join(OPTIMISERS)}")
    in_centre, in_scale = (a.copy() for a in once(("inputs", id(sdr)),
                                                  lambda: input_constants(sdr), sdr))
    if options.inputs not in INPUTS:
        raise GainMLPError(f"unknown inputs {options.inputs!r}; use {' or '.join(INPUTS)}")
    if options.inputs == "xy":  # Table-2 ablation: constant colour inputs, any decoder agrees
        in_centre[2:], in_scale[2:] = 0.0, XY_ONLY_SCALE
    out_c, out_s, out_lo, out_hi = once(
        ("outputs", kind, transform, id(sdr), id(hdr), eps),
        lambda: output_constants(kind, transform, sdr, hdr, eps), sdr, hdr)
    guide = (guide_range(sdr) if grid is not None and any(is_bilateral(g) for g in grid.shapes)
             else (0.0, 1.0))
    start = init
    if start is not None and (start.activation != activation
                              or start.hidden_widths != [options.width] * HIDDEN_LAYERS):
        raise GainMLPError(f"initial weights are a {start.activation} network of widths "
                           f"{start.hidden_widths}, not {activation} width {options.width}")
    if start is None and options.meta_init:
        from gainmlp.codecs.mlp.meta_init import load_initial_weights

        start = load_initial_weights(method, options.width, activation)
    return Plan(kind, activation, transform, precision, grid, entry, guide, sdr, hdr, eps,
                options.seed, in_centre, in_scale, out_c, out_s, out_lo, out_hi,
                options.width, start)



# -- the start network, drawn as torch draws it ------------------------------------------------


def torch_rand(rs: np.random.RandomState, shape: tuple[int, ...]) -> np.ndarray:
    """``torch.rand(shape, generator=g)`` (float32) for a CPU generator ``g`` whose
    Mersenne Twister state ``rs`` holds: torch keeps the low 24 bits of each 32-bit draw,
    times 2**-24 (tests/test_mlp_trainer.py checks the equality)."""
    n = int(np.prod(shape))
    raw = rs.randint(0, 1 << 32, size=n, dtype=np.uint64)
    return ((raw & 0xFFFFFF).astype(np.float64) * 2.0 ** -24).astype(np.float32).reshape(shape)


def _uniform(rs: np.random.RandomState, shape: tuple[int, ...], bound: float) -> np.ndarray:
    """``(rand * 2 - 1) * bound`` in float32, as :class:`GainMLPNet` initialises."""
    u = torch_rand(rs, shape)
    return (u * np.float32(2.0) - np.float32(1.0)) * np.float32(bound)


def _generator(seed: int) -> np.random.RandomState:
    """The state of ``torch.Generator().manual_seed(seed)`` (torch seeds its Mersenne
    Twister with the low 32 bits)."""
    return np.random.RandomState(int(seed) & 0xFFFFFFFF)


def start_network(width: int, activation: str, n_grid: int, seed: int,
                  start: MlpParams | None) -> tuple[list[np.ndarray], np.ndarray | None]:
    """The start weights in the stored layout without grid columns, and the grid columns
    ``(width, n_grid)`` (None when ``n_grid`` is 0): what
    :func:`gainmlp.codecs.mlp.model.start_model` draws with torch, drawn in numpy.

    ``start`` (the meta-initialisation or given weights): its weights, and grid columns
    Xavier-uniform from the generator seeded ``seed + 7919``. None: tcnn's initialisation
    of every layer from the generator seeded ``seed`` (ReLU: Xavier-uniform, the output's
    fan-out padded to 16; sine: ``1 / fan_in`` on the first layer, ``sqrt(6 / fan_in)``
    after), then the grid columns."""
    n_enc = 2 * N_FREQUENCIES * 5
    n_padded = padded_width(n_enc)

    def xavier(rs: np.random.RandomState) -> np.ndarray | None:
        if not n_grid:
            return None
        return _uniform(rs, (width, n_grid), math.sqrt(6.0 / (n_grid + width)))

    if start is not None:
        weights = [np.asarray(w, np.float32).copy() for w in start.weights]
        grid_weight = xavier(_generator(seed + 7919))
        if n_grid and weights[0].shape[1] == n_enc + 1 + n_grid:  # a body with grid columns
            grid_weight = weights[0][:, n_enc:n_enc + n_grid].copy()
            weights[0] = np.concatenate([weights[0][:, :n_enc], weights[0][:, -1:]], axis=1)
        return weights, grid_weight
    rs = _generator(seed)
    shapes = [(width, n_padded)] + [(width, width)] * (HIDDEN_LAYERS - 1) + [(3, width)]
    weights = []
    for i, (fan_out, fan_in) in enumerate(shapes):
        if i == len(shapes) - 1:
            fan_out = -(-fan_out // 16) * 16
        if activation == "sine":
            bound = 1.0 / fan_in if i == 0 else math.sqrt(6.0 / fan_in)
        else:
            bound = math.sqrt(6.0 / (fan_in + fan_out))
        weights.append(_uniform(rs, shapes[i], bound))
    first = np.concatenate([weights[0][:, :n_enc],
                            weights[0][:, n_enc:].sum(axis=1, keepdims=True)], axis=1)
    return [first, *weights[1:]], xavier(rs)


__all__ = ["FitResult", "Plan", "choose_transform", "input_constants", "lr_factor", "once",
           "shared_setup",
           "make_plan", "output_constants", "resolve_grid", "start_network", "target_values",
           "torch_rand"]
