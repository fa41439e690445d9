import numpy as np

from worksignal.classify.heads import fit_head, load_heads, save_heads


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, 8))
    y = np.where(x[:, 0] + 0.5 * rng.normal(size=400) > 0, "1", "0")
    return x, y


def test_binary_head_is_calibrated_and_monotonic(tmp_path):
    x, y = _data()
    head = fit_head(x, y)
    p = head.proba(x)[:, head.classes.index("1")]
    assert ((p >= 0.5) == (y == "1")).mean() > 0.8
    # Calibrated: mean predicted probability close to the observed rate in each half.
    for mask in (p < 0.5, p >= 0.5):
        assert abs(p[mask].mean() - (y[mask] == "1").mean()) < 0.1
    grid = np.zeros((5, 8))
    grid[:, 0] = np.linspace(-2, 2, 5)
    assert np.all(np.diff(head.proba(grid)[:, 1]) > 0)
    save_heads(tmp_path / "h.npz", {"work": head})
    loaded, _ = load_heads(tmp_path / "h.npz", ["work", "topic"])
    assert set(loaded) == {"work"}
    assert np.allclose(loaded["work"].proba(x), head.proba(x), atol=1e-5)


def test_multiclass_head_probabilities_sum_to_one():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 4))
    y = np.array(["a", "b", "c"])[np.argmax(x[:, :3], axis=1)]
    head = fit_head(x, y)
    p = head.proba(x)
    assert np.allclose(p.sum(axis=1), 1) and (np.array(head.classes)[p.argmax(1)] == y).mean() > 0.8
