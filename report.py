"""The project's documents, rendered from results, never typed: report/results.json (rounded), the check of a
run against it, README's table, report/REPORT.md (its speed block from bench.json), and the seeds' reported
figures beside ours.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

import evaluate
import protocols
from data import DEVELOPMENT
from store import differing

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "report" / "results.json"
README = ROOT / "README.md"
# What the seed documents report (their own runs, not reproduced here): closed-set accuracy and OSR accuracy on
# their combined set (MNIST test + Fashion-MNIST + CIFAR-10 samples); B's share of each other OOD set rejected is
# from its 5th attempt ("Final results of attempt 5"), EMNIST letters on the full 26-letter test split.
SEED_REPORTED = {
    "A": {"closed_set": 98.9, "binary": 99.1, "total": 98.7},
    "B": {"closed_set": 97.79, "binary": 98.42, "total": 96.75, "known": 96.61, "unknown": 97.45},
}
SEED_B_SETS = {"KMNIST": 95.09, "EMNIST letters": 60.51, "SVHN": 100.0}
REPORT_TEMPLATE = ROOT / "report" / "REPORT.template.md"
RENDERED_NOTE = ("<!-- Rendered by the notebook (OSR_WRITE_REPORT=1) from report/REPORT.template.md, with every number "
                 "from report/results.json and weights/manifest.json: edit the template, not this file. -->")
REPORT = ROOT / "report" / "REPORT.md"
BENCH = ROOT / "report" / "bench.json"
LEAVE_ONE_OUT = ROOT / "report" / "leave_one_out.json"  # written by leave_out.py
CANDIDATES = ROOT / "report" / "candidates.json"  # written by leave_out.py's candidate options
RESULT_DECIMALS = 4  # percentages to 1e-4 points: far below what any table shows, far above float noise
TOLERANCE = 0.05  # points: how far a rerun's number may be from the results file before the check fails


def rounded(results):
    """The results with every float rounded to RESULT_DECIMALS (plain floats), so reruns write the same file."""
    if isinstance(results, dict):
        return {k: rounded(v) for k, v in results.items()}
    if isinstance(results, (list, tuple)):
        return [rounded(v) for v in results]
    return round(float(results), RESULT_DECIMALS) if isinstance(results, (float, np.floating)) else results


def save_results(results: dict, path: Path = RESULTS) -> None:
    """Write the run's metrics, rounded, for README, report and tests to read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rounded(results), indent=2) + "\n")


def load_results(path: Path = RESULTS) -> dict:
    return json.loads(path.read_text())


def differs(computed, stored, tolerance: float = TOLERANCE) -> bool:
    """Whether one entry of this run is not the stored one: lists exactly, numbers more than `tolerance` apart,
    NaN against a number."""
    if isinstance(computed, (list, tuple)) or isinstance(stored, list):
        return list(computed) != stored
    return abs(float(computed) - float(stored)) > tolerance or np.isnan(computed) != np.isnan(stored)


# Numbers pooled over the test sets (under "systems" and the notebook's "shown" tables): what a number of the
# results file depends on (`depends_on`).
POOLED = {evaluate.ALL_OOD, evaluate.TOTAL, evaluate.MEAN, "test_sets"}
SEED_PROTOCOL_SETS = {"Fashion-MNIST", "CIFAR-10"}


def _leaves(tree, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], object]:
    """The results as {path: number or list}, depth first."""
    if isinstance(tree, dict):
        return {p: v for k, sub in tree.items() for p, v in _leaves(sub, path + (str(k),)).items()}
    return {path: tree}


def depends_on(path: tuple[str, ...], sets) -> set[str]:
    """The sets a number of the results file was computed on: those its path names, every test set for a pooled
    number (`POOLED`) and every set for an unnamed row of a shown table, Fashion-MNIST and CIFAR-10 for the seed
    protocol; MNIST alone (an empty set here) for the rest: closed-set accuracy, robustness, protocol 1."""
    named = set(path) & set(sets)
    pooled = path[0] in ("systems", "shown") and (bool(POOLED & set(path)) or (path[0] == "shown" and not named))
    everything = set(sets) - set(DEVELOPMENT) if POOLED & set(path) else set(sets)
    return named | (everything if pooled else set()) | (SEED_PROTOCOL_SETS if "seed_protocol" in path else set())


