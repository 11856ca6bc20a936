"""Every encoding option, its default, its allowed values and its validation, in one place.

:class:`EncodeOptions` is what the encoders read (each codec reads the fields it
understands); the command line builds its flags from the same fields
(:func:`cli_flags`), so a default is written once, here. ``"auto"`` values are resolved by
the functions below (per method where the measured best differs between methods;
``docs/grid.md`` and ``docs/results/`` hold the measurements behind each default).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from gainmlp.errors import GainMLPError
from gainmlp.paper_residual import DEFAULT_EPS

SCALES = (1, 2, 4, 8)
WIDTHS = (8, 16, 32, 64, 128)
DEVICES = ("cpu", "cuda", "auto")
ACTIVATIONS = ("auto", "relu", "sine")
PRECISIONS = ("auto", "fp32", "fp16")
LOSSES = ("map", "hdr")
LR_SCHEDULES = ("constant", "cosine-tail")
OPTIMISERS = ("muon", "adam")
INPUTS = ("xyrgb", "xy")
ENGINES = ("auto", "numba", "torch", "autograd")
GRID_NONE = ("", "none", "off", "no", "0")

#: The hidden activation "auto" stands for: tcnn's sine, the authors' configuration.
DEFAULT_ACTIVATION = "sine"
#: The learned grid beside the MLP (body version 2) that "auto" picks for gamma-mlp.
DEFAULT_GRID = "32x32x4:u8"
#: What ``grid="auto"`` means per residual kind: the grid only where it won with every
#: tone mapper of the dev set (docs/grid.md).
AUTO_GRID: dict[str, str | None] = {"gamma": DEFAULT_GRID, "gain": None, "direct": None}
#: The PSNR (dB, PQ code values, held-out pixels) that ``--target-psnr auto`` aims at where
#: rate control is on by default (docs/rate-control.md has the measurements behind it).
DEFAULT_TARGET_PSNR = 44.0
TARGET_PSNR_RANGE = (20.0, 90.0)
TARGET_OFF = ("off", "none", "no")
#: Inclusive ranges of the numeric options (``docs/robustness.md``, "Options"): each
#: must be a finite number inside its range, checked before any work. ``steps`` and
#: ``batch`` bound the fit's work and its per-step tensors (a step of 2^20 pixels holds
#: a few hundred MB), ``seed`` what every random generator the fit seeds accepts, ``lr``
#: a rate at which Adam still moves finitely, ``max_bytes`` the payload format's size.
RANGES: dict[str, tuple[float, float]] = {
    "quality": (1, 100), "width": (1, 1024), "steps": (0, 1_000_000),
    "batch": (1, 1 << 20), "lr": (1e-9, 10.0), "seed": (0, 2**32 - 1),
    "max_bytes": (1, 2**31 - 1),
}
INTEGER_OPTIONS = ("quality", "width", "steps", "batch", "seed", "max_bytes")


def check_range(name: str, value, low: float, high: float, integer: bool = False,
                flag: str | None = None) -> None:
    """A one-line error unless ``value`` is a finite number (an integer when ``integer``)
    in ``low..high``; ``flag`` names it in the message (default: ``name``)."""
    import math
    import numbers

    label = flag or name
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise GainMLPError(f"{label} must be a number, not {value!r}")
    if integer and not isinstance(value, numbers.Integral):
        raise GainMLPError(f"{label} must be a whole number, not {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        def text(x: float) -> str:
            return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"

        raise GainMLPError(f"{label} must be in {text(low)}..{text(high)}, not {value!r}")


def parse_target_psnr(text: str) -> float | str | None:
    """The command line's ``--target-psnr``: a number of dB, ``auto`` or ``off`` (None)."""
    word = str(text).strip().lower()
    if word == "auto":
        return "auto"
    if word in TARGET_OFF:
        return None
    try:
        return float(word)
    except ValueError:
        raise GainMLPError(f"target_psnr {text!r} is not a number of dB, auto or off") from None


def resolve_target_psnr(value: float | str | None, default_on: bool) -> float | None:
    """``--target-psnr`` with ``auto`` resolved: :data:`DEFAULT_TARGET_PSNR` where rate
    control is on by default (``default_on``), else off (None)."""
    if isinstance(value, str):
        value = parse_target_psnr(value)
    if value == "auto":
        return DEFAULT_TARGET_PSNR if default_on else None
    return value


def _opt(default, help: str, group: str, choices=None, flag: str | None = None,
         cli: bool = True, **extra):
    meta = {"help": help, "group": group, "choices": choices, "flag": flag, "cli": cli, **extra}
    return field(default=default, metadata=meta)


