"""Evaluation of the codecs: the paper's experiments, the grid study, their reports.

It imports the library and nothing in the library imports it (only the command line
dispatches to it), so measuring never shapes what the codecs do.

* :mod:`.evaluate`: encode, decode and measure one method on one pair (``gainmlp eval``);
* :mod:`.pairs`: SDR/HDR pairs made from a folder of HDR images, cached for every study;
* :mod:`.experiments`: the paper's experiments as method variants (``gainmlp bench``);
* :mod:`.report`: an experiment's CSV, JSON, markdown table and plots;
* :mod:`.summary`: docs/results/README.md from the experiments' outputs;
* :mod:`.grid_study`: the learned-grid configurations and their study (docs/grid.md);
* :mod:`.local_oracle`: what extra inputs would do for the local tone mapper (docs/grid.md).
"""

from gainmlp.evaluation.evaluate import evaluate
from gainmlp.evaluation.experiments import (
    EXPERIMENTS,
    TONE_MAPPERS,
    Variant,
    default_jobs,
    run_experiment,
    variants_for,
)
from gainmlp.evaluation.pairs import downscale_linear, prepare_pairs

__all__ = [
    "EXPERIMENTS",
    "TONE_MAPPERS",
    "Variant",
    "default_jobs",
    "downscale_linear",
    "evaluate",
    "prepare_pairs",
    "run_experiment",
    "variants_for",
]
