"""``gainmlp batch``: many photos at once, on this machine or on a Ray cluster.

A tool built on the library, like :mod:`gainmlp.evaluation`: nothing in the library
imports it. ``docs/batch.md`` describes the inputs, the summary, resuming and clusters.

* :mod:`.items`: the items of INPUT (a folder of pairs, of HDR images with a tone mapper,
  of gain-map JPEGs, or a CSV manifest);
* :mod:`.work`: making a group of items in a worker (read, fit together, write, measure);
* :mod:`.summary`: ``summary.csv`` / ``summary.jsonl`` and when an item counts as done;
* :mod:`.local`: the pool of worker processes on this machine;
* :mod:`.ray_runner`: the same tasks on Ray (``pip install "gainmlp[ray]"``);
* :mod:`.run`: the driver (:func:`run_batch`); :mod:`.command`: the command's flags.
"""

from gainmlp.batch.items import Item, discover
from gainmlp.batch.run import BatchResult, run_batch
from gainmlp.batch.work import COLUMNS, BatchSpec

__all__ = ["BatchResult", "BatchSpec", "COLUMNS", "Item", "discover", "run_batch"]
