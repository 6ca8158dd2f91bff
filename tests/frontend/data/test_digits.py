import numpy as np
from nash.frontend.data import load_dataset
from nash.frontend.data.digits import bilinear_resize


def test_digits_split_is_seeded_stratified_and_disjoint():
    a = load_dataset("digits", size=12, seed=3)
    b = load_dataset("digits", size=12, seed=3)
    c = load_dataset("digits", size=12, seed=4)
    assert a.x_train.shape[1:] == (1, 12, 12) and a.num_classes == 10
    assert len(a.x_train) + len(a.x_val) == 1797
    np.testing.assert_array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.y_val, c.y_val)
    counts = np.bincount(a.y_val, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 38  # ~20% of ~180 per class
    assert 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0
    # no image appears in both splits (the digits set has no exact duplicates across these)
    tr = {x.tobytes() for x in a.x_train}
    assert sum(x.tobytes() in tr for x in a.x_val) == 0


def test_bilinear_resize_hand_case():
    x = np.array([[0.0, 1.0], [2.0, 3.0]], dtype=np.float32)[None, None]
    y = bilinear_resize(x, 4)[0, 0]
    # half-pixel centres: output coordinate 0.5*(i+0.5) - 0.5 -> [-0.25, 0.25, 0.75, 1.25] clamped to [0, 1]
    np.testing.assert_allclose(y[0], [0.0, 0.25, 0.75, 1.0])
    np.testing.assert_allclose(y[:, 0], [0.0, 0.5, 1.5, 2.0])