def check_results(results: dict, path: Path = RESULTS, tolerance: float = TOLERANCE, strict: bool = True) -> str:
    """This run's results against the stored ones, knowing where each number came from. Numbers computed only on
    sets whose fingerprint matches the stored run's must be within `tolerance` points (else AssertionError when
    `strict`, else listed). Numbers that depend on a set from another source, or on one missing here, are not
    held to the stored values: the message names those sets and how far the largest of their numbers moved."""
    stored = load_results(path)
    new_fp, old_fp = results.get("fingerprints", {}), stored.get("fingerprints", {})
    sets = set(new_fp) | set(old_fp)
    changed = set(differing(new_fp, old_fp))
    new, old = _leaves(rounded(results)), _leaves(stored)
    errors, moved, unrun, checked = [], [], 0, 0
    for key in [*new, *(k for k in old if k not in new)]:
        if key[0] in ("fingerprints", "sets"):  # what the sets are: compared above, through their fingerprints
            continue
        if depends_on(key, sets) & changed:
            if key not in new:
                unrun += 1
            elif key in old and isinstance(new[key], (int, float)) and isinstance(old[key], (int, float)):
                moved.append((abs(new[key] - old[key]), "/".join(key), old[key], new[key]))
            continue
        where = "/".join(key)
        if key not in new:
            errors.append(f"{where}: in the stored results, not computed by this run")
        elif key not in old:
            errors.append(f"{where}: not in the stored results")
        else:
            checked += 1
            if differs(new[key], old[key], tolerance):
                errors.append(f"{where}: {new[key]} vs {old[key]}")
    lines = [f"all {checked} numbers on data the stored run saw are within {tolerance} points of {path.name}"]
    if errors:
        lines = [f"{len(errors)} numbers on data the stored run saw differ from {path.name} by more than {tolerance} "
                 f"points:", *errors[:20]]
        if strict:
            raise AssertionError("\n".join(lines) + "\n(rerun with OSR_WRITE_REPORT=1 to rewrite it if the change "
                                 "is meant)")
    for name in sorted(changed):
        why = ("missing here" if name not in new_fp else "not in the stored run" if name not in old_fp
               else f"other data than the stored run (fingerprint {new_fp[name]}, stored {old_fp[name]})")
        lines.append(f"{name}: {why}")
    if moved:
        top = max(moved)
        lines.append(f"{len(moved)} numbers computed on those sets (aggregates included) are not held to the stored "
                     f"values: the largest moved {top[0]:.2f} points ({top[1]}: {top[2]} -> {top[3]})")
    if unrun:
        lines.append(f"{unrun} stored numbers on those sets were not computed by this run")
    return "\n".join(lines)


def table_record(table: pd.DataFrame) -> dict:
    """A shown table's numbers as nested data for the results file: row -> column (-> sub-column) -> value;
    text cells are left out."""
    record: dict = {}
    for row, values in table.iterrows():
        for column, value in values.items():
            if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
                keys = [str(row), *(map(str, column) if isinstance(column, tuple) else [str(column)])]
                node = record
                for key in keys[:-1]:
                    node = node.setdefault(key, {})
                node[keys[-1]] = float(value)
    return record


def sets_table(splits: dict, ood: dict, path: Path = RESULTS) -> pd.DataFrame:
    """The data a run sees: size and role of every set, its fingerprint and whether it matches the data the
    stored results were computed on (else its numbers are reported, not checked, at the end)."""
    stored = load_results(path).get("fingerprints", {}) if path.exists() else {}
    sets = {"MNIST test" if name == "test" else name: split for name, split in {**splits, **ood}.items()}
    changed = differing({key: split.source for key, split in sets.items() if split.source}, stored)
    rows = {}
    for key, split in sets.items():
        name = "test" if key == "MNIST test" else key
        same = "" if not split.source else "no" if key in changed else "yes"
        rows[name] = {"images": len(split), "role": "known (MNIST)" if name in splits else "unknown, test only",
                      "fingerprint": split.source, "as in results.json": same}
    return pd.DataFrame(rows).T.astype({"images": int})


