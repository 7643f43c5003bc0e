"""synnet.dask on a real LocalCluster: 2 worker processes with 1 thread each.

The cluster starts once for the module and is always closed. Work stealing is
off, so a task runs where its inputs are and the tests know which worker holds
which rows.
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import Any

import numpy as np
import pytest

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
import dask.array as da  # noqa: E402
import dask.dataframe as dd  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402

import dask_cluster  # noqa: E402
import synnet  # noqa: E402
import synnet.dask as sd  # noqa: E402
from synnet.core.optimizers import Adam  # noqa: E402
from synnet.errors import DataError  # noqa: E402

client = dask_cluster.client  # the shared LocalCluster fixture

# Short fits on purpose: the comparisons are between equally short fits.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _pinned(client: distributed.Client, arrays: list[np.ndarray], n_parts: int
            ) -> tuple[list[Any], list[list[np.ndarray]]]:
    """Dask arrays cut into n_parts row blocks, block k made on worker k % n_workers."""
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    cuts = np.array_split(np.arange(len(arrays[0])), n_parts)
    out, blocks = [], []
    for a in arrays:
        # allow_other_workers: a block lost with its worker is recomputed elsewhere.
        parts = [client.submit(np.array, a[c], workers=[workers[k % len(workers)]],
                               allow_other_workers=True) for k, c in enumerate(cuts)]
        out.append(da.concatenate([da.from_delayed(dask.delayed(f), (len(c), *a.shape[1:]),
                                                   a.dtype) for f, c in zip(parts, cuts)]))
        blocks.append([a[c] for c in cuts])
    return out, blocks


def _net(seed: int) -> synnet.Network:
    return synnet.Network([synnet.Dense(6, 12, "tanh"), synnet.Dense(12, 3, "softmax")],
                          seed=seed, dtype="float64")


def test_gradient_mode_equals_one_process(client: distributed.Client) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(257, 6))
    y = rng.integers(0, 3, 257)
    w = rng.uniform(0.5, 2.0, 257)
    (Xd, yd, wd), (xb, yb, wb) = _pinned(client, [X, y, w], 2)
    epochs, batch, l2 = 2, 40, 0.01
    dist = _net(1)
    history = sd.fit(dist, Xd, yd, client=client, loss="categorical_crossentropy",
                     optimizer=Adam(0.02), epochs=epochs, batch_size=batch, shuffle=False,
                     sample_weight=wd, l2=l2, steps_per_round=4)
    # One process, on the same global batches: worker k's slice s of its rows, joined.
    ref, opt = _net(1), Adam(0.02)
    steps = int(np.ceil(len(X) / batch))
    ref_losses = []
    for _ in range(epochs):
        total = weight = 0.0
        for s in range(steps):
            rows = [slice(s * len(b) // steps, (s + 1) * len(b) // steps) for b in xb]
            xs = np.concatenate([b[r] for b, r in zip(xb, rows)])
            ys = np.concatenate([b[r] for b, r in zip(yb, rows)])
            ws = np.concatenate([b[r] for b, r in zip(wb, rows)])
            value, grads = ref.loss_and_grads(xs, ys, "categorical_crossentropy",
                                              sample_weight=ws, l2=l2)
            opt.step(ref.params, grads)
            total += value * ws.sum()
            weight += ws.sum()
        ref_losses.append(total / weight)
    for name, p in ref.params.items():
        np.testing.assert_allclose(dist.params[name], p, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(history["loss"], ref_losses, rtol=1e-6)
    assert dist.optimizer is not None and dist.optimizer.iterations == epochs * steps


def _digits() -> tuple[np.ndarray, ...]:
    X, y = load_digits(return_X_y=True)
    return tuple(train_test_split(X / 16.0, y, test_size=0.3, random_state=0))


PARAMS = {"hidden_layer_sizes": (32,), "max_iter": 40, "batch_size": 64,
          "learning_rate_init": 0.01, "random_state": 0}


def test_local_sgd_reaches_one_process_accuracy(client: distributed.Client) -> None:
    X_tr, X_te, y_tr, y_te = _digits()
    local = synnet.MLPClassifier(**PARAMS).fit(X_tr, y_tr)
    est = sd.DaskMLPClassifier(**PARAMS, client=client, mode="local_sgd", steps_per_round=20)
    est.fit(da.from_array(X_tr, chunks=(320, 64)), da.from_array(y_tr, chunks=320))
    acc_local = local.score(X_te, y_te)
    acc_dask = float(est.score(da.from_array(X_te, chunks=200),
                               da.from_array(y_te, chunks=200)).compute())
    assert acc_dask >= acc_local - 0.02, (acc_dask, acc_local)
    assert est.to_local().score(X_te, y_te) == pytest.approx(acc_dask)


def test_to_local_exports_to_onnx(client: distributed.Client) -> None:
    ort = pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")
    from synnet.onnx import register_skl2onnx

    X_tr, X_te, y_tr, _ = _digits()
    est = sd.DaskMLPClassifier(**{**PARAMS, "max_iter": 3}, client=client, mode="local_sgd")
    est.fit(da.from_array(X_tr, chunks=(320, 64)), da.from_array(y_tr, chunks=320))
    register_skl2onnx()
    proto = skl2onnx.to_onnx(est.to_local(), X_te[:1], options={"zipmap": False})
    session = ort.InferenceSession(proto.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    label, proba = session.run(["label", "probabilities"], {"X": X_te})
    want = est.predict_proba(da.from_array(X_te, chunks=200)).compute()
    np.testing.assert_allclose(proba, want, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(label, est.predict(da.from_array(X_te, chunks=200)).compute())


def test_dataframe_with_categories_and_model_file(client: distributed.Client,
                                                  tmp_path: Any) -> None:
    X_tr, X_te, y_tr, y_te = _digits()
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    cols = [f"px{i}" for i in range(64)]
    frame = pd.DataFrame(X_tr, columns=cols)
    labels = pd.Series(pd.Categorical(names[y_tr]), name="digit")
    Xd = dd.from_pandas(frame, npartitions=4)
    yd = dd.from_pandas(labels, npartitions=4)
    est = sd.DaskMLPClassifier(**{**PARAMS, "max_iter": 15}, client=client, mode="local_sgd")
    est.fit(Xd, yd)
    assert sorted(est.classes_) == sorted(names)
    test_frame = pd.DataFrame(X_te, columns=cols)
    pred = est.predict(dd.from_pandas(test_frame, npartitions=3)).compute()
    assert isinstance(pred, np.ndarray) and len(pred) == len(X_te)
    assert np.mean(pred == names[y_te]) > 0.8
    proba = est.predict_proba(dd.from_pandas(test_frame, npartitions=3)).compute()
    assert proba.shape == (len(X_te), 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "X does not have valid feature names"
        accuracy = est.score(dd.from_pandas(test_frame, npartitions=3),
                             dd.from_pandas(pd.Series(names[y_te]), npartitions=3)).compute()
    assert accuracy == pytest.approx(np.mean(pred == names[y_te]))
    # to_local() and a model file give the same predictions as the cluster.
    path = tmp_path / "digits.synnet"
    est.to_local().save(path)
    np.testing.assert_array_equal(synnet.load(path).predict(test_frame), pred)
    reloaded = synnet.MLPClassifier.load(path)
    np.testing.assert_allclose(reloaded.predict_proba(test_frame), proba, rtol=1e-12)
    # A categorical *feature* needs encoding first; the error says how.
    with_cat = Xd.assign(colour=dd.from_pandas(
        pd.Series(pd.Categorical(["a", "b"] * (len(frame) // 2) + ["a"] * (len(frame) % 2))),
        npartitions=4))
    with pytest.raises(DataError, match="get_dummies"):
        est.fit(with_cat, yd)


def test_regressor_and_bad_input(client: distributed.Client) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1
    est = sd.DaskMLPRegressor(hidden_layer_sizes=(16,), max_iter=30, random_state=0,
                              learning_rate_init=0.02, client=client, mode="local_sgd")
    Xd, yd = da.from_array(X, chunks=100), da.from_array(y, chunks=100)
    est.fit(Xd, yd)
    r2 = float(est.score(Xd, yd).compute())
    assert r2 == pytest.approx(est.to_local().score(X, y), rel=1e-9)
    assert r2 > 0.9
    with pytest.raises(DataError, match="dask array"):
        est.fit(X, y)
    with pytest.raises(DataError, match="same row partitions"):
        est.fit(Xd, da.from_array(y, chunks=200))
    with pytest.raises(synnet.errors.ConfigError, match="lbfgs"):
        sd.DaskMLPRegressor(solver="lbfgs", client=client).fit(Xd, yd)


class _KillOnce(synnet.Callback):
    """After the first epoch, makes a worker exit 0.3 s later (mid-round).

    The victim is the first worker by address, which hosts the all-reduce actor:
    the survivor must notice that its peer exchange died, not only the client.
    """

    def __init__(self, client: distributed.Client) -> None:
        self.client = client
        self.done = False

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.done:
            return
        self.done = True
        victim = sorted(self.client.scheduler_info(n_workers=-1)["workers"])[0]
        self.client.run(_exit_soon, workers=[victim])


def _exit_soon() -> None:
    threading.Timer(0.3, os._exit, (1,)).start()


def test_worker_killed_mid_fit_completes_with_warning(client: distributed.Client) -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(6000, 20))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    (Xd, yd), _ = _pinned(client, [X, y], 4)
    est = sd.DaskMLPClassifier(hidden_layer_sizes=(64,), batch_size=100, max_iter=3,
                               random_state=0, client=client, callbacks=[_KillOnce(client)])
    with pytest.warns(sd.WorkerLostWarning, match="left the cluster|exchange"):
        est.fit(Xd, yd)
    assert est.n_iter_ == 3
    assert float(est.score(Xd, yd).compute()) > 0.9
    client.wait_for_workers(2, timeout=60)  # the nanny restarts it for the next tests


def test_lost_scattered_data_is_a_clear_error(client: distributed.Client) -> None:
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    X = np.random.default_rng(3).normal(size=(100, 6))
    fx = client.scatter(X, workers=workers[:1])
    fy = client.scatter(np.arange(100) % 3, workers=workers[:1])
    Xd = da.from_delayed(dask.delayed(fx), X.shape, X.dtype)
    yd = da.from_delayed(dask.delayed(fy), (100,), np.int64)
    client.run(os._exit, 1, workers=workers[:1], on_error="ignore")
    with pytest.raises(DataError, match="lost with their worker"):
        sd.fit(_net(0), Xd, yd, client=client, loss="categorical_crossentropy")
    client.wait_for_workers(2, timeout=60)


def test_grid_search_on_the_dask_joblib_backend(client: distributed.Client) -> None:
    import joblib

    X_tr, _, y_tr, _ = _digits()
    X_tr, y_tr = X_tr[:600], y_tr[:600]
    grid = {"alpha": [1e-4, 1e-2]}
    est = synnet.MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0)
    with joblib.parallel_backend("dask"):
        on_cluster = GridSearchCV(est, grid, cv=2, n_jobs=-1).fit(X_tr, y_tr)
    here = GridSearchCV(est, grid, cv=2, n_jobs=1).fit(X_tr, y_tr)
    np.testing.assert_allclose(on_cluster.cv_results_["mean_test_score"],
                               here.cv_results_["mean_test_score"])
    assert on_cluster.best_params_ == here.best_params_


@pytest.mark.parametrize("n", [0, 1, 5, 17, 100])
@pytest.mark.parametrize("steps", [1, 3, 7, 20])
def test_plan_slices_visit_every_row_once_per_epoch(n: int, steps: int) -> None:
    from synnet.dask.plan import epoch_order, step_rows

    order = epoch_order(n, seed=3, epoch=2, rank=1, shuffle=True)
    slices = [step_rows(order, steps, s) for s in range(steps)]
    np.testing.assert_array_equal(np.sort(np.concatenate(slices)), np.arange(n))
    assert max(map(len, slices)) - min(map(len, slices)) <= 1  # shares as even as can be
    again = epoch_order(n, seed=3, epoch=2, rank=1, shuffle=True)
    np.testing.assert_array_equal(order, again)  # every worker can recompute its rows


def test_bad_settings_fail_before_any_work() -> None:
    net = _net(0)
    X, y = da.ones((8, 6)), da.zeros(8)
    for kwargs, param in (({"mode": "ring"}, "mode"), ({"seed": "x"}, "seed"),
                          ({"steps_per_round": 0}, "steps_per_round")):
        with pytest.raises(synnet.errors.ConfigError) as info:
            sd.fit(net, X, y, **kwargs)
        assert param in info.value.params
    with pytest.raises(DataError, match="dask array"):
        sd.fit(net, np.ones((8, 6)), y)


class _StopAfter(synnet.Callback):
    """Ctrl-C at the end of epoch ``epoch`` (before the checkpoint of that epoch is written)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, epoch: int, logs: Any) -> None:
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_checkpoint_resume_equals_uninterrupted_run(client: distributed.Client,
                                                     tmp_path: Any) -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(203, 6))
    y = rng.integers(0, 3, 203)
    (Xd, yd), _ = _pinned(client, [X, y], 3)
    kw: dict[str, Any] = dict(client=client, loss="categorical_crossentropy",
                              optimizer="adam", epochs=4, batch_size=32,
                              steps_per_round=4)  # several rounds per epoch, shuffled
    whole = _net(1)
    expected = sd.fit(whole, Xd, yd, **kw)
    ckpt = tmp_path / "ckpt"
    first = _net(1)
    with pytest.raises(KeyboardInterrupt):
        sd.fit(first, Xd, yd, **kw, callbacks=[synnet.Checkpoint(ckpt), _StopAfter(2)])
    assert sorted(p.name for p in ckpt.iterdir()) == ["ckpt-00000001.synnet",
                                                       "ckpt-00000002.synnet"]
    # A fresh process would build the network anew: another seed must not matter, since
    # the weights, optimizer, shuffling seed and the ranks' parts come from the checkpoint.
    resumed_net = _net(7)
    resume = synnet.Checkpoint(ckpt, resume=True)
    history = sd.fit(resumed_net, Xd, yd, **kw, callbacks=[resume])
    assert resume.resumed_from == 2 and resumed_net.epochs_trained == 4
    assert history.epoch == expected.epoch == [0, 1, 2, 3]
    np.testing.assert_array_equal(history.history["loss"], expected.history["loss"])
    for name, value in whole.get_weights().items():
        np.testing.assert_array_equal(resumed_net.get_weights()[name], value, err_msg=name)
    # Other settings or data are refused before any work, naming what differs.
    with pytest.raises(synnet.errors.ResumeError, match="batch_size was 32, now 16"):
        sd.fit(_net(1), Xd, yd, **{**kw, "batch_size": 16},
               callbacks=[synnet.Checkpoint(ckpt, resume=True)])
    with pytest.raises(synnet.errors.ResumeError, match="training data differ"):
        sd.fit(_net(1), Xd, (yd + 1) % 3, **kw, callbacks=[synnet.Checkpoint(ckpt, resume=True)])


