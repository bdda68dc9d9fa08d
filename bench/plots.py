"""PNG figures for the accuracy report (matplotlib, Agg backend: no display needed).

Every error bar is the 95% interval the report's table gives for the same figure.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from bench import metrics
from bench.scoring import (
    EMOTIONS,
    AgeResult,
    DetectionResult,
    EmotionResult,
    FalseMatchResult,
    GenderResult,
    VerificationResult,
)

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")
DPI = 110


def _save(fig: plt.Figure, path: Path, legend_below: bool = False) -> Path:
    """Write the PNG; ``legend_below`` moves the first axis' legend under the plots."""
    if legend_below:
        handles, labels = fig.axes[0].get_legend_handles_labels()
        for ax in fig.axes:
            if ax.get_legend() is not None:
                ax.get_legend().remove()
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
        fig.tight_layout(rect=(0, 0.07, 1, 1))
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        return path
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _yerr(values: list[float], cis: list[tuple[float, float]]) -> np.ndarray:
    lo = [
        max(0.0, v - c[0]) if np.isfinite(c[0]) else 0.0 for v, c in zip(values, cis, strict=True)
    ]
    hi = [
        max(0.0, c[1] - v) if np.isfinite(c[1]) else 0.0 for v, c in zip(values, cis, strict=True)
    ]
    return np.array([lo, hi])


def verification_curves(results: dict[str, VerificationResult], path: Path) -> Path:
    """ROC (TAR against FAR) and DET (FNMR against FMR), log axes, one line per system."""
    fig, (roc, det) = plt.subplots(1, 2, figsize=(11, 4.6))
    for colour, (name, res) in zip(COLOURS, results.items(), strict=False):
        _, far, frr = metrics.det_curve(res.scores, res.same)
        seen = far > 0  # log axes cannot show a zero rate
        roc.plot(far[seen], 1 - frr[seen], color=colour, label=name, drawstyle="steps-post")
        both = seen & (frr > 0)
        det.plot(far[both], frr[both], color=colour, label=name, drawstyle="steps-post")
        for far_level, marker in zip((1e-2, 1e-3), ("o", "s"), strict=True):
            roc.plot(far_level, res.overall.tar[far_level], marker, color=colour)
    roc.set(
        xscale="log",
        xlim=(2e-4, 1),
        ylim=(0.5, 1.005),
        xlabel="false accept rate (FAR)",
        ylabel="true accept rate (TAR)",
        title="ROC (markers: FAR 1e-2, 1e-3)",
    )
    det.set(
        xscale="log",
        yscale="log",
        xlim=(2e-4, 1),
        ylim=(2e-4, 1),
        xlabel="false match rate (FMR)",
        ylabel="false non-match rate (FNMR)",
        title="DET",
    )
    det.plot([1e-4, 1], [1e-4, 1], ":", color="grey", lw=0.8, label="EER line")
    for ax in (roc, det):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right" if ax is roc else "upper right", fontsize=8)
    fig.suptitle(
        "Verification: every same-identity pair + as many different-identity pairs "
        "(rates of 0 cannot show on log axes)"
    )
    return _save(fig, path)