#: Fitting steps when ``steps`` is left to gainmlp (None): a fixed configuration's fit, and
#: each fit of rate control's search (``target_psnr`` set), which judges configurations on
#: held-out pixels: with the Muon recipe, 500 steps leave the grid rungs about 0.5 dB short
#: of where 1000 take them, so the search climbs to a larger rung (docs/fewer-steps.md).
FIXED_STEPS = 500
SEARCH_STEPS = 1000

_MAP = "conventional map images"
_MLP = "MLP"


@dataclass
class EncodeOptions:
    """Every knob of every encoder; each codec reads the ones it understands."""

    scale: int = _opt(4, "map downscale factor", _MAP, SCALES)
    quality: int = _opt(80, "map image quality, 1..100", _MAP)
    width: int = _opt(16, "hidden layer width (1..1024)", _MLP, cli_choices=WIDTHS)
    steps: int | None = _opt(
        None, f"fitting steps (default: {FIXED_STEPS}; {SEARCH_STEPS} for each fit of rate "
        "control's search, docs/fewer-steps.md)", _MLP, metavar="N", cli_type=int,
        default_text="auto")
    batch: int = _opt(4096, "pixels per step", _MLP)
    lr: float = _opt(1e-2, "learning rate", _MLP)
    lr_schedule: str = _opt("cosine-tail", "cosine-tail: decay to 1%% over the second half "
                            "of the steps; constant: the paper's recipe", _MLP, LR_SCHEDULES)
    optimiser: str = _opt("muon", "muon: Muon for the first and hidden weight matrices, "
                          "Adam at 3x the rate for the rest (docs/fewer-steps.md); adam: "
                          "Adam for all, the paper's recipe", _MLP, OPTIMISERS)
    seed: int = _opt(0, "random seed", _MLP)
    device: str = _opt("cpu", "where to fit", _MLP, DEVICES)
    activation: str = _opt("auto", f"hidden activation (auto: {DEFAULT_ACTIVATION})", _MLP,
                           ACTIVATIONS)
    precision: str = _opt("auto", "weight precision (auto: fp16 with a grid, else fp32)", _MLP,
                          PRECISIONS)
    meta_init: bool = _opt(True, "start from random weights instead of the shipped "
                           "meta-initialisation", _MLP, flag="--no-meta-init")
    loss: str = _opt("map", "fit the normalised map (paper) or the reconstructed HDR", _MLP,
                     LOSSES)
    grid: str | None = _opt("auto", "learned low-resolution grid beside the MLP "
                            "(docs/grid.md): auto (per method: "
                            f"{DEFAULT_GRID} for gamma-mlp, none for gain-/direct-mlp), none "
                            "(the paper's network), ROWSxCOLSxC or ROWSxCOLSxBINSxC "
                            "(bilateral), several joined by +, [:fp16|:fp32|:u8|:u8z..:u4z] "
                            "(u8z..u4z: u8 with 2^N levels, deflate-coded)", _MLP,
                            metavar="SPEC")
    highlights: str = _opt("auto", "highlight emphasis of the fused fit "
                           "(codecs/mlp/highlight_fit.py, docs/highlights.md): auto "
                           "(focus:0.0625:406+tier:1000:8; focus:0.03125:406+tier:1000:8 when "
                           "rate control searches), off, or focus:F:T[:bias|L], tier:T:R, "
                           "weight:L:T, lum:A, gn joined by +", _MLP,
                           metavar="SPEC")
    engine: str = _opt("auto", "MLP fitting engine: auto (numba on a CPU, torch on a CUDA "
                       "GPU), numba (the compiled CPU trainer, no PyTorch), torch (the torch "
                       "fused trainer), autograd (torch autograd, one image); numba and "
                       "torch fit many images at once with a hand-written backward",
                       _MLP, ENGINES)
    inputs: str = _opt("xyrgb", "network inputs: xyrgb, or xy (the paper's Table-2 ablation)",
                       _MLP, INPUTS, cli=False)
    progress: bool = _opt(False, "progress bar while fitting", _MLP, cli=False)
    target_psnr: float | None = _opt(
        None, "rate control (docs/rate-control.md): the smallest MLP (grid, width, weight "
        "precision) whose PSNR on held-out pixels (PQ) reaches DB; auto: "
        f"{DEFAULT_TARGET_PSNR:g} when re-encoding a gain-map JPEG (capped at the original "
        "map's bytes), else off; an explicit --grid, --width or --precision forces that "
        "configuration instead",
        "rate control", metavar="DB|auto|off", cli_type=str, cli_default="auto")
    max_bytes: int | None = _opt(None, "largest payload (bytes) rate control may choose; "
                                 "a forced configuration must fit it too", "rate control",
                                 metavar="N", cli_type=int)

    def __post_init__(self) -> None:
        if self.steps is None:  # "auto": FIXED_STEPS, or SEARCH_STEPS under rate control
            self.steps = FIXED_STEPS if self.target_psnr is None else SEARCH_STEPS

    def validate(self) -> EncodeOptions:
        """Check every field; raises :class:`GainMLPError` naming the bad one."""
        for f in fields(self):
            choices = f.metadata.get("choices")
            value = getattr(self, f.name)
            if choices is not None and value not in choices:
                raise GainMLPError(f"{f.name} {value!r} is not one of "
                                   f"{', '.join(str(c) for c in choices)}")
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if value is not None or name != "max_bytes":
                check_range(name, value, low, high, name in INTEGER_OPTIONS)
        check_grid_spec(self.grid)
        if self.target_psnr is not None:
            low, high = TARGET_PSNR_RANGE
            if isinstance(self.target_psnr, str) or not low <= float(self.target_psnr) <= high:
                raise GainMLPError(f"target_psnr must be a number of dB in {low:g}..{high:g}"
                                   f", not {self.target_psnr!r}")
        return self


