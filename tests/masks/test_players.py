"""Players: membership layout, alignment with inputs, and refusal of bad layouts."""

import numpy as np
import pytest

import interjax as ij


def test_features_and_background():
    p = ij.Players.features([2, 0], num_features=4)
    assert p.n == 2 and p.membership.tolist() == [1, -1, 0, -1]
    assert p.element_map((6,)).tolist() == [1, -1, 0, -1, -1, -1]  # longer input: background


def test_patches_select_and_grid():
    p = ij.Players.patches((4, 6), (2, 3), select=[3, 0])
    assert p.n == 2
    m = p.membership
    assert (m[:2, :3] == 1).all() and (m[2:, 3:] == 0).all() and (m[:2, 3:] == -1).all()
    assert p.element_map((4, 6, 3)).shape == (4, 6, 1)  # channels follow their pixel
    assert p.element_map((24,)).shape == (24,)  # flattened input


def test_segments_map_and_groups():
    s = ij.Players.segments(np.array([[0, 1], [1, -1]]))
    assert s.n == 2
    g = ij.Players.segments(groups=[[0, 3], [1]], shape=(2, 2))
    assert g.membership.tolist() == [[0, 1], [-1, 0]]


def test_tokens():
    t = ij.Players.tokens(4, positions=[0, 2])
    assert t.element_map((4, 8)).shape == (4, 1)
    assert t.element_map((4,)).tolist() == [0, -1, 1, -1]  # token ids (L,)
    with pytest.raises(ValueError, match=r"expects token ids of shape \(L=4,\) or embeddings"):
        t.element_map((5, 8))


def test_grid_divides_the_image_into_equal_patches():
    p = ij.Players.grid((4, 6), 2, 3)
    assert p.n == 6 and p.kind == "patches"
    np.testing.assert_array_equal(
        p.membership, np.repeat(np.repeat(np.arange(6).reshape(2, 3), 2, 0), 2, 1)
    )
    assert p.element_map((4, 6, 3)).shape == (4, 6, 1)  # channels share their pixel's player
    assert p == ij.Players.patches((4, 6), 2)
    with pytest.raises(ValueError, match=r"a 3x2 grid does not divide a 4x6 image .* \(1, 2, 4\)"):
        ij.Players.grid((4, 6), 3, 2)


def test_hashable_and_equal():
    assert ij.Players.features(3) == ij.Players.features(3)
    assert hash(ij.Players.features(3)) == hash(ij.Players.features(3))
    assert ij.Players.features(3) != ij.Players.features(3, background="mask")
    assert ij.Players.features(3).membership.flags.writeable is False


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ij.Players.features([0, 1, 1]), "overlap"),
        (lambda: ij.Players.features([0, 5], num_features=3), "out of range"),
        (lambda: ij.Players.features([-1, 2]), ">= 0"),
        (lambda: ij.Players.segments(groups=[[0, 1], [1, 2]], shape=4), "overlap"),
        (lambda: ij.Players.segments(groups=[[0, 9]], shape=4), "out of range"),
        (lambda: ij.Players.segments(np.array([0, 2, 2])), "own no input element"),
        (lambda: ij.Players.segments(np.array([0, -3])), "player ids must lie"),
        (lambda: ij.Players.patches((4, 4), 2, select=[0, 7]), "patch ids must lie"),
        (lambda: ij.Players.patches((4, 4), 2, select=[1, 1]), "more than once"),
        (lambda: ij.Players.tokens(3, positions=[0, 3]), "must lie in"),
        (lambda: ij.Players.features(31), "2\\*\\*31"),
        (lambda: ij.Players.features(3, names=["a"]), "names"),
    ],
)
def test_bad_layouts_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_more_players_than_elements():
    with pytest.raises(ValueError, match="only 3 elements"):
        ij.Players.segments(np.arange(4)).element_map((3,))
    with pytest.raises(ValueError, match="last axis has 3 features"):
        ij.Players.features([0, 4]).element_map((3,))
    with pytest.raises(ValueError, match="do not fit"):
        ij.Players.patches((4, 4), 2).element_map((3, 5))