@pytest.mark.parametrize("rows", [[5], [0, 3, 0, 4], [10, 10, 10, 10, 1], [1, 100, 1], [7] * 9])
@pytest.mark.parametrize("n_ranks", [1, 2, 3, 8])
def test_rank_groups_are_consecutive_non_empty_parts(rows: list[int], n_ranks: int) -> None:
    from synnet.dask.plan import rank_groups
    groups = rank_groups(rows, n_ranks)
    assert [i for g in groups for i in g] == [i for i, r in enumerate(rows) if r]
    assert all(groups) and len(groups) <= n_ranks
    assert groups == rank_groups(list(rows), n_ranks)  # decided by the rows alone
    if n_ranks == 2 and rows == [10, 10, 10, 10, 1]:
        assert groups == [[0, 1], [2, 3, 4]]


def test_estimator_with_checkpoint_resumes(client: distributed.Client, tmp_path: Any) -> None:
    X, y = (np.random.default_rng(5).normal(size=(120, 4)),
            np.random.default_rng(6).integers(0, 2, 120))
    Xd, yd = da.from_array(X, chunks=60), da.from_array(y, chunks=60)
    kw: dict[str, Any] = dict(client=client, hidden_layer_sizes=(8,), max_iter=3,
                              random_state=0, batch_size=30)
    whole = sd.DaskMLPClassifier(**kw).fit(Xd, yd)
    ckpt = tmp_path / "est"
    with pytest.raises(KeyboardInterrupt):
        sd.DaskMLPClassifier(**kw, callbacks=[synnet.Checkpoint(ckpt), _StopAfter(1)]).fit(Xd, yd)
    resume = synnet.Checkpoint(ckpt, resume=True)
    resumed = sd.DaskMLPClassifier(**kw, callbacks=[resume]).fit(Xd, yd)
    assert resume.resumed_from == 1
    for a, b in zip(resumed.coefs_ + resumed.intercepts_, whole.coefs_ + whole.intercepts_):
        np.testing.assert_array_equal(a, b)


