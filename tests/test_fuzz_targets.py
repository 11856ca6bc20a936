"""fuzz/targets.py, the fuzz harness, without a fuzzer: every target once on every seed that
fuzz/corpus.py writes (the coverage-guided runs themselves are outside CI, see
docs/robustness.md)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

from gainmlp.errors import GainMLPError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))

import corpus  # noqa: E402
import targets  # noqa: E402


@pytest.fixture(scope="module")
def seeds() -> dict[str, dict[str, bytes]]:
    return corpus.all_seeds()


def test_every_target_has_seeds_and_the_runs_reach_a_million(seeds) -> None:
    assert set(seeds) == set(targets.TARGETS)
    assert all(len(files) >= 2 for files in seeds.values())
    assert sum(t.runs for t in targets.TARGETS.values()) >= 1_000_000


@pytest.mark.parametrize("name", list(targets.TARGETS))
def test_target_reads_its_seeds_with_only_gainmlp_errors(seeds, name) -> None:
    """Each seed runs through the target: a crash (any other exception, or a failed output
    check) fails the test; most seeds are valid files the readers accept."""
    fn = targets.TARGETS[name].fn
    accepted = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed, data in seeds[name].items():
            try:
                fn(data)
                accepted.append(seed)
            except GainMLPError:
                pass
    assert len(accepted) * 2 >= len(seeds[name]), f"{name}: only {accepted} were readable"


def test_selector_byte_picks_the_choice() -> None:
    for choices in (targets.MLP_METHODS, targets.CONVENTIONAL_METHODS, targets.MAP_FORMATS):
        for choice in choices:
            assert targets.select(targets.selector(choice, choices) + b"xyz", choices) == (
                choice, b"xyz")
    assert targets.select(b"", targets.MAP_FORMATS) == (targets.MAP_FORMATS[0], b"")


def test_output_check_catches_bad_hdr() -> None:
    import numpy as np

    good = np.full((2, 3, 3), 0.5, np.float32)
    targets.check_hdr(good, 2, 3, "ok")
    for bad in (good[:1], np.where(good > 0, np.nan, good), good * 3):
        with pytest.raises(AssertionError):
            targets.check_hdr(bad, 2, 3, "bad")
