"""Fair comparisons over seeds: IAU variants on the synthetic "context" task, or any list of recipes/overrides.

In the context mode of the synthetic set every single part colour is shared by several identities and only the
combination (hair, upper body, lower body, shoes) identifies a person, so relating body parts is exactly what
the task needs. Each seed draws its own data set and trains every variant on it with the same seed (a paired
design); the script prints mean ± std of mAP and rank-1 per variant and the paired difference to the first
variant (mean ± std, wins, paired t-test). Final-epoch metrics only: no epoch is picked on the test split.

    python scripts/ablation_study.py                      # baseline, STIAU, CIAU, IAU; the preset that fits
    python scripts/ablation_study.py --preset cpu --seeds 5 --epochs 8 --output-dir runs/ablation
    python scripts/ablation_study.py --compare recipes    # paper vs BoT vs SBS vs SBS+IAU
    python scripts/ablation_study.py --variant paper market1501 --variant sbs sbs_market1501 \
        --variant sbs_gem4 sbs_market1501 model.gem_p=4   # any recipes, each with KEY=VALUE overrides

A variant is a recipe (shipped name or YAML file) with overrides; the study's own settings (the seed's synthetic
set, input size, batch, epochs, architecture of the preset) go over it. A recipe's schedule is scaled to the
study's length: milestones and delay epochs by study epochs / recipe epochs, warm-up and freeze steps by the
study's steps / the recipe's steps (the recipe's epochs x 202, Market-1501's steps per epoch at batch 64).
Training goes through the package's own API (``iaunet_hf.training``). Finished runs are kept in
``<output-dir>/runs.jsonl`` and skipped when the script is started again, so an interrupted study resumes where
it stopped and ``--summary-only`` reprints the table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ablation_statistics import METRICS, Variant, describe_variants, format_summary, summarise

# A variant is (recipe, overrides); the first one is the reference of the paired statistics. The default study:
# the synthetic recipe with the IAU sub-modules switched (iau_modules order is the paper's CIAU-STIAU).
VARIANTS: dict[str, Variant] = {
    "baseline": ("synthetic", {"model.iau_stages": []}),
    "STIAU": ("synthetic", {"model.iau_stages": [2, 3], "model.iau_modules": ["stiau"]}),
    "CIAU": ("synthetic", {"model.iau_stages": [2, 3], "model.iau_modules": ["ciau"]}),
    "IAU": ("synthetic", {"model.iau_stages": [2, 3], "model.iau_modules": ["ciau", "stiau"]}),
}
COMPARISONS: dict[str, dict[str, Variant]] = {
    "iau": VARIANTS,
    # the paper's recipe against the strong baselines and SBS with IAU blocks (docs/training.md)
    "recipes": {
        "paper": ("market1501", {}),
        "BoT": ("bot_market1501", {}),
        "SBS": ("sbs_market1501", {}),
        "SBS+IAU": ("sbs_iau_market1501", {}),
    },
}
DEFAULT_SPECS = {name: [recipe, overrides] for name, (recipe, overrides) in VARIANTS.items()}
RECIPE_STEPS_PER_EPOCH = 202  # Market-1501: 12,936 training images / 64 a batch
PRESET_FIELDS = (
    "seeds", "epochs", "num_train_ids", "num_test_ids", "num_cameras", "images_per_camera",
    "height", "width", "batch_size", "architecture", "mixed_precision",
)  # fmt: skip
PRESETS: dict[str, dict[str, object]] = {
    name: dict(zip(PRESET_FIELDS, values, strict=True))
    for name, values in {
        # cpu: about 16 minutes on two otherwise idle CPU cores (43-49 s a run): ResNet-18 at 128x64, 32
        # training identities. gpu: the full settings for one accelerator: more identities and images, the
        # paper's input size, longer runs.
        "cpu": (5, 10, 32, 32, 4, 3, 128, 64, 32, "iaunet_resnet18", "bf16"),
        "gpu": (10, 40, 128, 64, 4, 6, 256, 128, 64, "iaunet_resnet18", "bf16"),
    }.items()
}


def write_data(root: Path, seed: int, settings: dict) -> Path:
    """The context-mode set of one seed (written once; later runs reuse it)."""
    from iaunet_hf.data import write_synthetic_reid

    folder = root / f"data_seed{seed}"
    if not (folder / "bounding_box_test").is_dir():
        write_synthetic_reid(
            folder,
            mode="context",
            seed=seed,
            num_train_ids=settings["num_train_ids"],
            num_test_ids=settings["num_test_ids"],
            num_cameras=settings["num_cameras"],
            images_per_camera=settings["images_per_camera"],
            num_distractors=settings["num_test_ids"],
            num_junk=8,
            height=settings["height"],
            width=settings["width"],
        )
    return folder


def scaled_schedule(recipe: str, epochs: int, steps_per_epoch: int) -> dict[str, object]:
    """The recipe's milestones, delay, warm-up and freeze scaled to a study run of ``epochs`` epochs."""
    from iaunet_hf.training import read_recipe

    raw = read_recipe(recipe)
    scheduler, train = raw.get("scheduler") or {}, raw.get("train") or {}
    recipe_epochs = int(train.get("epochs", epochs))
    ratio = epochs / recipe_epochs
    steps_ratio = epochs * steps_per_epoch / (recipe_epochs * RECIPE_STEPS_PER_EPOCH)
    milestones = [
        max(1, round(m * ratio)) for m in scheduler.get("milestones", [round(0.75 * recipe_epochs)])
    ]
    values: dict[str, object] = {"scheduler.milestones": sorted(set(milestones))}
    if scheduler.get("delay_epochs"):
        values["scheduler.delay_epochs"] = min(epochs - 1, round(scheduler["delay_epochs"] * ratio))
    for key, section, name in (("scheduler.warmup_iterations", scheduler, "warmup_iterations"),
                               ("train.freeze_backbone_iterations", train, "freeze_backbone_iterations")):  # fmt: skip
        if section.get(name):
            values[key] = max(1, round(section[name] * steps_ratio))
    return values


