#!/usr/bin/env python3
"""Generate the shipped meta-initialisation weights (``src/gainmlp/data/meta_*.gmlp``).

Synthetic training set (implementation notes, "Their synthetic initialisation images"):

1. Three independent uniform-noise channels (``size`` x ``size``), each filtered in the
   Fourier domain by an amplitude 1/f^alpha, alpha = 2 (DC removed), then min-max
   normalised to [0, 1].
2. Read as CIELAB: L = 105 * sigmoid(12 * (c0 - 0.5)) (a steep sigmoid onto 0..105),
   a = 150 * (c1 - 0.5), b = 150 * (c2 - 0.5). Lab (D65) -> XYZ -> linear BT.2020 with
   colour-science, clipped to [0, 1].
3. HDR: that linear BT.2020 scaled so 1.0 is the 1000 cd/m2 peak of the grading
   (``HDR_PEAK_NITS``), PQ-encoded.
4. SDR: a neutral global tone curve of our own: BT.2020 -> BT.709 linear (cd/m2), the
   luminance Y/100 (SDR white = 1) through the extended Reinhard curve
   ``y = x (1 + x / w^2) / (1 + x)`` with w = 10 (the 1000-nit peak maps to SDR white),
   every channel scaled by y/x (hue kept), clipped to [0, 1], pure gamma 2.4 and 8-bit
   quantisation; then ``colorimetry.sdr_to_hdr_space`` as for any SDR input.

Two derivations of the initial weights per method x width x activation:

* ``average`` (the authors' way): one network per synthetic image, all 50 from the same
  random initialisation (weights of independently initialised networks could not be
  averaged: hidden units would not correspond), then the plain average of the 50.
* ``reptile``: first-order meta-learning (Nichol et al. 2018): from the current weights,
  ``inner`` Adam steps on each of ``tasks`` random synthetic images, then move the weights
  towards the mean of the adapted ones with a step decaying linearly from 1 to 0.

Networks are fitted in parallel (one batched matrix product for all of them), each with its
own Adam state, so the average of 50 fits costs about one bigger fit. ``--which`` selects
the derivation that is written to the shipped files; ``--study`` measures PSNR on held-out
pairs after 100/250/500/1000 steps with no, averaged and Reptile initialisation.

The default settings are sized for a 2-core CPU (128x128 images, batch 4096 per network,
300 steps per averaged fit, 40 Reptile rounds of 10 tasks x 25 inner steps). How the
shipped width-16 files were made, and what each initialisation gains, is in docs/mlp.md
("Meta-initialisation").
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

try:
    import torch
except ImportError:
    raise SystemExit("gainmlp: error: scripts/make_meta_init.py needs PyTorch, which is not "
                     "installed: pip install \"gainmlp[gpu]\"") from None

from gainmlp.codecs import EncodeOptions, names
from gainmlp.codecs.mlp.decode import decode_mlp
from gainmlp.codecs.mlp.fit import (
    DEFAULT_OUTPUT_TRANSFORM,
    HIDDEN_LAYERS,
    fit_mlp,
    input_constants,
    output_constants,
    torch_target,
)
from gainmlp.codecs.mlp.format import N_FREQUENCIES, N_INPUTS, MlpParams, pack_mlp_body
from gainmlp.codecs.mlp.meta_init import DATA_DIR, meta_file_name, meta_kind, write_meta_file
from gainmlp.codecs.mlp.model import GainMLPNet
from gainmlp.codecs.torch_helpers import FrequencyEncoding
from gainmlp.paper_residual import DEFAULT_EPS

HDR_PEAK_NITS = 1000.0
SDR_WHITE_NITS = 100.0
REINHARD_WHITE = HDR_PEAK_NITS / SDR_WHITE_NITS
METHODS = names("mlp")


# -- synthetic pairs ---------------------------------------------------------------------

def pink_noise(rng: np.random.Generator, size: int, alpha: float = 2.0) -> np.ndarray:
    """One uniform-noise channel filtered by 1/f^alpha in the Fourier domain, in [0, 1]."""
    noise = rng.uniform(size=(size, size))
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    f = np.hypot(fx, fy)
    f[0, 0] = np.inf  # remove DC
    out = np.real(np.fft.ifft2(np.fft.fft2(noise) / f**alpha))
    return (out - out.min()) / (out.max() - out.min())


def synthetic_pair(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(SDR in HDR space, HDR) PQ BT.2020 float32 (size, size, 3), see module docstring."""
    import colour

    from gainmlp import colorimetry

    c = np.stack([pink_noise(rng, size) for _ in range(3)], axis=-1)
    lab = np.empty_like(c)
    lab[..., 0] = 105.0 / (1.0 + np.exp(-12.0 * (c[..., 0] - 0.5)))
    lab[..., 1] = 150.0 * (c[..., 1] - 0.5)
    lab[..., 2] = 150.0 * (c[..., 2] - 0.5)
    d65 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
    xyz = colour.Lab_to_XYZ(lab, d65)
    bt2020 = colour.RGB_COLOURSPACES["ITU-R BT.2020"]
    lin = np.clip(colour.XYZ_to_RGB(xyz, bt2020, illuminant=d65,
                                    chromatic_adaptation_transform=None), 0.0, 1.0)
    nits = lin * HDR_PEAK_NITS
    hdr = colorimetry.pq_encode(nits).astype(np.float32)
    # Neutral global tone curve on luminance (extended Reinhard), BT.709, gamma 2.4, 8 bit.
    rgb709 = np.maximum(colorimetry.convert_primaries(nits, "bt2020", "bt709"), 0.0)
    x = colorimetry.luminance(rgb709, "bt709") / SDR_WHITE_NITS
    y = x * (1.0 + x / REINHARD_WHITE**2) / (1.0 + x)
    ratio = np.where(x > 1e-9, y / np.maximum(x, 1e-9), 1.0)
    sdr_lin = np.clip(rgb709 / SDR_WHITE_NITS * ratio[..., None], 0.0, 1.0)
    code = np.round(colorimetry.sdr_inverse_eotf(sdr_lin, "gamma2.4") * 255.0) / 255.0
    sdr = colorimetry.sdr_to_hdr_space(code)
    return sdr.astype(np.float32), hdr


