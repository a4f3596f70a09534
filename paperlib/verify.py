"""``python -m paperlib verify``: compare a rerun's tables with the committed reference.

:func:`verify` reads every ``*.csv`` of the reference (``git show HEAD:figures/P/<file>``,
or ``--reference DIR``) and the same file of the rerun (``figures/P/`` or ``--rerun DIR``).
Rows are matched by the table's declared key columns (:data:`TABLES`; an undeclared table
is a difference that names itself), so reordered rows compare as equal. Each number is:

* **identical** -- equal to rounding: ``|a - b| <= max(REL_TOL * max(|a|, |b|), ABS_TOL)``
  (two NaN, two equal infinities and two empty cells are too). Bit-identical numbers
  (equal as floats) are counted apart from those equal only to rounding.
* **within seed noise** -- ``|a - b| <= Z * sd_diff``, ``sd_diff`` the standard deviation of
  the difference of two independent draws of that number (module notes below);
* **differs** -- anything else, NaN against a number included.

Seed noise. Every seed's number is one draw from the seed distribution (sd ``s``). A rerun
with the *same* seeds on the reference machine repeats the reference bit for bit (the
``--strict`` check); on another machine (other BLAS, CPU or GPU) the float rounding differs
in the last bits and chaotic training amplifies that into a fresh draw: each seed's number is
then as good as a new seed's. So for a number averaging ``n`` seeds in both runs,
``sd_diff = s * sqrt(1/n_ref + 1/n_rerun)`` (``s * sqrt(2/n)``; one seed: ``s * sqrt(2)``),
and for a sample sd over ``n`` seeds, ``sd_diff = s * sqrt(1/(2(n_ref-1)) + 1/(2(n_rerun-1)))``
(the normal-theory sd of a sample sd). ``s`` pools the reference's and the rerun's spreads
(root mean square; either alone where only one has it) and is, first found of:

1. a ``<metric>_sd`` column on the row (serves ``<metric>``, ``<metric>_sd`` itself and
   each value of ``<metric>_seeds``, the per-seed values); ``n`` from the table's declared
   seed-count column;
2. a ``mean ± sd`` cell (the sd serves both numbers), ``n`` as in 1;
3. per-seed rows (tables with a declared ``seed`` column): the sample sd (ddof=1) over the
   rows of the same group (the declared keys without the seed), at least two seeds; ``n=1``;
4. a ``<metric>_std`` column (the estimator's own spread: KID subsets, IS splits; a lower
   bound of the seed noise, used for a single-seed row only); ``n=1``.

A number with no spread (a single seed, a count, a ratio of means) can only be identical.

``Z = 3`` (why: docs/DECISIONS.md, "verify"). With 3 seeds a seed mean's tolerance is
``3 * sqrt(2/3) = 2.45`` seed-sd: the +10 % change of paper A's DCGAN FID (93.65 ± 10.73,
Δ = 0.87 sd) is within noise -- 3 seeds cannot tell it from seed noise -- while ``--strict``
(:attr:`Report.ok` with ``strict``: every number identical to rounding) fails on it.

Non-numeric cells must be equal as text, except the :data:`VOLATILE_COLUMNS` (skipped). A
changed set of columns, a missing or extra row, or a reference file missing from the rerun
differs too. The CLI exits 1 when anything differs (with ``--strict``, also when a number is
only within seed noise).
"""
from __future__ import annotations

import csv
import io
import math
import re
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .config import FIGURES_DIR, ROOT, get_profile

#: Tolerance in units of the sd of the rerun-minus-reference difference.
Z = 3.0
#: "Identical" = equal to rounding: relative tolerance ...
REL_TOL = 1e-9
#: ... and absolute tolerance (for numbers that are zero up to float noise).
ABS_TOL = 1e-12

#: Columns skipped because they change from one rerun to the next without the results
#: changing. Why, per column:
VOLATILE_COLUMNS = {
    "train_s": "wall-clock training time: depends on the machine and its load",
    "train_s_total": "wall-clock training time (calibration tables)",
    "eval_s": "wall-clock evaluation time",
    "seconds": "wall-clock time of an epoch",
    "worker": "address of the Dask worker that ran the job (a random port)",
    "run": "run folder name: a hash of the whole run config, which changes when a config "
           "field is added although the run's results do not",
}


