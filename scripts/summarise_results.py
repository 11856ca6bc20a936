"""Write docs/results/README.md: our Table 1 next to the paper's, from the bench outputs.

    python scripts/summarise_results.py

Reads docs/results/{full,quick}/*/results.json written by scripts/run_results.sh
(:mod:`gainmlp.evaluation.summary`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gainmlp.evaluation.summary import results_readme


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="?", type=Path, default=Path("docs/results"),
                    help="the results folder (docs/results)")
    args = ap.parse_args()
    text = results_readme(args.results)
    (args.results / "README.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