def default(name: str):
    """The default of option ``name`` (e.g. ``default("batch")``)."""
    for f in fields(EncodeOptions):
        if f.name == name:
            return f.default
    raise KeyError(name)


def is_no_grid(spec: str | None) -> bool:
    return spec is None or str(spec).strip().lower() in GRID_NONE


def check_grid_spec(spec: str | None) -> None:
    """Validate a grid option without fitting anything (numpy-only parse)."""
    if is_no_grid(spec) or str(spec).strip().lower() == "auto":
        return
    from gainmlp.codecs.mlp.grid import parse_grid_spec

    parse_grid_spec(spec)


def grid_for(spec: str | None, kind: str) -> str | None:
    """The grid option with ``"auto"`` resolved for a residual ``kind`` (gain, gamma,
    direct); None for no grid."""
    if spec is not None and str(spec).strip().lower() == "auto":
        spec = AUTO_GRID[kind]
    return None if is_no_grid(spec) else spec


def resolve_activation(activation: str) -> str:
    if activation == "auto":
        return DEFAULT_ACTIVATION
    if activation not in ("relu", "sine"):
        raise GainMLPError(f"unknown MLP activation {activation!r}; use relu, sine or auto")
    return activation


def resolve_precision(precision: str, has_grid: bool) -> str:
    """Weight precision: "auto" is fp16 when a grid rides along (keeps the default payload
    under 10 KB, docs/grid.md), fp32 otherwise (the paper's network)."""
    if precision == "auto":
        return "fp16" if has_grid else "fp32"
    if precision not in ("fp32", "fp16"):
        raise GainMLPError(f"unknown precision {precision!r}; use auto, fp32 or fp16")
    return precision


def cli_flags() -> list[tuple[str, str, dict]]:
    """``(group, flag, argparse keyword arguments)`` for every option the CLI exposes."""
    out = []
    for f in fields(EncodeOptions):
        meta = f.metadata
        if not meta.get("cli", True):
            continue
        flag = meta.get("flag") or "--" + f.name.replace("_", "-")
        default = meta.get("cli_default", f.default)
        shown = meta.get("default_text", default)
        kwargs: dict = {"dest": f.name, "help": f"{meta['help']} (default {shown})"}
        if isinstance(f.default, bool):
            kwargs.update(action="store_false" if f.default else "store_true",
                          help=meta["help"])
        else:
            kwargs.update(default=default, type=meta.get("cli_type") or (
                type(f.default) if f.default is not None else str))
            choices = meta.get("cli_choices") or meta.get("choices")
            if choices is not None:
                kwargs["choices"] = choices
            if meta.get("metavar"):
                kwargs["metavar"] = meta["metavar"]
        out.append((meta["group"], flag, kwargs))
    return out


__all__ = ["AUTO_GRID", "DEFAULT_ACTIVATION", "DEFAULT_EPS", "DEFAULT_GRID",
           "DEFAULT_TARGET_PSNR", "EncodeOptions", "FIXED_STEPS", "LR_SCHEDULES", "RANGES",
           "SEARCH_STEPS", "check_grid_spec", "check_range",
           "cli_flags", "default", "grid_for", "parse_target_psnr", "resolve_activation",
           "resolve_precision", "resolve_target_psnr"]
