"""The markdown files' result tables: ``<!-- table: NAME -->`` blocks in the README and
``docs/RESULTS.md`` are the committed tables ``figures/<profile>/NAME.md``;
``<!-- generated: NAME -->`` blocks are what :data:`GENERATORS` ``[NAME]`` makes of the
committed tables (the README's paper-A verdict summary). ``reproduce --publish`` and
``python -m paperlib.doc_tables`` refill both (:func:`sync_docs_tables`); tests check them
(:func:`doc_table_problems`, :func:`verdict_source_problems`)."""
from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
from pathlib import Path

import pandas as pd

from . import config
from .config import figures_dir
from .paper_a.summary import verdict_summary
from .utils.io import atomic_write_text

README = config.ROOT / "README.md"
RESULTS_DOC = config.ROOT / "docs" / "RESULTS.md"
#: The markdown files whose ``<!-- table: NAME -->`` blocks are the committed tables.
SYNCED_DOCS = (README, RESULTS_DOC)


_TABLE_BLOCK = re.compile(r"(<!-- table: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)
_TABLE_OPEN = re.compile(r"<!-- table: ([\w.-]+) -->")
#: a summary row's source: ``<!-- verdict: NAME:ROW -->`` in its verdict cell names row ROW
#: (0-based) of the committed ``figures/<profile>/NAME.csv``, whose ``verdict`` it must repeat
_VERDICT_SOURCE = re.compile(r"<!-- verdict: (?P<name>[\w.-]+):(?P<row>\d+) -->")


_GENERATED_BLOCK = re.compile(
    r"(<!-- generated: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /generated -->)", re.S)
_GENERATED_OPEN = re.compile(r"<!-- generated: ([\w.-]+) -->")


def paper_a_verdicts(fig_dir) -> str | None:
    """The README's paper-A verdict summary from ``<fig_dir>/06_claims_audit.csv``
    (:func:`paperlib.paper_a.report.verdict_summary`; the run's commit from
    ``results_manifest.json`` for a table in the format before issue 27); None without it."""
    path = Path(fig_dir) / "06_claims_audit.csv"
    if not path.is_file():
        return None
    try:
        manifest = json.loads((Path(fig_dir) / "results_manifest.json").read_text())
        commit = (manifest.get("git_commit") or "")[:7] or None
    except (OSError, ValueError):
        commit = None
    return verdict_summary(pd.read_csv(path), "06_claims_audit", commit)


#: ``<!-- generated: NAME -->`` blocks: NAME -> function(figures folder) -> markdown, or None
#: when its tables are not there.
GENERATORS = {"paper_a_verdicts": paper_a_verdicts}


def summary_rows(path) -> list[int]:
    """The rows of a committed claims table (CSV) a verdict summary must cite: those whose
    ``primary`` is true where the table has that column (the deciding rows), else all."""
    with Path(path).open(newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and "primary" in rows[0]:
        return [i for i, r in enumerate(rows) if r["primary"].strip().lower() in ("true", "1")]
    return list(range(len(rows)))


def generated_blocks(text: str) -> dict[str, str]:
    """``{name: markdown}`` of a markdown file's ``<!-- generated: NAME -->`` blocks."""
    return {m["name"]: m["body"] for m in _GENERATED_BLOCK.finditer(text)}


def table_blocks(text: str) -> dict[str, str]:
    """The tables a markdown file embeds: ``{name: markdown}`` from its
    ``<!-- table: NAME -->`` ... ``<!-- /table -->`` blocks."""
    return {m["name"]: m["body"] for m in _TABLE_BLOCK.finditer(text)}


readme_tables = table_blocks  # older name


def sync_table_blocks(doc: Path, profile: str = "cpu") -> list[str]:
    """Refill the table blocks of the markdown file ``doc`` from
    ``figures/<profile>/<name>.md``, so its results are the committed tables; returns the
    names updated (a block without a table file is left as it is)."""
    doc = Path(doc)
    text = doc.read_text()
    fig = figures_dir(profile)
    done = []

    def refill(m):
        table = fig / f"{m['name']}.md"
        if not table.exists():
            return m.group(0)
        done.append(m["name"])
        return m.group(1) + table.read_text() + m.group(4)

    def generate(m):
        make = GENERATORS.get(m["name"])
        body = make(fig) if make is not None else None
        if body is None:
            return m.group(0)
        done.append(m["name"])
        return m.group(1) + body + m.group(4)

    atomic_write_text(doc, _GENERATED_BLOCK.sub(generate, _TABLE_BLOCK.sub(refill, text)))
    return done


def sync_readme_tables(profile: str = "cpu", readme: Path = README) -> list[str]:
    """:func:`sync_table_blocks` for the README."""
    return sync_table_blocks(readme, profile)


def sync_docs_tables(profile: str = "cpu", docs=SYNCED_DOCS) -> dict[str, list[str]]:
    """:func:`sync_table_blocks` for every file of ``docs`` that exists:
    ``{path relative to the repository: names updated}``."""
    out = {}
    for doc in map(Path, docs):
        if doc.is_file():
            try:
                key = str(doc.resolve().relative_to(config.ROOT))
            except ValueError:
                key = str(doc)
            out[key] = sync_table_blocks(doc, profile)
    return out


def table_block_problems(text: str, fig_dir, repo_root=None, label: str = "README",
                         require_blocks: bool = True) -> list[str]:
    """What is wrong with a markdown text's table blocks: none at all (when
    ``require_blocks``), a block opened but not closed (or named twice), a block with no
    ``<fig_dir>/<name>.md``, one whose body differs from it, and -- given ``repo_root``, a
    git checkout -- a table file git does not track. ``label`` names the text in messages."""
    problems = []
    opened = _TABLE_OPEN.findall(text)
    tables = table_blocks(text)
    if not opened and require_blocks:
        problems.append("no table blocks")
    if sorted(opened) != sorted(tables):
        problems.append(f"malformed or repeated blocks: {sorted(opened)} vs {sorted(tables)}")
    for name, body in tables.items():
        path = Path(fig_dir) / f"{name}.md"
        if not path.is_file():
            problems.append(f"{name}: no committed {path}")
        elif body != path.read_text():
            problems.append(f"{name}: {label} block differs from {path}")
        elif repo_root is not None and subprocess.run(
                ["git", "-C", str(repo_root), "ls-files", "--error-unmatch", str(path)],
                check=False, capture_output=True).returncode != 0:
            problems.append(f"{name}: {path} is not committed")
    return problems


def generated_block_problems(text: str, fig_dir, label: str = "README") -> list[str]:
    """What is wrong with a markdown text's generated blocks: one opened but not closed (or
    named twice), one no generator knows, one whose tables are missing, and one whose body
    is not what its generator makes of ``fig_dir`` now."""
    problems = []
    opened = _GENERATED_OPEN.findall(text)
    blocks = generated_blocks(text)
    if sorted(opened) != sorted(blocks):
        problems.append(f"malformed or repeated generated blocks: {sorted(opened)} vs "
                        f"{sorted(blocks)}")
    for name, body in blocks.items():
        make = GENERATORS.get(name)
        want = make(fig_dir) if make is not None else None
        if make is None:
            problems.append(f"{name}: no generator (doc_tables.GENERATORS)")
        elif want is None:
            problems.append(f"{name}: its tables are not in {fig_dir}")
        elif body != want:
            problems.append(f"{name}: {label} block is not what it generates from {fig_dir} "
                            "(python -m paperlib.doc_tables refills it)")
    return problems


def verdict_source_problems(text: str, fig_dir, label: str = "README") -> list[str]:
    """What is wrong with a hand-written summary table's verdicts: each table row carrying
    ``<!-- verdict: NAME:ROW -->`` must end in a verdict cell that repeats (bold marks and
    the comment aside) the ``verdict`` of row ROW of ``<fig_dir>/NAME.csv``."""
    problems = []
    for line in text.splitlines():
        m = _VERDICT_SOURCE.search(line)
        if not m or not line.lstrip().startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        said = _VERDICT_SOURCE.sub("", cells[-1]).replace("*", "").strip()
        path = Path(fig_dir) / f"{m['name']}.csv"
        if not path.is_file():
            problems.append(f"{m['name']}:{m['row']}: no committed {path}")
            continue
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        row = int(m["row"])
        if row >= len(rows) or "verdict" not in rows[row]:
            problems.append(f"{m['name']}:{row}: {path} has no verdict in that row")
        elif rows[row]["verdict"].strip() != said:
            problems.append(f"{m['name']}:{row}: {label} says {said!r}, "
                            f"{path.name} says {rows[row]['verdict']!r}")
    return problems


def doc_table_problems(doc: Path, fig_dir, repo_root=None, require_blocks: bool = True) -> list[str]:
    """:func:`table_block_problems`, :func:`generated_block_problems` and
    :func:`verdict_source_problems` for the markdown file ``doc`` (a missing file is a
    problem)."""
    doc = Path(doc)
    if not doc.is_file():
        return [f"no file {doc}"]
    text = doc.read_text()
    return (table_block_problems(text, fig_dir, repo_root, label=doc.name,
                                 require_blocks=require_blocks)
            + generated_block_problems(text, fig_dir, label=doc.name)
            + verdict_source_problems(text, fig_dir, label=doc.name))


def main(argv=None) -> int:
    """``python -m paperlib.doc_tables [--profile cpu]``: refill the docs' table and
    generated blocks from ``figures/<profile>/`` and print what changed."""
    ap = argparse.ArgumentParser(prog="python -m paperlib.doc_tables",
                                 description="Refill the README's and docs/RESULTS.md's "
                                             "result blocks from the committed tables.")
    ap.add_argument("--profile", default="cpu")
    args = ap.parse_args(argv)
    for doc, names in sync_docs_tables(args.profile).items():
        print(f"{doc}: {', '.join(names) or 'no blocks refilled'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