def overrides_for(
    variant: Variant, seed: int, data_dir: Path, run_dir: Path, settings: dict
) -> dict[str, str]:
    """``--key value`` overrides of the variant's recipe for one run (values as the CLI would pass them)."""
    recipe, variant_overrides = variant
    epochs = int(settings["epochs"])
    images = settings["num_train_ids"] * settings["num_cameras"] * settings["images_per_camera"]
    values: dict[str, object] = {
        "data.dataset": "synthetic",
        "data.num_workers": 0,
        "train.mixed_precision": settings["mixed_precision"],
        **scaled_schedule(recipe, epochs, max(1, images // int(settings["batch_size"]))),
        "model.architecture": settings["architecture"],
        "model.pretrained": False,
        "data.data_dir": str(data_dir),
        "data.cache_dir": str(run_dir.parent.parent / "hf_cache"),
        "data.height": settings["height"],
        "data.width": settings["width"],
        "data.batch_size": settings["batch_size"],
        "train.seed": seed,
        "train.epochs": epochs,
        "eval.every_epochs": 0,  # only the final evaluation: nothing is selected on the test split
        "eval.rerank": False,
        "checkpoint.output_dir": str(run_dir),
        "checkpoint.every_epochs": epochs,
    }
    values.update(variant_overrides)
    return {key: json.dumps(value) if not isinstance(value, str) else value for key, value in values.items()}


def final_metrics(result) -> dict[str, float]:
    """mAP and rank-1 (percent) of the run's final, not re-ranked, evaluation."""
    from iaunet_hf.evaluation.results import read_results
    from iaunet_hf.inference import RESULTS_FILE

    document = result.results
    if document is None:
        document = read_results(Path(result.model_dir) / RESULTS_FILE)
    for entry in document["results"]:
        if not entry["settings"].get("rerank", False):
            return {name: float(entry["metrics"][name]) for name in METRICS}
    raise ValueError(f"{result.model_dir}: the results document has no entry without re-ranking")


def train_one(name: str, variant: Variant, seed: int, root: Path, settings: dict) -> dict:
    from iaunet_hf.training import Trainer, load_config

    data_dir = write_data(root, seed, settings)
    run_dir = root / "runs" / f"{name}_seed{seed}"
    config = load_config(variant[0], overrides_for(variant, seed, data_dir, run_dir, settings))
    start = time.perf_counter()
    result = Trainer(config).train()
    return dict(variant=name, seed=seed, seconds=time.perf_counter() - start, **final_metrics(result))


def read_runs(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def parse_variants(specs: list[list[str]]) -> dict[str, Variant]:
    """``--variant NAME RECIPE [KEY=VALUE ...]`` (values read as YAML, as the command line does) -> variants."""
    import yaml

    variants: dict[str, Variant] = {}
    for spec in specs:
        if len(spec) < 2 or spec[0] in variants:
            raise SystemExit(
                f"--variant {' '.join(spec)}: expected a new NAME, a RECIPE and KEY=VALUE overrides"
            )
        overrides = {}
        for item in spec[2:]:
            key, _, value = item.partition("=")
            if not key or not value:
                raise SystemExit(f"--variant {spec[0]}: override {item!r} is not KEY=VALUE")
            overrides[key] = yaml.safe_load(value)
        variants[spec[0]] = (spec[1], overrides)
    return variants


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--preset", choices=("auto", *PRESETS), default="auto", help="auto: gpu if CUDA is there"
    )
    parser.add_argument("--seeds", type=int, help="number of seeds (0..N-1); default from the preset")
    parser.add_argument("--epochs", type=int, help="epochs per run; default from the preset")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one preset setting, e.g. --set num_train_ids=24 --set images_per_camera=2",
    )
    parser.add_argument(
        "--output-dir", default="runs/ablation_study", help="data, runs and runs.jsonl go here"
    )
    parser.add_argument(
        "--compare", choices=sorted(COMPARISONS), default="iau",
        help="iau: baseline/STIAU/CIAU/IAU on the synthetic recipe; recipes: paper vs BoT vs SBS vs SBS+IAU",
    )  # fmt: skip
    parser.add_argument(
        "--variant", nargs="+", action="append", default=[], metavar="NAME RECIPE [KEY=VALUE]",
        help="a variant (repeatable; replaces --compare): a name, a recipe name or YAML file and overrides such "
        "as model.iau_stages=[2,3]; the first variant is the reference of the paired statistics",
    )  # fmt: skip
    parser.add_argument("--json", help="also write the summary to this JSON file")
    parser.add_argument("--summary-only", action="store_true", help="print the table of the finished runs")
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()

    import torch

    preset = args.preset if args.preset != "auto" else ("gpu" if torch.cuda.is_available() else "cpu")
    settings = dict(PRESETS[preset])
    settings.update({k: v for k, v in (("seeds", args.seeds), ("epochs", args.epochs)) if v is not None})
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in settings or not value:
            parser.error(f"--set {item!r}: expected KEY=VALUE with KEY one of {sorted(settings)}")
        settings[key] = type(settings[key])(value)
    root = Path(args.output_dir)
    root.mkdir(parents=True, exist_ok=True)
    runs_path = root / "runs.jsonl"
    run_settings = {key: value for key, value in settings.items() if key != "seeds"}
    variants = parse_variants(args.variant) if args.variant else COMPARISONS[args.compare]
    specs = {name: [recipe, overrides] for name, (recipe, overrides) in variants.items()}
    runs = [
        run
        for run in read_runs(runs_path)
        # runs recorded before variants had specs are the default study's
        if run.get("settings") == run_settings
        and run.get("spec", DEFAULT_SPECS.get(run["variant"])) == specs.get(run["variant"])
    ]
    if not args.summary_only:
        done = {(run["variant"], run["seed"]) for run in runs}
        for seed in range(int(settings["seeds"])):  # seed-major: every finished seed is a complete pair
            for variant, spec in variants.items():
                if (variant, seed) in done:
                    continue
                run = dict(train_one(variant, spec, seed, root, settings), settings=run_settings,
                           spec=specs[variant])  # fmt: skip
                runs.append(run)
                with runs_path.open("a") as handle:
                    handle.write(json.dumps(run) + "\n")
                print(
                    f"[ablation] {variant} seed {seed}: mAP {run['mAP']:.2f} rank-1 {run['rank-1']:.2f} "
                    f"({run['seconds']:.0f} s)",
                    flush=True,
                )
    summary = summarise(runs, variants)
    from iaunet_hf.hardware import describe_hardware

    machine = describe_hardware("cuda" if torch.cuda.is_available() else None)
    print(format_summary(summary, settings, machine) + "\n\n" + describe_variants(variants))
    if args.json:
        document = dict(summary, settings=settings, hardware=machine, variants=specs)
        Path(args.json).write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