def headline_table(results: dict) -> str:
    """README's one results table: closed-set accuracy, the seeds' combined set and OSR accuracy on each set."""
    sets = results["sets"]
    lines = ["| system | closed-set acc. | seed protocol total | " + " | ".join(sets) + " |",
             "|---|" + "---|" * (len(sets) + 2)]
    for name, res in results["systems"].items():
        lines.append(f"| {name} | {res['closed_set']:.2f} | {res['seed_protocol']['total']:.2f} | "
                     + " | ".join(f"{res['per_set'][s]:.2f}" for s in sets) + " |")
    for name, seed in SEED_REPORTED.items():
        cells = [f"{seed[k]:.2f}" if k in seed else "-" for k in ("closed_set", "total")]
        cells += [f"{SEED_B_SETS[s]:.2f}" if name == "B" and s in SEED_B_SETS else "-" for s in sets]
        lines.append(f"| seed {name} (its report) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def results_tables(results: dict) -> str:
    """The report's results tables (the seeds' combined set, OSR accuracy and AUROC / FPR95 per set)."""
    lines = ["| system | closed-set acc. % | seed protocol: MNIST % | unknown % | total % | binary % |",
             "|---|---|---|---|---|---|"]
    for name, res in results["systems"].items():
        p = res["seed_protocol"]
        lines.append(f"| {name} (this project) | {res['closed_set']:.2f} | {p['known']:.2f} | {p['unknown']:.2f} "
                     f"| {p['total']:.2f} | {p['binary']:.2f} |")
    for name, seed in SEED_REPORTED.items():
        cells = [f"{seed[k]:.2f}" if k in seed else "-" for k in ("closed_set", "known", "unknown", "total", "binary")]
        lines.append(f"| seed {name} (its report) | " + " | ".join(cells) + " |")
    lines += ["", "OSR accuracy % per test set (all of each set's images):", "",
              "| system | " + " | ".join(results["sets"]) + " |", "|---|" + "---|" * len(results["sets"])]
    for name, res in results["systems"].items():
        lines.append(f"| {name} | " + " | ".join(f"{res['per_set'][s]:.2f}" for s in results["sets"]) + " |")
    lines.append("| seed B (its 5th attempt) | " + " | ".join(
        f"{SEED_B_SETS[s]:.2f}" if s in SEED_B_SETS else "-" for s in results["sets"]) + " |")
    if "EMNIST letters" in results["sets"]:
        lines += ["", "Seed B's EMNIST figure is on the full 26-letter test split; where the project runs offline, its "
                  "EMNIST letters are a 1,479-image sample of letters a-s (see the notebook, section 10.1)."]
    ood = [s for s in results["sets"][1:]] + [evaluate.MEAN]
    lines += ["", "AUROC % / FPR at 95% TPR % of the system's score, MNIST test vs each OOD set; the mean is over the "
              "test sets (the development set, Omniglot dev, beside it, not in it):", "",
              "| system | " + " | ".join(ood) + " |", "|---|" + "---|" * len(ood)]
    for name, res in results["systems"].items():
        lines.append(f"| {name} | " + " | ".join(f"{res['ood'][s]['AUROC']:.2f} / {res['ood'][s]['FPR95']:.2f}"
                                                 for s in ood) + " |")
    return "\n".join(lines)


def literature_markdown(results: dict) -> str:
    """The report's tables of the literature's protocols (`protocols`), from the results file."""
    lit = results["literature"]
    p1 = pd.DataFrame.from_dict(lit["protocol 1"], orient="index")
    seeds = pd.DataFrame.from_dict(lit["protocol 1 seeds"], orient="index")
    rows = protocols.against_published(p1, seeds)
    lines = ["Protocol 1, five 6/4 splits of MNIST: AUROC % of known vs unknown test digits. This project: mean +- std "
             "over splits 2-5 (split 1: the development split) for the ensemble, mean +- std over " f"{len(seeds) - 2} seeds of those means for "
             "one network. Published rows: mean +- std as their source gives it (n.r.: not reported); sources: "
             + "; ".join(f"{key}: {text}" for key, text in protocols.SOURCES.items()) + ".", "",
             "| method | AUROC % | +- | trained with, besides the known digits | from |", "|---|---|---|---|---|"]
    for name, r in rows.iterrows():
        digits = 2 if r["from"] == "measured here" else 1  # the sources give one decimal
        std = "n.r." if r["std"] is None or pd.isna(r["std"]) else f"{r['std']:.{digits}f}"
        lines.append(f"| {name} | {r['AUROC']:.{digits}f} | {std} | {r['trained with']} | {r['from']} |")
    detector = next(column.removeprefix("OSCR ") for column in p1 if column.startswith("OSCR "))
    split1 = p1.iloc[0]
    lines += ["", f"Split 1, the development split (probes looked at its unknown digits), beside: AUROC "
              f"{split1[f'AUROC {detector}']:.2f}; over all five splits {p1.loc[protocols.ALL_FIVE, f'AUROC {detector}']:.2f}. "
              f"Closed-set accuracy on the known digits, mean over splits 2-5: "
              f"{p1.loc[protocols.HEADLINE, 'closed-set accuracy']:.2f}%. Where it stands: "
              f"{protocols.standing(rows, detector)}.", "",
              "Protocol 2, the 10-digit best model on MNIST test + 10,000 outliers of one kind (open-set macro-F1 "
              "over 11 classes, at the model's own threshold):", "",
              "| outliers | macro-F1 % | outliers rejected % | digits right % |", "|---|---|---|---|"]
    for name, r in results["literature"]["protocol 2"].items():
        lines.append(f"| {name} | {r['macro-F1']:.2f} | {r['outliers rejected']:.2f} | {r['digits right']:.2f} |")
    return "\n".join(lines)


def replace_block(name: str, content: str, path: Path = README) -> None:
    """Replace the text between <!-- name:start --> and <!-- name:end --> in a markdown file."""
    text = path.read_text()
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    new, n = re.subn(re.escape(start) + ".*?" + re.escape(end), lambda _: f"{start}\n{content}\n{end}", text,
                     flags=re.S)
    if n != 1:
        raise ValueError(f"{path} needs exactly one {start} ... {end} block")
    path.write_text(new)


def update_readme(results: dict, path: Path = README) -> None:
    """README's results block, rendered from the results."""
    replace_block("results", headline_table(results), path)


def load_leave_one_out(path: Path = LEAVE_ONE_OUT) -> dict:
    """leave_out.py's runs (report/leave_one_out.json)."""
    return json.loads(path.read_text())


def load_candidates(path: Path = CANDIDATES) -> dict:
    """leave_out.py's other candidates (report/candidates.json): name -> command, what was measured, table."""
    return json.loads(path.read_text()) if path.exists() else {}


PROBE_NOISE = "how far the probes move by chance"  # `python leave_out.py --noise`'s entry in CANDIDATES


def probe_spread(path: Path = CANDIDATES) -> pd.Series | None:
    """How far a seed alone moves each figure of leave_out.py's probe runs (the spread of `python leave_out.py
    --noise`), or None where it was never measured."""
    found = load_candidates(path).get(PROBE_NOISE)
    return None if found is None else pd.DataFrame(found["table"]).T["spread"]


def save_candidate(name: str, command: str, what: str, table: pd.DataFrame, path: Path = CANDIDATES) -> None:
    """One candidate's table (rows: sets, columns: scores, % rejected), beside those already in the file."""
    found = load_candidates(path) | {name: {"command": command, "what": what,
                                            "table": rounded(table.to_dict(orient="index"))}}
    path.write_text(json.dumps(found, indent=1) + "\n")


def load_bench(path: Path = BENCH) -> dict | None:
    """bench.py's figures (report/bench.json), or None where it was never run."""
    return json.loads(path.read_text()) if path.exists() else None


def speed_markdown(bench: dict | None) -> str:
    """The report's speed block from bench.py's figures (each time also in units of bench's reference workload)."""
    if bench is None:
        return "Not measured: run `python bench.py --notebook --tests`."
    m, ref = bench["machine"], bench["reference_seconds"]
    lines = [f"Measured by `python bench.py --notebook --tests` on {m['cpus']} CPU cores ({m['processor']}), "
             f"torch {m['torch']} with {m['torch_threads']} threads. The machine's speed: bench's reference workload "
             f"(`bench.reference_seconds`) took {ref:.2f} s; on another machine, times scale roughly with it.", "",
             "| measure | value | in reference workloads |", "|---|---|---|"]
    lines += [f"| training, one epoch of {k} | {v:.1f} s | {v / ref:.0f} |" for k, v in bench["epoch_seconds"].items()]
    total = bench["train_seconds"]
    lines.append(f"| training, all epochs of `train.py` at these rates | {total:.0f} s | {total / ref:.0f} |")
    names = {"10000": "one call on 10,000 images", "1": "batch 1"}
    lines += [f"| predict, system {s}, {names[k]} | {v:,.0f} images/s | |"
              for s, per in bench["predict_images_per_second"].items() for k, v in per.items()]
    lines += [f"| predict, best / A, {names[k]} | {v:.2f} | |" for k, v in bench["best_over_a"].items()]
    for key, what in (("notebook_seconds", "notebook, headless execution"), ("test_seconds", "README's test command")):
        if key in bench:
            lines.append(f"| {what} | {bench[key]:.0f} s | {bench[key] / ref:.0f} |")
    parts = bench.get("batch_1_microseconds", {})
    if parts:  # each system's own parts, in their order (by where they fall in its call), the others' cells empty
        rows = sorted(dict.fromkeys(part for per in parts.values() for part in per),
                      key=lambda part: max(list(per).index(part) / len(per) for per in parts.values() if part in per))
        lines += ["", "Where a batch-1 call's time goes (`bench.batch_1_parts`), microseconds per image: each system's "
                  "parts timed in turns with its whole call, not in turns with the other systems as the images per "
                  "second above (warmer caches: shorter calls).", "",
                  "| part | " + " | ".join(parts) + " |", "|---" * (len(parts) + 1) + "|"]
        lines += [f"| {part} | " + " | ".join(f"{per[part]:,}" if part in per else "" for per in parts.values()) + " |"
                  for part in rows]
    lines += ["", "| goal | this run |", "|---|---|"]
    lines += [f"| {goal} | {'not measured' if v is None else ('met' if ok else 'missed') + f', {v:.2f}'} |"
              for goal, v, ok in bench["goals"]]
    return "\n".join(lines)


def comparison_table(results: dict[str, dict]) -> pd.DataFrame:
    """Systems side by side (this run's measurements) next to the figures the seed documents report."""
    rows = {}
    for name, r in results.items():
        rows[f"{name} (this run)"] = {
            "closed-set accuracy": r["closed_set"],
            **{f"seed protocol: {k}": v for k, v in r["seed_protocol"].items()},
            **{f"OSR accuracy: {k}": v for k, v in r["per_set"].items() if k not in (evaluate.ALL_OOD, evaluate.TOTAL)},
            "OSR accuracy: the test sets pooled": r["test_sets"]["total"],
            "macro-F1, test sets": r["test_sets"]["macro-F1"],
            "OSCR, test sets": r["test_sets"]["OSCR"],
            "mean AUROC, test sets": r["ood"][evaluate.MEAN]["AUROC"],
            "mean FPR95, test sets": r["ood"][evaluate.MEAN]["FPR95"],
        }
    for name, seed in SEED_REPORTED.items():
        rows[f"seed {name} (reported)"] = {
            "closed-set accuracy": seed["closed_set"],
            **{f"seed protocol: {k}": seed[k] for k in ("known", "unknown", "total", "binary") if k in seed},
            **({f"OSR accuracy: {k} (seed B's 5th attempt)": v for k, v in SEED_B_SETS.items()} if name == "B" else {}),
        }
    return pd.DataFrame(rows)


def gains_table(results: dict[str, dict], best: str = "best") -> pd.DataFrame:
    """`comparison_table` seen from one system: its figures, how far it is from each other system of this run
    (points), and the seeds' reported figures."""
    table = comparison_table(results)
    column = f"{best} (this run)"
    others = [name for name in results if name != best]
    gains = {f"{best} - {name}": table[column] - table[f"{name} (this run)"] for name in others}
    seeds = [c for c in table if c.startswith("seed ")]
    return pd.concat([table[[column]], pd.DataFrame(gains), table[seeds]], axis=1)


def leave_one_out_table(found: dict, score: str = "sum") -> pd.DataFrame:
    """leave_out.py's runs as one table: per measured family (rows) and design (columns), the share (%) rejected
    @1% by the network trained on the design's families less that one (the development set's row: by the network
    trained on all of them), with the best system's other scores (`score` "sum") or alone ("alone"), from the
    shared "runs" or a design's "own runs" (a candidate network's); then the mean over the families and, per
    design, on how many families it rejects more than the first design."""
    measured = [name for name in next(iter(found["runs"].values()))["rejected"] if name != evaluate.REFERENCE]
    runs = {design: found.get("own runs", {}).get(design, found["runs"]) for design in found["designs"]}
    rows = {name: {design: runs[design][" + ".join(f for f in families if f != name)]["rejected"][name][score]
                   for design, families in found["designs"].items()} for name in measured}
    table = pd.DataFrame(rows).T
    families = table.loc[[name for name in measured if name not in DEVELOPMENT]]
    first = table.columns[0]
    table.loc["mean of the families"] = families.mean()
    table.loc[f"families above {first}"] = (families.gt(families[first], axis=0)).sum()
    return table


def robustness_markdown(results: dict) -> str:
    """The robustness results as a markdown table: accuracy / rejected (%) per system and corruption."""
    cells = results["robustness"]
    systems = list(cells)
    lines = ["| corruption | " + " | ".join(f"{s}: accuracy / rejected %" for s in systems) + " |",
             "|---|" + "---|" * len(systems)]
    for kind in cells[systems[0]]:
        lines.append(f"| {kind} | " + " | ".join(
            f"{cells[s][kind]['accuracy %']:.2f} / {cells[s][kind]['rejected %']:.2f}" for s in systems) + " |")
    return "\n".join(lines)


def emnist_markdown(results: dict) -> str:
    """The report's paragraph on EMNIST letters, the test set of seed B's own near-OOD experiment."""
    name = "EMNIST letters"
    if name not in results["sets"]:
        return f"**{name}** were not available in this run: no figure."
    summary = results["shown"]["EMNIST summary"]
    parts = [f"{system} {row['rejected %']:.2f}% (95% interval {row['95% interval low']:.2f}-"
             f"{row['95% interval high']:.2f})" for system, row in summary.items()]
    alike = next(k for k in summary["best"] if k.endswith("in the accepted %"))
    other = "rejected of the other letters %"
    seed, low, high = SEED_B_SETS[name], summary["best"]["95% interval low"], summary["best"]["95% interval high"]
    verdict = ("ahead of it by a margin the sample supports" if low > seed else "behind it" if high < seed
               else "not ahead of it by a margin this sample supports (its interval includes it)")
    return (f"**{name} (a test set, measured once, never used to decide).** Share of the letters rejected: "
            f"{'; '.join(parts)}; seed B reported {SEED_B_SETS[name]}% on the full 26-letter split (its fifth "
            f"attempt): the best model is {verdict}. Of the letters the best model accepts, {summary['best'][alike]:.1f}% are i, l or o, drawn "
            f"like 1, 1 and 0; of the other letters it rejects {summary['best'][other]:.2f}%. "
            f"Notebook section 10.1 shows the share of each letter rejected and the digit it is read as.")


def markdown_table(table: pd.DataFrame, digits: int = 1) -> str:
    """A table as markdown, floats rounded to `digits`, integers as they are, NaN as "-"."""
    def cell(v) -> str:  # rounded as pandas rounds the notebook's tables
        if isinstance(v, (int, np.integer)):
            return str(v)
        return "-" if pd.isna(v) else f"{np.round(v, digits):.{digits}f}" if isinstance(v, (float, np.floating)) else str(v)

    lines = ["| | " + " | ".join(map(str, table.columns)) + " |", "|---|" + "---|" * len(table.columns)]
    lines += [f"| {name} | " + " | ".join(cell(table.at[name, c]) for c in table.columns) + " |" for name in table.index]
    return "\n".join(lines)


def handwriting_markdown(results: dict, found: dict | None, candidates: dict | None = None) -> str:
    """The report's evidence on handwriting beyond the test sets: the leave-one-family-out table (leave_out.py),
    the other candidates measured (leave_out.py's options) and where the data ends (notebook section 10.3)."""
    def counted(table: pd.DataFrame) -> pd.DataFrame:  # "families above ..." rows are counts
        table = table.astype(object)
        counts = table.index.str.startswith("families above")
        table.loc[counts] = table.loc[counts].astype(int)
        return table

    parts = []
    if found is not None:
        table = counted(leave_one_out_table(found))
        parts.append(f"**Leave one family out** (`python leave_out.py`, probe-sized: {found['probe']['digits']:,} "
                     f"training digits, {found['probe']['outliers']:,} outliers, {found['probe']['epochs']} epochs per "
                     f"run, {len(found['runs'])} runs). Share rejected (%) at 1% of validation digits, inside the "
                     f"best model's sum, by a one-output network trained on each design's families less the one measured "
                     f"(the development set: by the network trained on all of them):\n\n"
                     + markdown_table(table))
    for name, candidate in sorted((candidates or {}).items(), key=lambda item: item[0] != PROBE_NOISE):
        kind = "Yardstick" if name == PROBE_NOISE else "Candidate"  # the probes' noise first, then the candidates
        parts.append(f"**{kind}: {name}** (`{candidate['command']}`). {candidate['what']}\n\n"
                     + markdown_table(counted(pd.DataFrame(candidate["table"]).T)))
    if "written like a digit" in results["shown"]:
        limits = pd.DataFrame(results["shown"]["written like a digit"]).T.astype({"images": int})
        sets = limits.loc[[name for name in limits.index if ": " not in name]]
        parts.append("**Where the data ends** (notebook section 10.3): an image is *written like a digit* when a "
                     "training digit lies as near it (pixels, centred by mass) as the median MNIST test digit's "
                     "nearest training digit lies to that digit; a detector cannot reject those without rejecting "
                     "digits as near each other. Per set (the notebook also gives each letter):\n\n"
                     + markdown_table(sets))
    return "\n\n".join(parts)


def render_report(results: dict, manifest: dict, template: Path = REPORT_TEMPLATE) -> str:
    """REPORT.md from its template: every number is a field filled from the results and the manifest."""
    best_sets = {k: v for k, v in results["systems"]["best"]["ood"].items() if k in evaluate.test_sets(results["sets"])}
    text = re.sub(r"<!-- This file is the template.*?-->", RENDERED_NOTE, template.read_text(), count=1, flags=re.S)
    return text.format(
        r=results["systems"], m=manifest, seed=SEED_REPORTED, seed_b=SEED_B_SETS, emnist=emnist_markdown(results),
        handwriting=handwriting_markdown(results, load_leave_one_out() if LEAVE_ONE_OUT.exists() else None,
                                         load_candidates()),
        results_tables=results_tables(results), speed=speed_markdown(load_bench()),
        robustness_table=robustness_markdown(results), literature_tables=literature_markdown(results),
        selected=" + ".join(manifest["systems"]["best"]["components"]),
        drawn=" + ".join(f"{n:,} {family}" for family, n in manifest["systems"]["best"]["outliers"].items()),
        worst_auroc=min(v["AUROC"] for v in best_sets.values()),
        worst_fpr95=max(v["FPR95"] for v in best_sets.values()))


def before_after(before: dict, after: dict, system: str = "best") -> pd.DataFrame:
    """One system's figures in two results files (e.g. before and after a change): per set, its OSR accuracy (an
    OOD set: the share rejected; MNIST test: the share read right and kept) and the AUROC, the development set
    labelled so; then closed-set accuracy and the seed protocol's total."""
    rows = {}
    for name in after["systems"][system]["per_set"]:
        row = rows[f"{name} (development)" if name in DEVELOPMENT else name] = {}
        for when, results in (("before", before), ("after", after)):
            found = results["systems"][system]
            row[f"accuracy %, {when}"] = found["per_set"].get(name, np.nan)
            row[f"AUROC, {when}"] = found["ood"].get(name, {}).get("AUROC", np.nan)
    for key, name in (("closed_set", "closed-set accuracy %"), ("seed_protocol", "seed protocol total %")):
        values = [results["systems"][system][key] for results in (before, after)]
        rows[name] = {f"accuracy %, {when}": v if key == "closed_set" else v["total"]
                      for when, v in zip(("before", "after"), values)}
    return pd.DataFrame(rows).T


if __name__ == "__main__":
    import argparse
    import subprocess

    parser = argparse.ArgumentParser(description="A system's figures in report/results.json beside those of an "
                                                 "earlier commit (`before_after`).")
    parser.add_argument("--before", required=True, help="the git revision to compare with, e.g. HEAD~3")
    parser.add_argument("--system", default="best", choices=("best", "A", "B"))
    args = parser.parse_args()
    old = subprocess.run(["git", "show", f"{args.before}:report/results.json"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    print(before_after(json.loads(old), load_results(), args.system).round(2).to_string())
