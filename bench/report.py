"""The Markdown summary of an evaluation run (what ``make eval`` prints and writes)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from bench import fairness, metrics
from bench.scoring import (
    EMOTIONS,
    AgeResult,
    DetectionResult,
    EmotionResult,
    Estimate,
    FalseMatchResult,
    GenderResult,
    GroupComparison,
    IdentificationResult,
    Proportion,
    VerificationResult,
)


@dataclass
class SystemResults:
    name: str
    version: str
    threshold_label: str
    detection: DetectionResult | None = None
    verification: VerificationResult | None = None
    identification: IdentificationResult | None = None
    false_matches: FalseMatchResult | None = None
    fairness: fairness.FairnessResult | None = None
    pairs: fairness.PairVerification | None = None


@dataclass
class EvalResults:
    data: str
    counts: dict[str, Any]
    run: dict[str, Any]  # date, seconds, machine, load
    ours: SystemResults
    peer: SystemResults | None
    peer_note: str
    age: AgeResult | None = None
    gender: GenderResult | None = None
    emotion: EmotionResult | None = None
    coverage: tuple[int, int] = (0, 0)
    figures: dict[str, str] = field(default_factory=dict)  # title -> file name


# --- formatting ------------------------------------------------------------------------


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def pct(x: float | None, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%" if _finite(x) else "n/a"


def ci_pct(ci: tuple[float, float], digits: int = 1) -> str:
    if not (_finite(ci[0]) and _finite(ci[1])):
        return ""
    return f" [{100 * ci[0]:.{digits}f}, {100 * ci[1]:.{digits}f}]"


def prop(p: Proportion, digits: int = 1) -> str:
    return f"{pct(p.rate, digits)}{ci_pct(p.ci, digits)} ({p.k}/{p.n})"


def years(e: Estimate) -> str:
    return f"{e.value:.2f} [{e.ci[0]:.2f}, {e.ci[1]:.2f}] (n={e.n})"


def small_rate(e: Estimate) -> str:
    return f"{pct(e.value, 3)}{ci_pct(e.ci, 3)} ({e.n} pairs)"


def times(x: float) -> str:
    if not _finite(x):
        return "n/a"
    return f"{x:.2f}x" if x < 100 else f"{x:.0f}x"


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(header: tuple[str, ...], rows: list[tuple[object, ...]]) -> list[str]:
    return [_row(*header), _row(*("---" for _ in header)), *(_row(*r) for r in rows)]


# --- sections ----------------------------------------------------------------------------


def headline(res: EvalResults) -> list[str]:
    ours, peer = res.ours, res.peer
    rows: list[tuple[object, ...]] = []

    def add(label: str, get: Any, fmt: Any, value: Any, higher_is_better: bool = True) -> None:
        a = get(ours)
        b = get(peer) if peer is not None else None
        cell_b = fmt(b) if b is not None else "n/a"
        ratio = metrics.ratio(value(a), value(b)) if a is not None and b is not None else None
        rows.append(
            (
                label,
                fmt(a) if a is not None else "n/a",
                cell_b,
                times(ratio) if ratio is not None else "n/a",
            )
        )

    det = attrgetter("detection")
    ver = attrgetter("verification")
    ident = attrgetter("identification")
    fm = attrgetter("false_matches")
    if ours.detection is not None:
        add(
            "detection recall, labelled photos",
            lambda s: det(s) and Proportion(det(s).labelled.found, det(s).labelled.expected),
            prop,
            lambda p: p.rate,
        )
        add(
            "detection precision, labelled photos",
            lambda s: det(s) and det(s).precision,
            prop,
            lambda p: p.rate,
        )
        add(
            "WIDER FACE easy recall, faces >= 36 px",
            lambda s: (
                det(s)
                and Proportion(
                    det(s).wider["easy_min_face"].found, det(s).wider["easy_min_face"].expected
                )
            ),
            prop,
            lambda p: p.rate,
        )
        add(
            "WIDER FACE easy recall, all faces",
            lambda s: (
                det(s) and Proportion(det(s).wider["easy"].found, det(s).wider["easy"].expected)
            ),
            prop,
            lambda p: p.rate,
        )
    if ours.verification is not None:
        add(
            "verification accuracy at the default threshold",
            lambda s: ver(s) and ver(s),
            lambda v: f"{pct(v.overall.accuracy, 2)}{ci_pct(v.accuracy_ci, 2)}",
            lambda v: v.overall.accuracy,
        )
        add(
            "verification EER (lower is better)",
            lambda s: ver(s) and ver(s),
            lambda v: f"{pct(v.overall.eer, 2)}{ci_pct(v.eer_ci, 2)}",
            lambda v: v.overall.eer,
        )
        for far in (1e-2, 1e-3):
            add(
                f"TAR at FAR {far:g}",
                lambda s: ver(s) and ver(s),
                lambda v, far=far: f"{pct(v.overall.tar[far], 2)}{ci_pct(v.tar_ci[far], 2)}",
                lambda v, far=far: v.overall.tar[far],
            )
    if ours.identification is not None:
        add(
            "identification rank-1 (known probes, seed 0)",
            lambda s: ident(s) and Proportion(ident(s).first.rank1, ident(s).first.known_probes),
            prop,
            lambda p: p.rate,
        )
        add(
            "identified above threshold (open-set DIR)",
            lambda s: (
                ident(s) and Proportion(ident(s).first.identified, ident(s).first.known_probes)
            ),
            prop,
            lambda p: p.rate,
        )
        add(
            "unknown rejection (no candidate for a non-enrolled person)",
            lambda s: (
                ident(s) and Proportion(ident(s).first.rejected, ident(s).first.unknown_probes)
            ),
            prop,
            lambda p: p.rate,
        )
    if ours.false_matches is not None:
        add(
            "false-match rate, same race + gender adults (lower is better)",
            lambda s: fm(s) and fm(s).overall,
            small_rate,
            lambda e: e.value,
        )
        add(
            "false-match rate worst / best race",
            lambda s: fm(s) and fm(s).by_race,
            lambda c: f"{times(c.ratio)} ({c.worst} / {c.best})",
            lambda c: c.ratio,
        )
    if ours.detection is not None:
        add(
            "time per photo, detection only (ms, lower is better)",
            lambda s: det(s) and det(s).ms_per_image,
            lambda x: f"{x:.1f}",
            lambda x: x,
        )
    if ours.verification is not None:
        add(
            "time per photo, detection + embedding (ms)",
            lambda s: ver(s) and ver(s).ms_per_image,
            lambda x: f"{x:.1f}",
            lambda x: x,
        )
    if res.age is not None:
        rows.append(
            (f"age MAE, {res.age.source} (years)", years(res.age.overall), "no age model", "")
        )
    if res.gender is not None:
        g = res.gender.overall
        rows.append(
            (
                f"gender, {res.gender.source}: accuracy on answered / answer rate",
                f"{prop(g.answered)} / {pct(g.rate.rate)}",
                "no gender model",
                "",
            )
        )
        rows.append(
            (
                "gender, all faces (abstentions = errors) / forced choice",
                f"{prop(g.all_faces)} / {pct(g.forced.rate)}",
                "",
                "",
            )
        )
    if res.emotion is not None:
        src = res.emotion.confusion_source
        rows.append(
            (f"emotion accuracy, {src}", prop(res.emotion.per_source[src]), "no emotion model", "")
        )
    peer_name = peer.name if peer is not None else "peer (not run)"
    return [
        "## Headline",
        "",
        f"Peer: {res.peer_note}. Ratios are FaceGate / peer (for rates where lower is better "
        "and for times, below 1 favours FaceGate).",
        "",
        *_table(("figure", ours.name, peer_name, "FaceGate / peer"), rows),
    ]


def detection_section(systems: list[SystemResults]) -> list[str]:
    out = ["## Detection", ""]
    out.append(
        "Labelled photos: the count- and box-labelled dlib, face-api.js and face_recognition "
        "photos; a face is found at IoU >= 0.3 with its hand box (count only where there are "
        "no boxes). Precision = detections that are labelled faces / all detections."
    )
    out.append("")
    sources = sorted({s for sys_ in systems if sys_.detection for s in sys_.detection.per_source})
    header = ("source", *(f"{s.name}: found, false" for s in systems if s.detection))
    rows: list[tuple[object, ...]] = []
    for source in [*sources, "ALL labelled"]:
        cells: list[object] = [source]
        for s in systems:
            if s.detection is None:
                continue
            c = s.detection.labelled if source == "ALL labelled" else s.detection.per_source[source]
            cells.append(f"{c.found}/{c.expected} {pct(c.recall)}, {c.false} false")
        rows.append(tuple(cells))
    for key, label in (
        ("easy", "WIDER easy, all faces"),
        ("medium", "WIDER medium, all faces"),
        ("easy_min_face", "WIDER easy, >= 36 px"),
        ("medium_min_face", "WIDER medium, >= 36 px"),
    ):
        cells = [label]
        for s in systems:
            if s.detection is not None:
                c = s.detection.wider[key]
                interval = ci_pct(metrics.wilson(c.found, c.expected))
                cells.append(f"{c.found}/{c.expected} {pct(c.recall)}{interval}")
        rows.append(tuple(cells))
    cells = ["WIDER unmatched detections"]
    for s in systems:
        if s.detection is not None:
            c = s.detection.wider["all"]
            cells.append(f"{c.false}/{c.detected}")
    rows.append(tuple(cells))
    out += _table(header, rows)
    out += ["", "Recall by face width in the analysed image (valid WIDER faces + dlib boxes):", ""]
    size_rows = []
    first = next(s.detection for s in systems if s.detection)
    for k, (label, _, total) in enumerate(first.by_size):
        cells = [f"{label} px", total]
        for s in systems:
            if s.detection is not None:
                _, f, t = s.detection.by_size[k]
                cells.append(f"{f}/{t} {pct(f / t if t else float('nan'))}")
        size_rows.append(tuple(cells))
    out += _table(("width", "faces", *(s.name for s in systems if s.detection)), size_rows)
    out += [
        "",
        "WIDER FACE copies here were stretched to 416x416 from 1024xH (H unknown): the "
        "y scale is fitted per image and per detector, so counts matter more than IoU.",
    ]
    return out


def verification_section(systems: list[SystemResults]) -> list[str]:
    out = ["## Verification", ""]
    first = next(s.verification for s in systems if s.verification)
    out.append(
        f"Pairs: every same-identity pair ({first.overall.genuine}) and as many random "
        f"different-identity pairs ({first.overall.impostor}, seed 0), over {first.photos} "
        "photos. Each system at its own documented threshold: "
        + "; ".join(f"{s.name}: {s.threshold_label}" for s in systems if s.verification)
        + ". A photo with no face found makes all its pairs 'different'."
    )
    out.append("")
    header = (
        "source",
        "pairs",
        *(f"{s.name}: acc / EER / TAR@1e-2 / TAR@1e-3" for s in systems if s.verification),
    )
    rows = []
    for source in [*sorted(first.per_source), "ALL"]:
        cells: list[object] = [source]
        pairs = first.overall.pairs if source == "ALL" else first.per_source[source].pairs
        cells.append(pairs)
        for s in systems:
            if s.verification is None:
                continue
            v = s.verification.overall if source == "ALL" else s.verification.per_source[source]
            cells.append(
                f"{pct(v.accuracy, 2)} / {pct(v.eer, 2)} / {pct(v.tar[1e-2], 1)} / "
                f"{pct(v.tar[1e-3], 1)}"
            )
        rows.append(tuple(cells))
    out += _table(header, rows)
    out.append("")
    for s in systems:
        if s.verification is None:
            continue
        v = s.verification
        out.append(
            f"- {s.name}: accuracy {pct(v.overall.accuracy, 2)}{ci_pct(v.accuracy_ci, 2)}, EER "
            f"{pct(v.overall.eer, 2)}{ci_pct(v.eer_ci, 2)}, TAR@1e-2 "
            f"{pct(v.overall.tar[1e-2], 2)}{ci_pct(v.tar_ci[1e-2], 2)}, TAR@1e-3 "
            f"{pct(v.overall.tar[1e-3], 2)}{ci_pct(v.tar_ci[1e-3], 2)}; best accuracy over "
            f"thresholds {pct(v.overall.best_accuracy, 2)}; photos with no face: "
            f"{v.missing}/{v.photos}"
        )
    out += [
        "",
        f"FAR 1e-3 of {first.overall.impostor} impostor pairs allows "
        f"{int(first.overall.impostor * 1e-3)} false accept: that TAR is the least stable "
        "figure here (see its interval).",
    ]
    return out


def identification_section(systems: list[SystemResults]) -> list[str]:
    first = next(s.identification for s in systems if s.identification)
    split = first.split
    out = [
        "## Identification (open set)",
        "",
        "Protocol (`bench.metrics.open_set_split`, seed 0): of the verification identities with "
        f"at least 2 photos, a seeded half are enrolled ({len(split.gallery)} people, 1 random "
        f"photo each); their other photos are the known probes ({len(split.known_probes)}); "
        f"every photo of the other identities, singletons included, is an unknown probe "
        f"({len(split.unknown_probes)}). Each probe is searched against the whole gallery "
        "(a person's score = best of their photos). Rank-1: the best candidate is the right "
        "person. Identified: ... and it scores at or above the threshold (open-set DIR). "
        "Unknown rejection: an unknown probe gets no candidate at or above the threshold "
        "(= 1 - FPIR). Mean (min-max) over seeds 0-9 shows how much the split matters. "
        "Scores here are each system's raw 1:1 scores; what `/api/identify` returns "
        "(normalised scores) is the next section.",
        "",
    ]
    rows = []
    for s in systems:
        if s.identification is None:
            continue
        r = s.identification.first
        spread = {
            a: s.identification.spread(a)
            for a in ("rank1_rate", "identified_rate", "rejection_rate")
        }
        rows.append(
            (
                s.name,
                prop(Proportion(r.rank1, r.known_probes)),
                prop(Proportion(r.identified, r.known_probes)),
                prop(Proportion(r.rejected, r.unknown_probes)),
                "; ".join(f"{pct(m)} ({pct(lo)}-{pct(hi)})" for m, lo, hi in spread.values()),
            )
        )
    out += _table(
        (
            "system",
            "rank-1",
            "identified (DIR)",
            "unknown rejection",
            "mean over 10 seeds: rank-1; DIR; rejection",
        ),
        rows,
    )
    return out


def _group_line(comp: GroupComparison, fmt: Any, unit: str) -> str:
    """``unit``: "years" (MAE), "rate" (higher is better) or "error" (lower is better)."""
    cells = ", ".join(f"{g} {fmt(v)}" for g, v in comp.per_group.items())
    gap = f"{comp.gap:.2f} years" if unit == "years" else f"{100 * comp.gap:.1f} points"
    extra = f"; error ratio {times(comp.error_ratio)}" if unit == "rate" else ""
    return f"{cells}. Worst {comp.worst} vs best {comp.best}: {gap}, ratio {comp.ratio:.2f}{extra}"


def false_match_section(systems: list[SystemResults]) -> list[str]:
    first = next(s.false_matches for s in systems if s.false_matches)
    faces = sum(v[0] for v in first.cells.values())
    out = [
        "## False matches between different people, per group (UTKFace adults)",
        "",
        "NIST's demographic finding is about false matches. The verification photos carry no "
        "race or gender labels, so this uses UTKFace: a seeded sample of adults (>= 18) per "
        f"race and gender ({faces} faces), and every pair of two different faces of the SAME "
        "race and gender as an impostor pair (the demographically matched pairs NIST found "
        "hardest). UTKFace has no identity labels: a person photographed twice counts as a "
        "false match, so these are upper bounds, equally for every system. Each system at its "
        "own default threshold; intervals resample people, not pairs.",
        "",
    ]
    for s in systems:
        fm = s.false_matches
        if fm is None:
            continue
        out.append(
            f"**{s.name}**: overall {small_rate(fm.overall)}; faces with no embedding: "
            f"{fm.missing}."
        )
        out.append(f"- by race: {_group_line(fm.by_race, small_rate, 'error')}")
        out.append(f"- by gender: {_group_line(fm.by_gender, small_rate, 'error')}")
        out.append("")
    cells_rows = []
    for key, (n, _, _) in first.cells.items():
        cells: list[object] = [f"{key[0]} / {key[1]}", n]
        for s in systems:
            if s.false_matches is not None:
                _, hits, pairs = s.false_matches.cells[key]
                cells.append(f"{hits}/{pairs} {pct(hits / pairs if pairs else float('nan'), 3)}")
        cells_rows.append(tuple(cells))
    out += _table(
        ("race / gender", "faces", *(s.name for s in systems if s.false_matches)), cells_rows
    )
    return out


def attributes_section(res: EvalResults) -> list[str]:
    out = ["## Attributes (FaceGate only: the peer has no age, gender or emotion model)", ""]
    if res.age is not None:
        out += [
            f"### Age ({res.age.source})",
            "",
            f"MAE {years(res.age.overall)} years [95% bootstrap interval].",
            "",
        ]
        for name, comp in res.age.groups.items():
            out.append(f"- by {name}: {_group_line(comp, years, 'years')}")
        out.append("")
    if res.gender is not None:
        g = res.gender.overall
        out += [
            f"### Gender ({res.gender.source})",
            "",
            f"Accuracy on answered faces {prop(g.answered)}; answered {prop(g.rate)}; all faces "
            f"{prop(g.all_faces)} counting every abstention (`unknown`) as an error; forced "
            f"choice without abstention {prop(g.forced)}.",
            "",
        ]
        rows = []
        for name, comp in res.gender.groups.items():
            for group, f in comp.per_group.items():
                rows.append(
                    (
                        name,
                        group,
                        f.rate.n,
                        prop(f.answered),
                        pct(f.rate.rate),
                        pct(f.all_faces.rate),
                        pct(f.forced.rate),
                    )
                )
        out += _table(
            (
                "grouping",
                "group",
                "faces",
                "accuracy on answered",
                "answered",
                "all faces",
                "forced choice",
            ),
            rows,
        )
        out.append("")
        for name, comp in res.gender.groups.items():
            worst, best = comp.per_group[comp.worst], comp.per_group[comp.best]
            out.append(
                f"- by {name}: worst {comp.worst} {pct(worst.answered.rate)} vs best {comp.best} "
                f"{pct(best.answered.rate)} on answered faces: {100 * comp.gap:.1f} points, "
                f"accuracy ratio {comp.ratio:.3f}, error ratio {times(comp.error_ratio)}"
            )
        out.append("")
    if res.emotion is not None:
        e = res.emotion
        out += ["### Emotion (top class, Azure names)", ""]
        for source, p in e.per_source.items():
            classes = ", ".join(
                f"{c} {pct(q.rate)} (n={q.n})" for c, q in e.per_class[source].items()
            )
            out.append(f"- {source}: {prop(p)}; per class: {classes}")
        out += [
            "",
            f"Confusion matrix ({e.confusion_source}; rows true, columns predicted; "
            "contempt is never predicted: neither model has that class):",
            "",
        ]
        rows = [(t, *e.confusion[i].tolist()) for i, t in enumerate(EMOTIONS)]
        out += _table(("true \\ predicted", *EMOTIONS, "contempt"), rows)
        out += [
            "",
            "No race or gender labels exist for the emotion photos: no per-group emotion figure.",
        ]
    missing, labelled = res.coverage
    out += ["", f"Labelled attribute photos with no face analysed: {missing}/{labelled}."]
    return out


def ratios_section(res: EvalResults) -> list[str]:
    """Every worst-to-best comparison of the report in one table."""
    rows: list[tuple[object, ...]] = []
    systems = [res.ours] + ([res.peer] if res.peer is not None else [])
    for s in systems:
        if s.false_matches is None:
            continue
        for name, comp in (
            ("race", s.false_matches.by_race),
            ("gender", s.false_matches.by_gender),
        ):
            worst, best = comp.per_group[comp.worst], comp.per_group[comp.best]
            rows.append(
                (
                    f"false-match rate ({s.name})",
                    name,
                    f"{comp.worst} {pct(worst.value, 3)}",
                    f"{comp.best} {pct(best.value, 3)}",
                    f"{times(comp.ratio)} more false matches",
                )
            )
    if res.age is not None:
        for name, comp in res.age.groups.items():
            worst, best = comp.per_group[comp.worst], comp.per_group[comp.best]
            rows.append(
                (
                    "age MAE (FaceGate)",
                    name,
                    f"{comp.worst} {worst.value:.2f} y",
                    f"{comp.best} {best.value:.2f} y",
                    f"+{comp.gap:.2f} years ({times(comp.ratio)})",
                )
            )
    if res.gender is not None:
        for name, comp in res.gender.groups.items():
            worst, best = comp.per_group[comp.worst], comp.per_group[comp.best]
            rows.append(
                (
                    "gender, answered (FaceGate)",
                    name,
                    f"{comp.worst} {pct(worst.answered.rate)}",
                    f"{comp.best} {pct(best.answered.rate)}",
                    f"-{100 * comp.gap:.1f} points; errors {times(comp.error_ratio)}",
                )
            )
    if not rows:
        return []
    return [
        "## Worst group against best group",
        "",
        *_table(("figure", "grouping", "worst", "best", "worst vs best"), rows),
        "",
        "No demographic labels exist for the verification, detection or emotion photos.",
    ]


def render(res: EvalResults) -> str:
    systems = [res.ours] + ([res.peer] if res.peer is not None else [])
    run = res.run
    lines = [
        "# FaceGate accuracy report",
        "",
        f"Data: `{res.data}`: {res.counts['verification']} verification photos of "
        f"{res.counts['identities']} identities, {res.counts['detection']} detection photos, "
        f"{res.counts['attributes']} attribute photos (research licences: read in place, "
        "never copied).",
        f"Run: {run['date']}, {run['seconds']:.0f} s ({run['seconds_ours']:.0f} s FaceGate, "
        f"{run['seconds_peer']:.0f} s peer); {run['cpu']}, {run['cores']} cores; load average "
        f"{run['load_before']} before, {run['load_after']} after (the machine is shared).",
        f"FaceGate models: {run['models']}.",
        "Brackets: 95% intervals (Wilson for proportions; bootstrap, 1000 replicates, seed 0, "
        "for MAE, EER and TAR). Command: `make eval DATA=...` "
        "(`python -m bench.eval --data DIR`).",
        "",
        *headline(res),
        "",
    ]
    if any(s.detection for s in systems):
        lines += [*detection_section(systems), ""]
    if any(s.verification for s in systems):
        lines += [*verification_section(systems), ""]
    if any(s.identification for s in systems):
        lines += [*identification_section(systems), ""]
    if any(s.fairness for s in systems):
        found = [(s.fairness, s.pairs) for s in systems if s.fairness is not None]
        lines += [*fairness.render_section(found), ""]
    if any(s.false_matches for s in systems):
        lines += [*false_match_section(systems), ""]
    if res.age or res.gender or res.emotion:
        lines += [*attributes_section(res), ""]
    ratios = ratios_section(res)
    if ratios:
        lines += [*ratios, ""]
    if res.figures:
        lines += ["## Figures", ""]
        lines += [f"- {title}: `{name}`" for title, name in res.figures.items()]
    return "\n".join(lines).rstrip() + "\n"