@dataclass(frozen=True)
class Table:
    """How one table's rows are identified (declared, not guessed).

    ``keys``: the columns that identify a row (the seed column included for per-seed rows);
    ``seed``: per-seed rows' seed column (the group of a row = its keys without the seed);
    ``n``: the column holding the number of seeds behind a mean/sd (``<metric>_sd`` and
    ``mean ± sd`` tables).
    """
    keys: tuple[str, ...]
    seed: str | None = None
    n: str | None = None


_RUNS = Table(("model", "config", "seed"), seed="seed")
#: Every table family of ``figures/<profile>/`` by file stem.
TABLES: dict[str, Table] = {
    "00_dataset_counts": Table(("set", "kind", "label")),
    "01_augment": Table(("artist", "augment")),
    "01_explained": Table(("artist",)),   # the committed reference's keys (notebook 01 now adds "arm")
    "01_kind_classifier": Table(("artist",)),   # where the mix runs (smoke, paper)
    "01_planned_cost": Table(("arm", "artist", "seed"), seed="seed"),
    "01_stage_runs": Table(("artist", "stage", "seed"), seed="seed"),
    "01_stage_summary": Table(("artist", "stage"), n="n_seeds"),
    "01_verdicts": Table(("artist", "claim", "stage", "baseline", "metric")),
    "01b_pix2pixhd_per_seed": Table(("artist", "column", "model", "seed"), seed="seed"),
    "01b_pix2pixhd_seen_vs_new": Table(("artist", "seed"), seed="seed"),
    "01b_pix2pixhd_summary": Table(("artist", "column"), n="n_seeds"),
    "01b_pix2pixhd_table": Table(("artist", "column"), n="n_seeds"),
    "01b_pix2pixhd_verdicts": Table(("artist", "claim", "metric")),
    "02_dcgan_runs": _RUNS,
    "03_deligan_runs": _RUNS,
    "03_deligan_spread": Table(("setting", "seed"), seed="seed"),
    "04_ablation": Table(("reading", "variant", "seed"), seed="seed"),
    "04_ablation_summary": Table(("reading", "variant"), n="runs"),
    "04_live_directions": Table(("reading",)),
    "04_mean_effect": Table(("reading", "variant", "config", "seed"), seed="seed"),
    "04_n_search": Table(("N",)),   # the committed reference's keys (notebook 04 now adds
                                    # "reading": ("reading", "N") once the reference is rerun)
    "04_proposed_runs": Table(("model", "config", "N", "seed"), seed="seed"),
    "05_claims": Table(("artist", "claim", "metric")),
    "05_composition": Table(("artist", "seed", "round", "source"), seed="seed"),
    "05_rounds": Table(("artist", "seed", "round"), seed="seed"),
    "05_table1": Table(("artist", "column"), n="n_seeds"),
    "05_table1_per_seed": Table(("artist", "column", "seed"), seed="seed"),
    "05_table1_summary": Table(("artist", "column"), n="n_seeds"),
    "06_claims_audit": Table(("claim",)),   # the committed reference's keys (notebook 06 now
                                            # adds "measure" and "horizon"; rows of one claim
                                            # pair in order)
    "06_deligan_spread": Table(("model", "config", "seed"), seed="seed"),
    "08_real_deligan_spread": Table(("model", "config", "seed"), seed="seed"),
    "06_fig3_over_training": Table(("model", "config", "seed", "epoch"), seed="seed"),
    "06_instability": Table(("model", "config", "seed", "horizon"), seed="seed"),
    "06_measure_informativeness": Table(("measure",)),
    "06_metrics_per_run": _RUNS,
    "06_ratios": Table(("config", "metric", "ratio")),
    "06_table1": Table(("config", "model"), n="runs"),
    "08_real_counts": Table(("vendor",)),
    "08_real_instability": Table(("model", "config", "seed", "horizon"), seed="seed"),
    "08_real_metrics_per_run": _RUNS,
    "08_real_n_search": Table(("N",)),
    "08_real_ratios": Table(("config", "metric", "ratio")),
    "08_real_table1": Table(("config", "model"), n="runs"),
    "08_real_verdicts": Table(("claim", "measure", "horizon")),
    "08_table1_beside_standin": Table(("model",)),
    "08_verdicts_beside_standin": Table(("claim", "measure", "horizon")),
    "calibration": Table(("run", "epoch")),
    "calibration_pix2pixhd": Table(("artist", "epoch")),
    "calibration_stylegan2": Table(("epoch",)),
    "calibration_stylegan2_configs": Table(("config", "seed", "epoch"), seed="seed"),
    "calibration_stylegan2_configs_geometric": Table(("config", "seed", "epoch"), seed="seed"),
    "calibration_summary": Table(("run",)),
}