def _contribute(reducer: Any, rank: int, steps: int) -> list[Any]:
    rng = np.random.default_rng(rank)
    return [reducer.allreduce(step, rank, ({"W": rng.normal(size=(3, 4)),
                                            "b": rng.normal(size=4)}, float(rank), 1.0)
                              ).result(timeout=30) for step in range(steps)]


def _tree_sum(own: list[dict[str, np.ndarray]], r: int) -> dict[str, np.ndarray]:
    """Rank r's own part, then each child's subtotal added in order: the tree's order."""
    from synnet.dask.reducer import children

    total = {k: v.copy() for k, v in own[r].items()}
    for child in children(r, len(own)):
        for k, v in _tree_sum(own, child).items():
            total[k] += v
    return total


def test_tree_allreduce_gives_every_rank_the_same_fixed_order_sum() -> None:
    """Five ranks: an interior node (rank 1: children 3, 4), a leaf under the root (2)."""
    from synnet.dask.reducer import start_tree

    n, steps = 5, 3
    with distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster, timeout=30) as c:
        workers = sorted(c.scheduler_info(n_workers=-1)["workers"])
        actors = start_tree(c, workers, 30.0)
        got = c.gather([c.submit(_contribute, actors[r], r, steps, workers=[w], pure=False)
                        for r, w in enumerate(workers)])
    rngs = [np.random.default_rng(r) for r in range(n)]
    for step in range(steps):
        own = [{"W": g.normal(size=(3, 4)), "b": g.normal(size=4)} for g in rngs]

        tree = _tree_sum(own, 0)
        for rank in range(n):
            grads, loss, weight = got[rank][step]
            assert (loss, weight) == (float(sum(range(n))), float(n))
            for k in tree:  # the same bits on every rank; the sum of every rank's part
                np.testing.assert_array_equal(grads[k], got[0][step][0][k])
                np.testing.assert_allclose(grads[k], sum(o[k] for o in own), rtol=1e-12)
                np.testing.assert_array_equal(grads[k], tree[k])
