"""Plot helpers: patch outlines follow pixel edges; the report never switches a chosen backend."""

import os
import subprocess
import sys

import numpy as np

from interjax.report._plots import _outline_segments


def _edges(segments):
    return {tuple(sorted(map(tuple, s))) for s in segments}


def test_outline_of_a_square_patch_is_its_border():
    mask = np.zeros((4, 4), bool)
    mask[0:2, 2:4] = True  # a 2x2 patch in the top-right corner (rows 0-1, columns 2-3)
    edges = _edges(_outline_segments(mask))
    assert len(edges) == 8  # 2 unit edges per side
    xs = {p[0] for e in edges for p in e}
    ys = {p[1] for e in edges for p in e}
    assert xs == {1.5, 2.5, 3.5} and ys == {-0.5, 0.5, 1.5}  # pixel borders, not centres
    assert ((1.5, 0.5), (2.5, 0.5)) not in edges  # no edge inside the patch


def test_outline_of_two_separate_pixels_and_an_empty_mask():
    mask = np.zeros((3, 3), bool)
    mask[0, 0] = mask[2, 2] = True
    assert len(_edges(_outline_segments(mask))) == 8
    assert _outline_segments(np.zeros((3, 3), bool)) == []


def test_report_keeps_a_backend_the_user_chose():
    code = (
        "import matplotlib.pyplot as plt, matplotlib; "
        "b = matplotlib.get_backend(); "
        "from interjax.report._plots import _plt; _plt(); "
        "print(b == matplotlib.get_backend(), matplotlib.get_backend())"
    )
    env = {**os.environ, "MPLBACKEND": "svg"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["True", "svg"], out.stderr
