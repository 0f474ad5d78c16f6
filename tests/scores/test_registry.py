import functools

import numpy as np
import pytest
import torch

from skunseen.scores import (
    EPOCH_STATISTICS,
    Scorer,
    ScoringRecords,
    aum,
    available_scorers,
    dual,
    dyn_unc,
    el2n,
    entropy,
    epoch_statistics,
    forgetting,
    get_scorer,
    loss,
    margin,
    register_scorer,
    tdds,
)

BUILTIN = [
    "aum", "dual", "dyn_unc", "el2n", "entropy", "forgetting", "loss", "margin", "tdds"
]


def _records_with_dynamics(n_samples=30, n_classes=4, n_epochs=6, seed=0):
    """Records as a skorch run would produce them, through epoch_statistics."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, n_classes, (n_samples,), generator=gen)
    stats, previous = [], None
    for _ in range(n_epochs):
        log_proba = torch.log_softmax(
            torch.randn(n_samples, n_classes, generator=gen) * 2, dim=1
        )
        stats.append(epoch_statistics(log_proba, y, previous))
        previous = log_proba
    epochs = {
        name: torch.stack([s[name] for s in stats], dim=1).numpy()
        for name in EPOCH_STATISTICS
    }
    return ScoringRecords(
        indices=np.arange(n_samples),
        y=y.numpy(),
        proba=previous.exp().double().numpy(),
        epochs=epochs,
    )


def _records_without_dynamics():
    return ScoringRecords(
        indices=np.array([3, 5, 9]),
        y=np.array([0, 1, 1]),
        proba=np.array([[0.9, 0.1], [0.5, 0.5], [0.8, 0.2]]),
        model="LogisticRegression()",
    )


def test_builtin_names_and_flags():
    assert set(BUILTIN) <= set(available_scorers())
    assert available_scorers() == sorted(available_scorers())
    for name in BUILTIN:
        scorer = get_scorer(name)
        assert isinstance(scorer, Scorer) and scorer.name == name
        assert scorer.reads_dynamics() == (
            name in {"forgetting", "aum", "dyn_unc", "tdds", "dual"}
        )
        assert scorer.extras == ()
    # An epoch window makes el2n read the per-epoch records.
    assert get_scorer("el2n").reads_dynamics({"epochs": (0, 3)})


def test_final_output_scorers_read_final_proba():
    rec = _records_without_dynamics()
    np.testing.assert_allclose(get_scorer("el2n")(rec), el2n(rec.proba, rec.y))
    np.testing.assert_allclose(get_scorer("loss")(rec), loss(rec.proba, rec.y))
    np.testing.assert_allclose(get_scorer("entropy")(rec), entropy(rec.proba))
    np.testing.assert_allclose(get_scorer("margin")(rec), margin(rec.proba, rec.y))


def test_dynamics_scorers_read_the_right_statistic():
    rec = _records_with_dynamics()
    np.testing.assert_allclose(
        get_scorer("forgetting")(rec), forgetting(rec.epochs["correct"])
    )
    np.testing.assert_allclose(get_scorer("aum")(rec), aum(rec.epochs["logit_margin"]))
    np.testing.assert_allclose(
        get_scorer("dyn_unc")(rec, window=3), dyn_unc(rec.epochs["target_proba"], 3)
    )
    np.testing.assert_allclose(
        get_scorer("dual")(rec, window=2), dual(rec.epochs["target_proba"], 2)
    )
    np.testing.assert_allclose(
        get_scorer("tdds")(rec, window=2, beta=0.5, horizon=4),
        tdds(rec.epochs["change"], 2, 0.5, 4),
    )
    # Defaults reach the array functions (window 10 > 6 epochs -> one window).
    np.testing.assert_allclose(
        get_scorer("dyn_unc")(rec), dyn_unc(rec.epochs["target_proba"], 6)
    )


def test_aum_scorer_is_negated_mean_logit_margin_of_the_run():
    rec = _records_with_dynamics()
    np.testing.assert_allclose(
        get_scorer("aum")(rec), -rec.epochs["logit_margin"].mean(axis=1), rtol=1e-6
    )


@pytest.mark.parametrize(
    "epochs, columns",
    [(0, [0]), (-1, [5]), ((1, 4), [1, 2, 3]), (slice(2, None), [2, 3, 4, 5]),
     (slice(None, None, 2), [0, 2, 4])],
)
def test_el2n_epoch_windows(epochs, columns):
    rec = _records_with_dynamics()
    expected = rec.epochs["el2n"][:, columns].astype(np.float64).mean(axis=1)
    np.testing.assert_allclose(get_scorer("el2n")(rec, epochs=epochs), expected)


def test_el2n_last_epoch_matches_final_proba():
    rec = _records_with_dynamics()
    np.testing.assert_allclose(
        get_scorer("el2n")(rec, epochs=-1), get_scorer("el2n")(rec), rtol=1e-5
    )


@pytest.mark.parametrize(
    "epochs, match",
    [
        (6, "out of range"),
        (-7, "out of range"),
        ((4, 2), "selects no epoch"),
        ("last", "epochs must be"),
        (True, "epochs must be"),
        ((1, 2, 3), "epochs must be"),
    ],
)
def test_el2n_bad_epoch_windows(epochs, match):
    with pytest.raises(ValueError, match=match):
        get_scorer("el2n")(_records_with_dynamics(), epochs=epochs)


def test_el2n_epoch_window_without_dynamics_raises_records_error():
    with pytest.raises(ValueError, match="training dynamics"):
        get_scorer("el2n")(_records_without_dynamics(), epochs=(0, 2))


@pytest.mark.parametrize("name", ["forgetting", "aum", "dyn_unc", "tdds", "dual"])
def test_dynamics_scorers_without_dynamics_raise(name):
    with pytest.raises(ValueError, match="LogisticRegression.*training dynamics"):
        get_scorer(name)(_records_without_dynamics())


def test_unknown_param_raises_type_error_naming_scorer_and_params():
    rec = _records_with_dynamics()
    expected = r"'tdds'.*\['windw'\].*\['window', 'beta', 'horizon'\]"
    with pytest.raises(TypeError, match=expected):
        get_scorer("tdds")(rec, windw=3)
    with pytest.raises(TypeError, match=r"'loss'.*valid parameters: \[\]"):
        get_scorer("loss")(rec, epochs=2)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"'el2m'.*'el2n'.*'forgetting'"):
        get_scorer("el2m")


def test_get_scorer_rejects_non_callables():
    with pytest.raises(ValueError, match="callable"):
        get_scorer(3)


def test_get_scorer_passes_scorers_through_and_maps_array_functions():
    scorer = Scorer("x", lambda records: records.proba[:, 0])
    assert get_scorer(scorer) is scorer
    assert get_scorer(el2n) is get_scorer("el2n")
    assert get_scorer(forgetting) is get_scorer("forgetting")


def test_callable_is_wrapped_with_its_name():
    def prob_of_zero(records):
        return records.proba[:, 0]

    scorer = get_scorer(prob_of_zero)
    assert scorer.name == "prob_of_zero" and scorer.needs_dynamics is False
    np.testing.assert_allclose(scorer(_records_without_dynamics()), [0.9, 0.5, 0.8])


def test_partial_is_wrapped_and_its_params_checked():
    def power(records, exponent, scale=1.0):
        return scale * records.proba[:, 0] ** exponent

    scorer = get_scorer(functools.partial(power, exponent=2))
    assert scorer.name == "partial"
    np.testing.assert_allclose(
        scorer(_records_without_dynamics(), scale=2.0), [1.62, 0.5, 1.28]
    )
    with pytest.raises(TypeError, match="scale"):
        scorer(_records_without_dynamics(), shift=1)


def test_kwargs_scorer_accepts_any_param():
    scorer = Scorer("any", lambda records, **kw: np.full(records.n_samples, kw["v"]))
    assert scorer.params is None
    np.testing.assert_allclose(scorer(_records_without_dynamics(), v=2), [2, 2, 2])


def test_register_custom_scorer_and_duplicates():
    def one_minus_p_max(records):
        return 1.0 - records.proba.max(axis=1)

    registered = register_scorer("one_minus_p_max", one_minus_p_max)
    assert "one_minus_p_max" in available_scorers()
    assert get_scorer("one_minus_p_max") is registered
    np.testing.assert_allclose(registered(_records_without_dynamics()), [0.1, 0.5, 0.2])
    with pytest.raises(ValueError, match="already registered"):
        register_scorer("one_minus_p_max", one_minus_p_max)
    with pytest.raises(ValueError, match="already registered"):
        register_scorer("el2n", one_minus_p_max)
    replaced = register_scorer("el2n", one_minus_p_max, overwrite=True)
    assert get_scorer("el2n") is replaced


@pytest.mark.parametrize("name", ["", None, 3])
def test_register_rejects_bad_names(name):
    with pytest.raises(ValueError, match="non-empty string"):
        register_scorer(name, lambda records: records.proba[:, 0])


def test_register_rejects_non_callables():
    with pytest.raises(TypeError, match="callable"):
        register_scorer("nope", 3)


def test_extras_are_checked_before_the_call():
    calls = []

    def by_embedding(records):
        calls.append(1)
        return np.linalg.norm(records.extra("embedding"), axis=1)

    scorer = register_scorer("by_embedding", by_embedding, extras=("embedding",))
    with pytest.raises(ValueError, match="'embedding'"):
        scorer(_records_without_dynamics())
    assert calls == []
    rec = _records_without_dynamics()
    rec.extras["embedding"] = np.array([[3.0, 4.0], [0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_allclose(scorer(rec), [5.0, 1.0, 1.0])


@pytest.mark.parametrize(
    "output, match",
    [
        (np.zeros(2), r"shape \(2,\); expected \(3,\)"),
        (np.zeros((3, 1)), "shape"),
        (np.array([0.0, np.nan, 1.0]), "NaN"),
        (np.array([0.0, np.inf, 1.0]), "infinite"),
    ],
)
def test_scorer_output_is_validated(output, match):
    scorer = Scorer("broken", lambda records: output)
    with pytest.raises(ValueError, match=match) as error:
        scorer(_records_without_dynamics())
    assert "'broken'" in str(error.value)


def test_scorer_output_is_float64():
    scorer = Scorer("ints", lambda records: np.arange(records.n_samples))
    out = scorer(_records_without_dynamics())
    assert out.dtype == np.float64 and out.tolist() == [0.0, 1.0, 2.0]