def detection_by_size(results: dict[str, DetectionResult], path: Path) -> Path:
    """Recall per face-width bin (box-labelled photos), one bar per system."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    first = next(iter(results.values()))
    labels = [b for b, _, _ in first.by_size]
    x = np.arange(len(labels))
    width = 0.8 / max(len(results), 1)
    for k, (name, res) in enumerate(results.items()):
        rates = [f / t if t else np.nan for _, f, t in res.by_size]
        cis = [metrics.wilson(f, t) for _, f, t in res.by_size]
        ax.bar(
            x + (k - (len(results) - 1) / 2) * width,
            rates,
            width,
            label=name,
            color=COLOURS[k],
            yerr=_yerr(rates, cis),
            capsize=3,
        )
    ax.set_xticks(x, [f"{b}\n(n={t})" for b, (_, _, t) in zip(labels, first.by_size, strict=True)])
    ax.axvline(2.5, color="grey", ls=":", lw=1)
    ax.text(2.55, 1.02, "product promise: >= 36 px", fontsize=8, color="grey")
    ax.set(
        ylim=(0, 1.1),
        ylabel="recall",
        xlabel="face width in the analysed image (px)",
        title="Detection recall by face size (WIDER FACE subset + dlib box labels)",
    )
    ax.legend(fontsize=8)
    return _save(fig, path)


def age_by_group(result: AgeResult, path: Path) -> Path:
    fig, axes = plt.subplots(1, len(result.groups), figsize=(4 * len(result.groups), 4))
    axes = np.atleast_1d(axes)
    for ax, (name, comp) in zip(axes, result.groups.items(), strict=True):
        groups = list(comp.per_group)
        values = [comp.per_group[g].value for g in groups]
        cis = [comp.per_group[g].ci for g in groups]
        colours = [
            "#d62728" if g == comp.worst else "#2ca02c" if g == comp.best else "#1f77b4"
            for g in groups
        ]
        ax.bar(groups, values, color=colours, yerr=_yerr(values, cis), capsize=3)
        ax.set(title=f"by {name} (worst/best {comp.ratio:.2f}x)", ylabel="age MAE (years)")
        ax.tick_params(axis="x", rotation=30)
        for i, g in enumerate(groups):
            ax.text(i, 0.1, f"n={comp.per_group[g].n}", ha="center", fontsize=7, color="white")
    fig.suptitle(f"Age mean absolute error, {result.source} (95% bootstrap intervals)")
    return _save(fig, path)


def gender_by_group(result: GenderResult, path: Path) -> Path:
    fig, axes = plt.subplots(1, len(result.groups), figsize=(4.5 * len(result.groups), 4))
    axes = np.atleast_1d(axes)
    series = (
        ("answered", "accuracy on answered"),
        ("all_faces", "accuracy on all faces"),
        ("rate", "answer rate"),
    )
    for ax, (name, comp) in zip(axes, result.groups.items(), strict=True):
        groups = list(comp.per_group)
        x = np.arange(len(groups))
        for k, (attr, label) in enumerate(series):
            props = [getattr(comp.per_group[g], attr) for g in groups]
            values = [p.rate for p in props]
            ax.bar(
                x + (k - 1) * 0.27,
                values,
                0.27,
                label=label,
                color=COLOURS[k],
                yerr=_yerr(values, [p.ci for p in props]),
                capsize=2,
            )
        ax.set_xticks(x, [f"{g}\nn={comp.per_group[g].rate.n}" for g in groups], fontsize=8)
        ax.set(ylim=(0.5, 1.02), title=f"by {name} (gap {100 * comp.gap:.1f} pts)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"Gender, {result.source} (95% Wilson intervals)")
    return _save(fig, path, legend_below=True)


def emotion_confusion(result: EmotionResult, path: Path) -> Path:
    counts = result.confusion
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    fig, ax = plt.subplots(figsize=(7.5, 6))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    columns = [*EMOTIONS, "contempt"]
    ax.set_xticks(range(len(columns)), columns, rotation=40, ha="right")
    ax.set_yticks(range(len(EMOTIONS)), [f"{e} (n={rows[i, 0]})" for i, e in enumerate(EMOTIONS)])
    for i in range(share.shape[0]):
        for j in range(share.shape[1]):
            if counts[i, j]:
                ax.text(
                    j,
                    i,
                    f"{100 * share[i, j]:.0f}%\n{counts[i, j]}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if share[i, j] > 0.5 else "black",
                )
    ax.set(
        xlabel="predicted",
        ylabel="true",
        title=f"Emotion confusion ({result.confusion_source}; rows sum to 100%)",
    )
    return _save(fig, path)


def false_match_by_group(results: dict[str, FalseMatchResult], path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [5, 2]})
    for ax, attr in zip(axes, ("by_race", "by_gender"), strict=True):
        first = getattr(next(iter(results.values())), attr)
        groups = list(first.per_group)
        x = np.arange(len(groups))
        width = 0.8 / max(len(results), 1)
        for k, (name, res) in enumerate(results.items()):
            comp = getattr(res, attr)
            values = [comp.per_group[g].value for g in groups]
            cis = [comp.per_group[g].ci for g in groups]
            floor = [max(v, 1e-5) for v in values]
            ax.bar(
                x + (k - (len(results) - 1) / 2) * width,
                floor,
                width,
                color=COLOURS[k],
                label=name,
                yerr=_yerr(floor, cis),
                capsize=3,
            )
        ax.set_xticks(x, groups)
        ax.set(
            yscale="log",
            ylabel="false-match rate at the default threshold",
            title=f"{attr.replace('_', ' ')}: worst/best "
            + ", ".join(f"{getattr(r, attr).ratio:.1f}x" for r in results.values()),
        )
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Different adults of the same race and gender judged the same person (UTKFace)")
    return _save(fig, path, legend_below=True)
