"""``python -m paperlib verify``: compare a rerun's tables with the committed reference.

:func:`verify` reads every ``*.csv`` of the reference (``git show HEAD:figures/P/<file>``,
or ``--reference DIR``) and the same file of the rerun (``figures/P/`` or ``--rerun DIR``)
and classifies each number:

* **identical** -- the same value (``1`` and ``1.0`` are; two empty cells are);
* **within seed noise** -- ``|rerun - reference| <= K_SIGMA * sd``, ``sd`` the reference
  table's own per-seed spread of that number, first found of:

  1. a companion ``<metric>_sd`` column on the row (serves ``<metric>``, itself and each
     value of ``<metric>_seeds``);
  2. a ``mean ± sd`` cell (the sd serves both numbers);
  3. per-seed rows: the sample sd (ddof=1) over the rows with a ``seed`` column that agree
     on every key column (non-numeric columns and :data:`KEY_COLUMNS`), at least two seeds;
  4. a companion ``<metric>_std`` column (the estimator's own spread: a lower bound);

  a number with no spread can only be identical;
* **differs** -- anything else.

Non-numeric cells must be equal as text, except the :data:`VOLATILE_COLUMNS` (skipped). A
changed header or row count, or a reference file missing from the rerun, differs too. The
CLI exits 1 when anything differs.
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

#: Tolerance in units of the table's own per-seed sd (why 3: docs/DECISIONS.md, "verify").
K_SIGMA = 3.0

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

#: Numeric columns that locate a number rather than measure it (grouping keys of per-seed
#: rows, together with every non-numeric column).
KEY_COLUMNS = ("epoch", "epochs", "epochs_trained", "kimg", "round", "N", "n", "n_real",
               "n_fake", "n_seeds", "n_images", "images_total")

_SD_SUFFIXES = ("_sd", "_std")
_PM = re.compile(r"^\s*([-+0-9.eEinfa]+)\s*±\s*([-+0-9.eEinfa]+)\s*$")


def _num(text: str) -> float | None:
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v


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

    @property
    def excess(self) -> float:
        """How far past its tolerance (in sd when there is one; inf for text/structure)."""
        a, b = _num(self.ref), _num(self.new)
        if a is None or b is None:
            return math.inf
        if self.tol:
            return abs(a - b) / (self.tol / K_SIGMA)
        return math.inf if a != b else 0.0

    def describe(self) -> str:
        where = f"{self.file} row {self.row + 1} [{self.column}]" if self.row >= 0 else \
            f"{self.file}"
        if self.kind == "structure":
            return f"{where}: {self.new}"
        extra = ""
        a, b = _num(self.ref), _num(self.new)
        if a is not None and b is not None and a != 0:
            extra = f" ({(b - a) / abs(a):+.1%}"
            extra += f", tolerance {self.tol:.4g})" if self.tol else ", no seed spread)"
        return f"{where}: {self.ref!r} -> {self.new!r}{extra}"


@dataclass
class Report:
    files: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(f.verdict == verdict for f in self.findings)

    @property
    def differing(self) -> list[Finding]:
        return sorted((f for f in self.findings if f.verdict == "differs"),
                      key=lambda f: (-f.excess, f.file, f.row))

    @property
    def ok(self) -> bool:
        return not self.differing

    def summary(self, worst: int = 10) -> str:
        nums = [f for f in self.findings if f.kind == "number"]
        lines = [
            f"verify: {len(self.files)} table(s); tolerance = {K_SIGMA:g} x the table's "
            "per-seed sd (its <metric>_sd column, a 'mean ± sd' cell, or the sd over the seed "
            "rows of the same group; else a <metric>_std estimator spread); volatile columns "
            "skipped: "
            + ", ".join(VOLATILE_COLUMNS),
            f"  numbers: {len(nums)}  identical {sum(f.verdict == 'identical' for f in nums)}"
            f"  within seed noise {sum(f.verdict == 'noise' for f in nums)}"
            f"  differing {sum(f.verdict == 'differs' for f in nums)}",
            f"  text cells differing: "
            f"{sum(f.verdict == 'differs' and f.kind == 'text' for f in self.findings)};"
            f"  structural differences: "
            f"{sum(f.verdict == 'differs' and f.kind == 'structure' for f in self.findings)}",
        ]
        bad = self.differing
        if bad:
            lines.append(f"  worst differences ({min(worst, len(bad))} of {len(bad)}):")
            lines += [f"    {f.describe()}" for f in bad[:worst]]
        noise = sorted((f for f in self.findings if f.verdict == "noise"),
                       key=lambda f: -f.excess)
        if noise:
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


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# ----------------------------------------------------------------------------- tolerances
def _sd_of(cells: dict[str, str], column: str, suffixes=("_sd",)) -> float | None:
    """The companion spread of ``column`` on one row (a ``<metric><suffix>`` column)."""
    base = column
    for suf in (*_SD_SUFFIXES, "_seeds"):
        if column.endswith(suf):
            base = column[: -len(suf)]
            break
    for suf in suffixes:
        v = _num(cells.get(base + suf, ""))
        if v is not None and math.isfinite(v):
            return abs(v)
    return None


def _group_sds(header: list[str], rows: list[list[str]]) -> dict[tuple[int, str], float]:
    """Per-seed rows: ``{(row index, column): sd over the row's group}`` (module docstring, 3)."""
    if "seed" not in header:
        return {}
    numeric = [c for i, c in enumerate(header)
               if c not in VOLATILE_COLUMNS and c not in KEY_COLUMNS and c != "seed"
               and any(r[i] != "" for r in rows)
               and all(r[i] == "" or _num(r[i]) is not None for r in rows)]
    keys = [i for i, c in enumerate(header)
            if c not in numeric and c != "seed" and c not in VOLATILE_COLUMNS]
    groups: dict[tuple, list[int]] = {}
    for k, r in enumerate(rows):
        groups.setdefault(tuple(r[i] for i in keys), []).append(k)
    out = {}
    for members in groups.values():
        if len({rows[k][header.index("seed")] for k in members}) < 2:
            continue
        for c in numeric:
            i = header.index(c)
            vals = [_num(rows[k][i]) for k in members if rows[k][i] != ""]
            vals = [v for v in vals if v is not None and math.isfinite(v)]
            if len(vals) >= 2:
                sd = statistics.stdev(vals)
                for k in members:
                    out[(k, c)] = sd
    return out


# ----------------------------------------------------------------------------- comparing
def _same_number(a: str, b: str) -> bool | None:
    """True/False when both cells are numbers (or both empty); None when not numeric."""
    if a == b:
        return True
    x, y = _num(a), _num(b)
    if x is None or y is None:
        return None
    return x == y or (math.isnan(x) and math.isnan(y))


def _classify(name, k, col, ref, new, sd) -> Finding:
    if _same_number(ref, new):
        return Finding(name, k, col, ref, new, "identical")
    x, y = _num(ref), _num(new)
    tol = K_SIGMA * sd if sd else None
    if (x is not None and y is not None and tol and math.isfinite(x) and math.isfinite(y)
            and abs(x - y) <= tol):
        return Finding(name, k, col, ref, new, "noise", tol)
    return Finding(name, k, col, ref, new, "differs", tol)


def compare_table(name: str, ref_text: str, new_text: str) -> list[Finding]:
    """Every finding of one CSV table (reference text vs rerun text)."""
    ref, new = _rows(ref_text), _rows(new_text)
    if not ref:
        return [Finding(name, -1, "", "", "", "identical" if not new else "differs",
                        kind="structure")]
    if not new or new[0] != ref[0]:
        got = new[0] if new else []
        return [Finding(name, -1, "", "", f"header changed: {ref[0]} -> {got}", "differs",
                        kind="structure")]
    header, ref, new = ref[0], ref[1:], new[1:]
    out = []
    if len(ref) != len(new):
        out.append(Finding(name, -1, "", "", f"{len(ref)} rows -> {len(new)} rows",
                           "differs", kind="structure"))
    group_sd = _group_sds(header, ref)
    for k, (r, n) in enumerate(zip(ref, new)):
        cells = dict(zip(header, r))
        for col, a, b in zip(header, r, n):
            if col in VOLATILE_COLUMNS:
                continue
            sd = _sd_of(cells, col)                 # 1. the <metric>_sd column
            if sd is None:                          # 3. sd over the row's seed group
                sd = group_sd.get((k, col))
            if sd is None:                          # 4. the estimator's <metric>_std
                sd = _sd_of(cells, col, ("_std",))
            if col.endswith("_seeds") and (";" in a or ";" in b):
                pa, pb = a.split(";"), b.split(";")
                if len(pa) != len(pb):
                    out.append(Finding(name, k, col, a, b, "differs", kind="text"))
                    continue
                out += [_classify(name, k, col, x.strip(), y.strip(), sd)
                        for x, y in zip(pa, pb)]
                continue
            ma, mb = _PM.match(a), _PM.match(b)
            if ma and mb:
                pm_sd = _num(ma.group(2))
                for x, y in zip(ma.groups(), mb.groups()):
                    out.append(_classify(name, k, col, x, y, abs(pm_sd) if pm_sd else None))
                continue
            same = _same_number(a, b)
            if same is None:   # text
                out.append(Finding(name, k, col, a, b, "identical" if a == b else "differs",
                                   kind="text"))
            else:
                out.append(_classify(name, k, col, a, b, sd))
    return out


def verify(profile: str | None = None, reference: Path | None = None,
           rerun: Path | None = None) -> Report:
    """Compare ``rerun`` (default ``figures/<profile>/``) with the reference; a
    :class:`Report` (``report.ok`` False when anything differs)."""
    prof = get_profile(profile).name
    rerun = Path(rerun) if rerun is not None else FIGURES_DIR / prof
    if not rerun.is_dir():
        raise NotADirectoryError(f"rerun folder {rerun} does not exist")
    refs = reference_tables(prof, reference)
    if not refs:
        raise FileNotFoundError("the reference holds no CSV tables")
    report = Report(files=sorted(refs))
    for name, text in sorted(refs.items()):
        path = rerun / name
        if not path.is_file():
            report.findings.append(Finding(name, -1, "", "", "missing from the rerun",
                                           "differs", kind="structure"))
            continue
        report.findings += compare_table(name, text, path.read_text())
    return report
