"""The ablation study's paired statistics and its printed table (scripts/ablation_study.py)."""

from __future__ import annotations

import math
import statistics

# a variant: (recipe name or YAML file, overrides); the metrics compared
Variant = tuple[str, dict[str, object]]
METRICS = ("mAP", "rank-1")


def paired_t_pvalue(differences: list[float]) -> float:
    """Two-sided paired t-test p-value (nan when fewer than two pairs or no spread)."""
    if len(differences) < 2 or statistics.stdev(differences) == 0:
        return math.nan
    from scipy import stats

    return float(stats.ttest_1samp(differences, 0.0).pvalue)


def summarise(runs: list[dict], variants: dict[str, Variant]) -> dict:
    """Per-variant mean/std and the paired differences to the first variant over the seeds all finished."""
    by_key = {(run["variant"], run["seed"]): run for run in runs}
    seeds = sorted({seed for _, seed in by_key if all((v, seed) in by_key for v in variants)})
    reference = next(iter(variants))
    summary: dict = {"seeds": seeds, "reference": reference, "variants": {}}
    for variant in variants:
        row: dict = {}
        for metric in METRICS:
            values = [by_key[(variant, seed)][metric] for seed in seeds]
            row[metric] = dict(
                mean=statistics.fmean(values) if values else math.nan,
                std=statistics.stdev(values) if len(values) > 1 else math.nan,
                values=values,
            )
            if variant != reference:
                differences = [v - by_key[(reference, seed)][metric] for v, seed in zip(values, seeds)]
                row[metric]["paired"] = dict(
                    mean=statistics.fmean(differences) if differences else math.nan,
                    std=statistics.stdev(differences) if len(differences) > 1 else math.nan,
                    wins=sum(d > 0 for d in differences),
                    p_value=paired_t_pvalue(differences),
                )
        row["seconds"] = (
            statistics.fmean(by_key[(variant, s)]["seconds"] for s in seeds) if seeds else math.nan
        )
        summary["variants"][variant] = row
    return summary


def describe_variants(variants: dict[str, Variant]) -> str:
    """One line per variant: its recipe and overrides."""
    return "\n".join(
        f"- {name}: recipe {recipe}" + "".join(f", {key}={value}" for key, value in overrides.items())
        for name, (recipe, overrides) in variants.items()
    )


def format_summary(summary: dict, settings: dict, machine: str) -> str:
    seeds = summary["seeds"]
    lines = [
        f"Context task, {settings['architecture']} at {settings['height']}x{settings['width']}, "
        f"{settings['epochs']} epochs, {settings['num_train_ids']} train / {settings['num_test_ids']} test "
        f"identities, {len(seeds)} seeds ({', '.join(map(str, seeds))}); {machine}",
        "",
        f"| variant | mAP (mean ± std) | rank-1 (mean ± std) | ΔmAP vs {summary['reference']} (paired) | "
        f"Δrank-1 vs {summary['reference']} (paired) | s/run |",
        "|---|---|---|---|---|---|",
    ]

    def paired(cell: dict) -> str:
        if "paired" not in cell:
            return "—"
        p = cell["paired"]
        return f"{p['mean']:+.2f} ± {p['std']:.2f} (wins {p['wins']}/{len(seeds)}, p={p['p_value']:.3f})"

    for variant, row in summary["variants"].items():
        mAP, rank1 = row["mAP"], row["rank-1"]
        lines.append(
            f"| {variant} | {mAP['mean']:.2f} ± {mAP['std']:.2f} | {rank1['mean']:.2f} ± {rank1['std']:.2f} | "
            f"{paired(mAP)} | {paired(rank1)} | {row['seconds']:.0f} |"
        )
    return "\n".join(lines)
