"""Text the command line prints: the training summary, evaluation and inspection reports."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeGuard

from synnet.io.model_file import ModelFile
from synnet.tabular.model import Model


def _num(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if abs(v) < 1e6 else f"{v:.{digits}g}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def table(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None,
          indent: str = "", left: int = 1) -> str:
    """Rows of cells as aligned text: the first ``left`` columns left-aligned, the rest right."""
    cells = [[_num(c) if not isinstance(c, str) else c for c in row] for row in rows]
    if header is not None:
        cells.insert(0, list(header))
    widths = [max(len(row[j]) for row in cells) for j in range(len(cells[0]))]
    lines = []
    for row in cells:
        parts = [c.ljust(w) if j < left else c.rjust(w)
                 for j, (c, w) in enumerate(zip(row, widths))]
        lines.append(indent + "  ".join(parts).rstrip())
    return "\n".join(lines)


_LABELS = {"rows": "rows", "accuracy": "accuracy", "log_loss": "log loss", "r2": "R²",
           "mae": "MAE", "rmse": "RMSE"}


def scores_table(scores: dict[str, dict[str, Any]]) -> str:
    """Metrics side by side for each data part (train, valid, test)."""
    parts = list(scores)
    keys = [k for k in _LABELS if any(k in scores[p] for p in parts)]
    rows = [[_LABELS[k]] + [scores[p].get(k) for p in parts] for k in keys]
    return table(rows, header=["", *parts])


def train_summary(result: Any) -> str:
    """The table and facts ``synnet train`` prints after training."""
    lines = [f"{describe_target(result.model)} - task: {result.task_reason}"]
    if not result.n_valid:
        lines.append("no validation rows" + (" (too few rows to hold some out)"
                                              if result.settings.valid_fraction else ""))
    lines.append(scores_table(result.scores))
    stop = ""
    if result.best_epoch is not None and result.epochs_run < result.settings.epochs:
        stop = f" (early stopping; best weights from epoch {result.best_epoch})"
    elif result.best_epoch is not None:
        stop = f" (best weights from epoch {result.best_epoch})"
    lines.append(f"epochs {result.epochs_run} of {result.settings.epochs}{stop}, "
                 f"{result.seconds:.2f} s, {result.model.network.count_params():,} parameters, "
                 f"seed {result.settings.seed}")
    return "\n".join(lines)


def describe_target(model: Model) -> str:
    target = model.target
    if target is None:
        return "no target information (raw network outputs)"
    name = f" {target.name!r}" if target.name else ""
    if target.task == "classification":
        assert target.classes is not None
        shown = ", ".join(str(c) for c in target.classes[:10])
        more = ", ..." if len(target.classes) > 10 else ""
        return f"classification of{name} ({len(target.classes)} classes: {shown}{more})"
    return f"regression of{name}"


def classification_text(report: dict[str, Any], classes: Any) -> str:
    """Accuracy beside the majority-class baseline (the accuracy of always predicting the
    most frequent class), log loss, ROC AUC and average precision for two classes,
    per-class precision/recall/F1 and the confusion matrix."""
    labels = [str(c) for c in classes]
    rows = [["rows", report["rows"]], ["accuracy", report["accuracy"]],
            ["majority class", report["majority_baseline"]], ["log loss", report["log_loss"]]]
    if "roc_auc" in report:
        rows += [[f"ROC AUC ({labels[1]} vs {labels[0]})", report["roc_auc"]],
                 ["average precision", report["average_precision"]]]
    lines = [table(rows)]
    if report.get("unknown_rows"):
        lines.append(f"({report['unknown_rows']} row(s) with labels the model never saw count "
                     "as wrong in accuracy and are left out of the other scores)")
    pc = report["per_class"]
    lines += ["", table([[label, pc["precision"][i], pc["recall"][i], pc["f1"][i],
                          pc["support"][i]] for i, label in enumerate(labels)],
                        header=["class", "precision", "recall", "F1", "support"])]
    lines += ["", "confusion matrix (rows: true class, columns: predicted class)",
              table([[label, *row] for label, row in zip(labels, report["confusion_matrix"])],
                    header=["", *labels])]
    return "\n".join(lines)


def regression_text(report: dict[str, Any]) -> str:
    return table([["rows", report["rows"]], ["R²", report["r2"]], ["MAE", report["mae"]],
                  ["RMSE", report["rmse"]]])


def inspect_text(path: str, loaded: ModelFile) -> str:
    """Architecture, parameters, training settings, data schema and history summary."""
    header = loaded.header
    model = Model.from_file(loaded)
    network = loaded.network
    lines = [f"model file   {path}",
             f"format       {header['format']} version {header['format_version']}, written by "
             f"synnet {header['library_version']}",
             f"task         {describe_target(model)}",
             f"parameters   {network.count_params():,} "
             f"({network.dtype.name if network.dtype else 'float64'})",
             f"loss         {header.get('loss') or 'n/a'}",
             "", "architecture", network.summary()]
    pre = model.preprocessor
    if pre is not None:
        lines += ["", f"features     {len(pre.columns)} column(s) -> {pre.n_outputs} network "
                      f"input(s); missing values: "
                      f"{'imputed (' + pre.impute + ')' if pre.impute else 'an error'}"]
        rows = []
        for c in pre.columns:
            if c["kind"] == "numeric":
                detail = f"mean {c['mean']:.6g}, scale {c['scale']:.6g}"
            elif c["kind"] == "datetime":
                detail = f"parts: {', '.join(c['parts'])}"
            else:
                cats = ", ".join(c["categories"][:8])
                more = ", ..." if len(c["categories"]) > 8 else ""
                detail = f"{len(c['categories'])} categories: {cats}{more}"
                if c.get("infrequent"):
                    detail += f"; {len(c['infrequent'])} infrequent, as one input"
            if "fill" in c:
                detail += f"; fill {c['fill']!r}"
            rows.append([c["name"], c["kind"], detail])
        lines.append(table(rows, indent="  ", left=3))
    elif model.feature_names:
        lines += ["", f"features     {', '.join(model.feature_names)}"]
    training = loaded.training
    settings = training.get("settings") if isinstance(training, dict) else None
    if isinstance(settings, dict):
        lines += ["", "training"]
        counts = training.get("rows")
        if not isinstance(counts, dict):
            counts = {}
        facts = [["data", f"{training.get('data')}: {counts.get('train')} training rows, "
                          f"{counts.get('valid')} validation rows"],
                 ["time", f"{training.get('seconds')} s, {training.get('epochs_run')} epochs"]]
        shown = ["hidden", "activation", "dropout", "optimizer", "lr", "momentum", "l2",
                 "batch_size", "epochs", "patience", "valid_fraction", "seed", "impute", "dtype",
                 "class_weight", "categorical", "features", "drop"]
        facts += [[k.replace("_", " "), _setting(settings[k], k)] for k in shown
                  if k in settings and not (isinstance(settings[k], list) and not settings[k])]
        lines.append(table(facts, indent="  ", left=2))
    elif training:
        lines += ["", "training", table([[k, str(v)] for k, v in training.items()],
                                        indent="  ", left=2)]
    scores = training.get("scores") if isinstance(training, dict) else None
    if _is_scores(scores):
        lines += ["", "scores at the end of training", scores_table(scores)]
    elif scores is not None:
        lines += ["", "scores       (not in the form synnet writes them; see --json)"]
    lines += ["", history_text(loaded)]
    return "\n".join(lines)


def _is_scores(scores: Any) -> TypeGuard[dict[str, dict[str, Any]]]:
    """Whether ``scores`` (free JSON from a file) is {part: {metric: number or null}}."""
    return isinstance(scores, dict) and bool(scores) and all(
        isinstance(part, dict) and all(
            v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
            for v in part.values()) for part in scores.values())


def _setting(value: Any, key: str) -> str:
    if value is None:
        return "none" if key in ("impute", "class_weight") else "default"
    if isinstance(value, list):
        return ",".join(map(str, value)) if value else "none"
    return str(value)


def history_text(loaded: ModelFile) -> str:
    history = loaded.network.history
    if history is None or not history.epoch:
        return "history      none saved"
    n = len(history.epoch)
    lines = [f"history      {n} epoch(s)"]
    best_epoch = loaded.training.get("best_epoch") if isinstance(loaded.training, dict) else None
    if isinstance(best_epoch, int) and not isinstance(best_epoch, bool) and best_epoch > 0:
        lines[0] += f", best weights from epoch {best_epoch}"
    rows = []
    for key, values in history.history.items():
        finite = [v for v in values if not math.isnan(v)]
        if not finite:
            continue
        pick = max if "acc" in key else min
        best = pick(finite)
        rows.append([key, values[0], values[-1], best, values.index(best) + 1])
    if rows:
        lines.append(table(rows, header=["", "first", "last", "best", "at epoch"], indent="  "))
    return "\n".join(lines)