def make_pairs(count: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pairs = [synthetic_pair(rng, size) for _ in range(count)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


# -- batched fitting of K networks ---------------------------------------------------------

class BatchedFit:
    """K copies of the network fitted at once, one synthetic pair each (map loss)."""

    def __init__(self, method: str, sdr: np.ndarray, hdr: np.ndarray, eps: float,
                 width: int, activation: str, device: torch.device) -> None:
        self.kind = meta_kind(method)
        self.transform = DEFAULT_OUTPUT_TRANSFORM[self.kind]
        self.eps = eps
        self.activation = activation
        self.device = device
        k, h, w = sdr.shape[:3]
        self.k, self.n, self.h, self.w = k, h * w, h, w
        self.template = GainMLPNet(width, HIDDEN_LAYERS, activation)
        self.n_enc, self.n_pad = self.template.n_encoded, self.template.n_padded
        consts = [input_constants(sdr[i]) for i in range(k)]
        outs = [output_constants(self.kind, self.transform, sdr[i], hdr[i], eps)
                for i in range(k)]
        t = lambda a: torch.from_numpy(np.stack(a).astype(np.float32)).to(device)  # noqa: E731
        self.in_centre, self.in_scale = t([c[0] for c in consts]), t([c[1] for c in consts])
        self.out_centre, self.out_scale = t([o[0] for o in outs]), t([o[1] for o in outs])
        self.sdr = torch.from_numpy(sdr.reshape(k, -1, 3)).to(device)
        self.hdr = torch.from_numpy(hdr.reshape(k, -1, 3)).to(device)
        ys, xs = np.mgrid[0:h, 0:w]
        xy = np.stack([(xs.ravel() + 0.5) / w, (ys.ravel() + 0.5) / h], -1).astype(np.float32)
        self.xy = torch.from_numpy(xy).to(device)
        self.encoding = FrequencyEncoding(N_FREQUENCIES, device)

    def init_weights(self, stored: list[np.ndarray] | None, seed: int) -> list[torch.Tensor]:
        net = GainMLPNet(self.template.width, HIDDEN_LAYERS, self.activation)
        if stored is None:
            net.reset_parameters(torch.Generator().manual_seed(seed))
        else:
            net.load_stored_weights(stored)
        return [p.detach().to(self.device) for p in net.weights]

    def run(self, start: list[torch.Tensor], tasks: torch.Tensor, steps: int, batch: int,
            lr: float, generator: torch.Generator) -> list[torch.Tensor]:
        """Fit copies of ``start`` (padded layout) to images ``tasks``; returns (M, ...)."""
        m = tasks.numel()
        ws = [w.unsqueeze(0).repeat(m, 1, 1).clone().requires_grad_(True) for w in start]
        opt = torch.optim.Adam(ws, lr=lr, betas=(0.9, 0.999))
        sdr, hdr = self.sdr[tasks], self.hdr[tasks]
        ic, isc = self.in_centre[tasks][:, None, :], self.in_scale[tasks][:, None, :]
        oc, osc = self.out_centre[tasks][:, None, :], self.out_scale[tasks][:, None, :]
        enc = torch.ones(m, batch, self.n_pad, device=self.device)
        for _ in range(steps):
            idx = torch.randint(0, self.n, (m, batch), generator=generator, device=self.device)
            s = torch.gather(sdr, 1, idx[..., None].expand(-1, -1, 3))
            hh = torch.gather(hdr, 1, idx[..., None].expand(-1, -1, 3))
            raw = torch.cat([self.xy[idx], s], dim=-1)
            norm = torch.clamp((raw - ic) / isc, -1.0, 1.0)
            args = self.encoding.args(norm)
            e = enc[..., : self.n_enc].view(m, batch, N_INPUTS, 2, N_FREQUENCIES)
            e[..., 0, :] = torch.sin(args)
            e[..., 1, :] = torch.cos(args)
            with torch.no_grad():
                target = (torch_target(self.kind, self.transform, s, hh, self.eps) - oc) / osc
            x = torch.bmm(enc, ws[0].transpose(1, 2))
            for w in ws[1:]:
                x = torch.relu(x) if self.activation == "relu" else torch.sin(x)
                x = torch.bmm(x, w.transpose(1, 2))
            loss = ((x - target) ** 2).mean(dim=(1, 2)).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return [w.detach() for w in ws]


def to_stored(padded: list[torch.Tensor], n_enc: int) -> list[np.ndarray]:
    first = padded[0].cpu()
    first = torch.cat([first[:, :n_enc], first[:, n_enc:].sum(1, keepdim=True)], 1)
    return [first.numpy()] + [w.cpu().numpy() for w in padded[1:]]


def as_params(stored: list[np.ndarray], activation: str, transform: str) -> MlpParams:
    """Meta weights with neutral constants (only the weights are ever used)."""
    one3, zero3 = np.ones(3, np.float32), np.zeros(3, np.float32)
    return MlpParams(activation=activation, weights=[w.astype(np.float32) for w in stored],
                     in_centre=np.array([0.5, 0.5, 0.5, 0.5, 0.5], np.float32),
                     in_scale=np.full(5, 0.5, np.float32), out_centre=zero3,
                     out_scale=one3, out_min=-one3, out_max=one3,
                     output_transform=transform)


def derive_average(fit: BatchedFit, args: argparse.Namespace) -> list[np.ndarray]:
    gen = torch.Generator(device=fit.device).manual_seed(args.seed)
    start = fit.init_weights(None, args.seed)
    tasks = torch.arange(fit.k, device=fit.device)
    ws = fit.run(start, tasks, args.avg_steps, args.batch, 1e-2, gen)
    return to_stored([w.mean(dim=0) for w in ws], fit.n_enc)


def derive_reptile(fit: BatchedFit, args: argparse.Namespace) -> list[np.ndarray]:
    gen = torch.Generator(device=fit.device).manual_seed(args.seed + 1)
    phi = fit.init_weights(None, args.seed)
    for r in range(args.reptile_rounds):
        tasks = torch.randint(0, fit.k, (args.reptile_tasks,), generator=gen,
                              device=fit.device)
        ws = fit.run(phi, tasks, args.reptile_inner, args.batch, 1e-2, gen)
        step = 1.0 - r / args.reptile_rounds
        phi = [p + step * (w.mean(dim=0) - p) for p, w in zip(phi, ws, strict=True)]
    return to_stored(phi, fit.n_enc)


# -- study -------------------------------------------------------------------------------

def study(method: str, activation: str, inits: dict[str, MlpParams | None],
          pairs: list[tuple[str, np.ndarray, np.ndarray]], device: str,
          steps: tuple[int, ...] = (100, 250, 500, 1000), batch: int = 65536) -> dict:
    """PSNR (dB, mean over ``pairs``) after ``steps`` for each initialisation, fitting the
    paper's network with the paper's recipe (no grid, constant learning rate)."""
    results: dict = {}
    for name, init in inits.items():
        per = {s: [] for s in steps}
        for _, sdr, hdr in pairs:
            opts = EncodeOptions(steps=max(steps), batch=batch, activation=activation,
                                 device=device, meta_init=False, grid=None,
                                 lr_schedule="constant")
            res = fit_mlp(method, sdr, hdr, DEFAULT_EPS, opts, init=init, snapshots=steps)
            for s in steps:
                out = decode_mlp(method, pack_mlp_body(res.snapshots[s]), sdr, DEFAULT_EPS)
                mse = float(np.mean((out.astype(np.float64) - hdr) ** 2))
                per[s].append(10 * math.log10(1.0 / max(mse, 1e-20)))
        results[name] = {s: round(float(np.mean(v)), 2) for s, v in per.items()}
        print(f"  {method} {activation} init={name}: {results[name]}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=DATA_DIR)
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--widths", default="16")
    p.add_argument("--activations", default="relu,sine")
    p.add_argument("--which", choices=("average", "reptile"), default="average",
                   help="derivation written as the shipped file")
    p.add_argument("--images", type=int, default=50)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--avg-steps", type=int, default=300)
    p.add_argument("--reptile-rounds", type=int, default=40)
    p.add_argument("--reptile-tasks", type=int, default=10)
    p.add_argument("--reptile-inner", type=int, default=25)
    p.add_argument("--no-reptile", action="store_true")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--device", default="cpu")
    p.add_argument("--pairs", type=Path, help="npz cache of the synthetic pairs")
    p.add_argument("--study", type=Path, nargs="*", default=[],
                   help="held-out .npz pairs (arrays sdr, hdr) for the PSNR study")
    p.add_argument("--study-json", type=Path)
    p.add_argument("--candidates", type=Path, help="also write every derivation here")
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    if args.pairs and args.pairs.is_file():
        data = np.load(args.pairs)
        sdr, hdr = data["sdr"], data["hdr"]
    else:
        sdr, hdr = make_pairs(args.images, args.size, args.seed)
        if args.pairs:
            np.savez(args.pairs, sdr=sdr, hdr=hdr)
    print(f"{len(sdr)} synthetic pairs {sdr.shape[1]}x{sdr.shape[2]} "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)
    device = torch.device(args.device)

    held = [(str(f), np.load(f)["sdr"], np.load(f)["hdr"]) for f in args.study]
    report: dict = {}
    args.out.mkdir(parents=True, exist_ok=True)
    for method in args.methods.split(","):
        kind = meta_kind(method)
        for width in (int(w) for w in args.widths.split(",")):
            for act in args.activations.split(","):
                t1 = time.perf_counter()
                fit = BatchedFit(method, sdr, hdr, DEFAULT_EPS, width, act, device)
                derived = {"average": derive_average(fit, args)}
                t_avg = time.perf_counter() - t1
                if not args.no_reptile:
                    derived["reptile"] = derive_reptile(fit, args)
                t_all = time.perf_counter() - t1
                transform = DEFAULT_OUTPUT_TRANSFORM[kind]
                params = {k: as_params(v, act, transform) for k, v in derived.items()}
                chosen = params.get(args.which, params["average"])
                write_meta_file(args.out / meta_file_name(method, width, act), chosen)
                if args.candidates:
                    args.candidates.mkdir(parents=True, exist_ok=True)
                    for name, prm in params.items():
                        fname = f"{name}_{meta_file_name(method, width, act)}"
                        write_meta_file(args.candidates / fname, prm)
                print(f"{method} w{width} {act}: average {t_avg:.1f} s, total "
                      f"{t_all:.1f} s", flush=True)
                if held and width == 16:
                    inits: dict = {"none": None, **params}
                    report[f"{method}/{act}"] = study(method, act, inits, held, args.device)
                    if args.study_json:
                        args.study_json.write_text(json.dumps(report, indent=1))
    print(f"done in {time.perf_counter() - t0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
