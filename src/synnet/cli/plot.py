"""``synnet train --plot``: the loss curves as an image (matplotlib, the ``plot`` extra)."""

from __future__ import annotations

from pathlib import Path

from synnet.errors import ConfigError
from synnet.io.atomic import atomic_write

PLOT_FORMATS = (".png", ".svg", ".pdf")


def check_plot_path(path: str) -> None:
    """Fail before training when --plot cannot work (format, folder, matplotlib)."""
    if Path(path).suffix.lower() not in PLOT_FORMATS:
        raise ConfigError(f"--plot {path}: the file must end in {', '.join(PLOT_FORMATS)}")
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise ImportError("--plot needs matplotlib; install it with pip install matplotlib "
                          "(from a clone of synnet: pip install -e '.[plot]')")


def plot_history(history: dict[str, list[float]], path: str, title: str = "",
                 best_epoch: int | None = None) -> None:
    """Loss curves (train and validation) per epoch, written atomically to ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for key, label in (("loss", "train"), ("val_loss", "validation")):
        if key in history:
            values = history[key]
            ax.plot(range(1, len(values) + 1), values, label=label)
    if best_epoch is not None:
        ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best (epoch {best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if title:
        ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fmt = Path(path).suffix.lower().lstrip(".")
    atomic_write(path, lambda f: fig.savefig(f, format=fmt))