_PM = re.compile(r"^\s*([-+0-9.eEinfaINFA]+)\s*±\s*([-+0-9.eEinfaINFA]+)\s*$")


def _num(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


@dataclass
class Finding:
    """One compared number (or a structural/text difference: ``kind`` says which)."""
    file: str
    row: int
    column: str
    ref: str
    new: str
    verdict: str            # identical | noise | differs
    tol: float | None = None
    kind: str = "number"    # number | text | structure
    exact: bool = False     # identical bit for bit (or as text)

    @property
    def excess(self) -> float:
        """``|rerun - reference|`` in units of its tolerance (inf for text/structure, or
        for a changed number without one)."""
        a, b = _num(self.ref), _num(self.new)
        if a is None or b is None or self.kind != "number":
            return math.inf
        if self.tol:
            return abs(a - b) / self.tol
        return 0.0 if self.verdict == "identical" else math.inf

    def describe(self) -> str:
        where = f"{self.file} row {self.row + 1} [{self.column}]" if self.row >= 0 else \
            f"{self.file}"
        if self.kind == "structure":
            return f"{where}: {self.new}"
        extra = ""
        a, b = _num(self.ref), _num(self.new)
        if a is not None and b is not None and a != 0 and self.kind == "number":
            extra = f" ({(b - a) / abs(a):+.1%}"
            extra += f", tolerance {self.tol:.4g})" if self.tol else ", no seed spread)"
        return f"{where}: {self.ref!r} -> {self.new!r}{extra}"


@dataclass
class Report:
    files: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    strict: bool = False

    def count(self, verdict: str) -> int:
        return sum(f.verdict == verdict for f in self.findings)

    @property
    def differing(self) -> list[Finding]:
        """The failures, worst first: the differences, and with ``strict`` the numbers
        within seed noise too."""
        bad = ("differs", "noise") if self.strict else ("differs",)
        return sorted((f for f in self.findings if f.verdict in bad),
                      key=lambda f: (f.verdict != "differs", -f.excess, f.file, f.row))

    @property
    def ok(self) -> bool:
        return not self.differing

    def summary(self, worst: int = 10) -> str:
        nums = [f for f in self.findings if f.kind == "number"]
        same = [f for f in nums if f.verdict == "identical"]
        n_exact = sum(f.exact for f in same)
        lines = [
            f"verify{' --strict' if self.strict else ''}: {len(self.files)} table(s); "
            f"identical = equal to rounding (relative {REL_TOL:g}, absolute {ABS_TOL:g}); "
            f"within seed noise = within {Z:g} sd of the rerun-minus-reference difference "
            "(s x sqrt(1/n_ref + 1/n_rerun), s the seeds' sd); volatile columns skipped: "
            + ", ".join(VOLATILE_COLUMNS),
            f"  numbers: {len(nums)}  identical {len(same)} (bit-identical {n_exact}, "
            f"equal to rounding {len(same) - n_exact})"
            f"  within seed noise {sum(f.verdict == 'noise' for f in nums)}"
            f"  differing {sum(f.verdict == 'differs' for f in nums)} (beyond seed noise "
            f"{sum(f.verdict == 'differs' and bool(f.tol) for f in nums)}, without a seed "
            f"spread to judge {sum(f.verdict == 'differs' and not f.tol for f in nums)})",
            f"  text cells differing: "
            f"{sum(f.verdict == 'differs' and f.kind == 'text' for f in self.findings)};"
            f"  structural differences: "
            f"{sum(f.verdict == 'differs' and f.kind == 'structure' for f in self.findings)}",
        ]
        bad = self.differing
        if bad:
            what = "differences (strict: within seed noise counts)" if self.strict \
                else "differences"
            lines.append(f"  worst {what} ({min(worst, len(bad))} of {len(bad)}):")
            lines += [f"    {f.describe()}" for f in bad[:worst]]
        noise = sorted((f for f in self.findings if f.verdict == "noise"),
                       key=lambda f: -f.excess)
        if noise and not self.strict:
            lines.append(f"  largest within-noise changes ({min(3, len(noise))}):")
            lines += [f"    {f.describe()}" for f in noise[:3]]
        lines.append("verify: OK" if self.ok else "verify: DIFFERS")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- sources
def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise FileNotFoundError(f"git {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def reference_tables(profile: str, reference: Path | None = None) -> dict[str, str]:
    """``{file name: CSV text}`` of the reference: ``reference`` folder, else git HEAD."""
    if reference is not None:
        reference = Path(reference)
        if not reference.is_dir():
            raise NotADirectoryError(f"reference folder {reference} does not exist")
        return {p.name: p.read_text() for p in sorted(reference.glob("*.csv"))}
    rel = FIGURES_DIR.relative_to(ROOT) / profile
    names = [n for n in _git("ls-tree", "--name-only", "HEAD", f"{rel.as_posix()}/").split()
             if n.endswith(".csv")]
    if not names:
        raise FileNotFoundError(f"no committed tables under {rel}/ at HEAD")
    return {Path(n).name: _git("show", f"HEAD:{n}") for n in names}


# ----------------------------------------------------------------------------- numbers
def _same(a: str, b: str) -> tuple[bool, bool] | None:
    """(identical to rounding, bit-identical) when both cells are numbers (or both empty);
    None when either is not a number."""
    if a == b:
        return True, True
    x, y = _num(a), _num(b)
    if x is None or y is None:
        return None
    if x == y or (math.isnan(x) and math.isnan(y)):
        return True, True
    if not (math.isfinite(x) and math.isfinite(y)):
        return False, False
    return abs(x - y) <= max(REL_TOL * max(abs(x), abs(y)), ABS_TOL), False


def _pool(*sds: float | None) -> float | None:
    """Root mean square of the spreads that exist (the pooled sd of equal-sized samples)."""
    have = [s for s in sds if s is not None and math.isfinite(s)]
    return math.sqrt(sum(s * s for s in have) / len(have)) if have else None


def _classify(name, k, col, ref, new, sd_diff) -> Finding:
    """``sd_diff``: sd of (rerun - reference) under seed noise (None/0: no spread)."""
    same = _same(ref, new)
    if same and same[0]:
        return Finding(name, k, col, ref, new, "identical", exact=same[1])
    x, y = _num(ref), _num(new)
    tol = Z * sd_diff if sd_diff else None
    if (x is not None and y is not None and tol and math.isfinite(x) and math.isfinite(y)
            and abs(x - y) <= tol):
        return Finding(name, k, col, ref, new, "noise", tol)
    return Finding(name, k, col, ref, new, "differs", tol)


# ----------------------------------------------------------------------------- spreads
def _base(column: str) -> str:
    for suf in ("_sd", "_std", "_seeds"):
        if column.endswith(suf):
            return column[: -len(suf)]
    return column


def _companion(row: dict[str, str], column: str, suffix: str) -> float | None:
    v = _num(row.get(_base(column) + suffix, ""))
    return abs(v) if v is not None and math.isfinite(v) else None


def _n(row: dict[str, str], spec: Table) -> int | None:
    v = _num(row.get(spec.n, "")) if spec.n else None
    return int(v) if v is not None and math.isfinite(v) and v >= 1 else None


def _mean_factor(n_ref: int | None, n_new: int | None) -> float | None:
    """sd of (mean_rerun - mean_ref) in units of the seeds' sd."""
    if not n_ref or not n_new:
        return None
    return math.sqrt(1 / n_ref + 1 / n_new)


def _sd_factor(n_ref: int | None, n_new: int | None) -> float | None:
    """sd of (sd_rerun - sd_ref) in units of the seeds' sd (normal theory)."""
    if not n_ref or not n_new or n_ref < 2 or n_new < 2:
        return None
    return math.sqrt(1 / (2 * (n_ref - 1)) + 1 / (2 * (n_new - 1)))


def _times(s: float | None, f: float | None) -> float | None:
    return s * f if s is not None and f is not None else None


def _key(row: dict[str, str], cols) -> tuple:
    """A row's key: numbers compared as numbers (``0`` is ``0.0``), the rest as text."""
    out = []
    for c in cols:
        v = row.get(c, "")
        x = _num(v)
        out.append(repr(x) if x is not None else v.strip())
    return tuple(out)


def _group_sds(rows: list[dict[str, str]], spec: Table) -> dict[tuple[int, str], float]:
    """Per-seed rows: ``{(row index, column): sd over the row's group}`` (module doc, 3)."""
    if spec.seed is None or not rows:
        return {}
    group_cols = [c for c in spec.keys if c != spec.seed]
    groups: dict[tuple, list[int]] = {}
    for k, r in enumerate(rows):
        groups.setdefault(_key(r, group_cols), []).append(k)
    out = {}
    for members in groups.values():
        if len({rows[k].get(spec.seed, "") for k in members}) < 2:
            continue
        for c in rows[0]:
            if c in spec.keys or c in VOLATILE_COLUMNS:
                continue
            vals = [_num(rows[k][c]) for k in members]
            if any(v is None for v, k in zip(vals, members) if rows[k][c] != ""):
                continue            # a text column
            vals = [v for v in vals if v is not None and math.isfinite(v)]
            if len(vals) >= 2:
                sd = statistics.stdev(vals)
                for k in members:
                    out[(k, c)] = sd
    return out


# ----------------------------------------------------------------------------- comparing
def _spec(name: str) -> Table | None:
    return TABLES.get(Path(name).stem)


def _match(ref, new, spec) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Pairs (ref index, rerun index) of rows with equal keys (in order among equal keys);
    the reference rows missing from the rerun; the rerun's extra rows."""
    where: dict[tuple, list[int]] = {}
    for j, r in enumerate(new):
        where.setdefault(_key(r, spec.keys), []).append(j)
    pairs, missing = [], []
    for i, r in enumerate(ref):
        js = where.get(_key(r, spec.keys))
        if js:
            pairs.append((i, js.pop(0)))
        else:
            missing.append(i)
    extra = sorted(j for js in where.values() for j in js)
    return pairs, missing, extra


def compare_table(name: str, ref_text: str, new_text: str) -> list[Finding]:
    """Every finding of one CSV table (reference text vs rerun text)."""
    def structure(msg: str) -> Finding:
        return Finding(name, -1, "", "", msg, "differs", kind="structure")

    spec = _spec(name)
    if spec is None:
        return [structure(f"no row keys declared for table {Path(name).stem!r}: add it to "
                          "paperlib.verify.TABLES")]
    ref_rows, new_rows = list(csv.reader(io.StringIO(ref_text))), \
        list(csv.reader(io.StringIO(new_text)))
    if not ref_rows:
        return [] if not new_rows else [structure("the reference table is empty")]
    if not new_rows:
        return [structure("the rerun's table is empty")]
    header, new_header = ref_rows[0], new_rows[0]
    out = []
    absent = [c for c in spec.keys if c not in header]
    if absent:
        return [structure(f"declared key column(s) {absent} not in the table")]
    if set(header) != set(new_header):
        gone = [c for c in header if c not in new_header]
        added = [c for c in new_header if c not in header]
        out.append(structure(f"columns changed: removed {gone}, added {added}"))
        if any(c not in new_header for c in spec.keys):
            return out
    ref = [dict(zip(header, r)) for r in ref_rows[1:]]
    new = [dict(zip(new_header, r)) for r in new_rows[1:]]
    pairs, missing, extra = _match(ref, new, spec)
    out += [structure(f"row {dict(zip(spec.keys, _key(ref[i], spec.keys)))} (reference row "
                      f"{i + 1}) missing from the rerun") for i in missing]
    out += [structure(f"extra row {dict(zip(spec.keys, _key(new[j], spec.keys)))} (rerun "
                      f"row {j + 1})") for j in extra]
    sd_ref, sd_new = _group_sds(ref, spec), _group_sds(new, spec)
    columns = [c for c in header if c in new_header and c not in spec.keys
               and c not in VOLATILE_COLUMNS]
    for i, j in pairs:
        r, n = ref[i], new[j]
        n_r, n_n = _n(r, spec), _n(n, spec)
        for col in columns:
            a, b = r.get(col, ""), n.get(col, "")
            out += _compare_cell(name, i, col, a, b, r, n, n_r, n_n,
                                 sd_ref.get((i, col)), sd_new.get((j, col)))
    return out


def _compare_cell(name, i, col, a, b, r, n, n_r, n_n, g_ref, g_new) -> list[Finding]:
    """The findings of one cell (several for a ``± sd`` cell or a ``<metric>_seeds`` list)."""
    def seeds(sd, n_seeds):     # a spread over at least 2 seeds (one run's '± 0' is none)
        return sd if sd is not None and n_seeds is not None and n_seeds >= 2 else None

    ma, mb = _PM.match(a), _PM.match(b)
    if ma and mb:                                            # 2. a 'mean ± sd' cell
        s = _pool(seeds(_num(ma.group(2)), n_r), seeds(_num(mb.group(2)), n_n))
        s = abs(s) if s else None
        return [_classify(name, i, col, ma.group(1), mb.group(1),
                          _times(s, _mean_factor(n_r, n_n))),
                _classify(name, i, col, ma.group(2), mb.group(2),
                          _times(s, _sd_factor(n_r, n_n)))]
    s_col = _pool(seeds(_companion(r, col, "_sd"), n_r),                 # 1. <metric>_sd
                  seeds(_companion(n, col, "_sd"), n_n))
    if col.endswith("_seeds") and (";" in a or ";" in b):    # per-seed values: n = 1
        pa, pb = a.split(";"), b.split(";")
        if len(pa) != len(pb):
            return [Finding(name, i, col, a, b, "differs", kind="text")]
        return [_classify(name, i, col, x.strip(), y.strip(), _times(s_col, math.sqrt(2)))
                for x, y in zip(pa, pb)]
    same = _same(a, b)
    if same is None:                                         # text
        return [Finding(name, i, col, a, b, "identical" if a == b else "differs",
                        kind="text", exact=a == b)]
    if s_col is not None:
        if col.endswith("_sd"):
            sd_diff = _times(s_col, _sd_factor(n_r, n_n))
        elif col.endswith("_seeds"):                         # a single seed's value
            sd_diff = s_col * math.sqrt(2)
        else:
            sd_diff = _times(s_col, _mean_factor(n_r, n_n))
    elif g_ref is not None or g_new is not None:             # 3. the seed group's sd
        sd_diff = _pool(g_ref, g_new) * math.sqrt(2)
    else:                                                    # 4. the estimator's spread
        s_est = _pool(_companion(r, col, "_std"), _companion(n, col, "_std"))
        sd_diff = _times(s_est, math.sqrt(2)) if not col.endswith("_std") else None
    return [_classify(name, i, col, a, b, sd_diff)]


def verify(profile: str | None = None, reference: Path | None = None,
           rerun: Path | None = None, strict: bool = False) -> Report:
    """Compare ``rerun`` (default ``figures/<profile>/``) with the reference; a
    :class:`Report` (``report.ok`` False when anything differs; with ``strict`` also when a
    number is not identical to rounding)."""
    prof = get_profile(profile).name
    rerun = Path(rerun) if rerun is not None else FIGURES_DIR / prof
    if not rerun.is_dir():
        raise NotADirectoryError(f"rerun folder {rerun} does not exist")
    refs = reference_tables(prof, reference)
    if not refs:
        raise FileNotFoundError("the reference holds no CSV tables")
    report = Report(files=sorted(refs), strict=strict)
    for name, text in sorted(refs.items()):
        path = rerun / name
        if not path.is_file():
            report.findings.append(Finding(name, -1, "", "", "missing from the rerun",
                                           "differs", kind="structure"))
            continue
        report.findings += compare_table(name, text, path.read_text())
    return report
