"""The README's paper-A verdict summary (:func:`verdict_summary`): the claims audit's
deciding rows (:func:`~paperlib.paper_a.report.claims_audit`), each labelled with what was
tested; :mod:`paperlib.doc_tables` fills the README's ``<!-- generated: paper_a_verdicts -->``
block with it."""
from __future__ import annotations

import re

import pandas as pd

from .report import (
    MODEL_LABELS,
    PAPER_A_TEXT_RATIOS,
    STABILITY_CONTRASTS,
    paper_words,
    ratio_claim,
)

#: How the README's verdict summary names each instability measure.
MEASURE_WORDS = {"rule": "5 D-wins epochs in a row", "window": "sliding-window D-wins share",
                 "fid_rise": "FID rise", "overfit": "ADA's r_v on held-out images"}


_CONTRAST_FIGS = {"dcgan": "Fig. 2a vs 2c", "deligan": "Fig. 2b vs 2c"}


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _split_reason(reason: str, head: str) -> tuple[str, str]:
    """``(note, core)``: what a gate or a collapsed baseline put before the comparison's
    own reason (which starts with ``head``), and that reason."""
    i = str(reason).find(head)
    return ("", str(reason)) if i < 0 else (str(reason)[:i].rstrip("; "), str(reason)[i:])


def verdict_summary(audit: pd.DataFrame, source: str = "06_claims_audit",
                    commit: str | None = None) -> str:
    """The README's paper-A verdict table (markdown) from a claims audit as saved in
    ``figures/<profile>/<source>.csv``: one row per deciding (``primary``) row, labelled
    with what was tested, the verdict cell carrying ``<!-- verdict: <source>:<row> -->``
    (:mod:`paperlib.doc_tables` checks it). An audit without ``primary`` (one row per claim,
    before issue 27) gives every row under a note that it is the previous reference run's
    (``commit``)."""
    if "primary" not in audit:
        return _old_verdict_summary(audit, source, commit)
    contrasts = {text: base for base, text in STABILITY_CONTRASTS}
    ratios = {ratio_claim(col, base): (col, base) for col in PAPER_A_TEXT_RATIOS
              for base in ("dcgan", "deligan")}
    lines = ["| claim, as tested | paper | here | verdict |", "| --- | --- | --- | --- |"]
    for i, r in audit.iterrows():
        if not _truthy(r["primary"]):
            continue
        if r.claim in contrasts:
            base = contrasts[r.claim]
            tested = (f"proposed more stable than {MODEL_LABELS[base]} "
                      f"({MEASURE_WORDS.get(r.measure, r.measure)}, {int(r.horizon)} epochs)")
            paper = _CONTRAST_FIGS[base]
            note, core = _split_reason(r.reason, "proposed unstable in")
            here = core.split("; onsets")[0]
        elif r.claim in ratios:
            col, base = ratios[r.claim]
            tested = f"{col.upper()} proposed/{MODEL_LABELS[base]} = {r['paper ratio']:.2f} (paper)"
            paper = f"Table 1; text: {paper_words(col, base)}"
            note, core = _split_reason(r.reason, "proposed / ")
            here = (core if pd.isna(r.ratio) else
                    f"{r.ratio:.2f} (under 2 seeds: no interval)" if pd.isna(r["ratio low"])
                    else f"{r.ratio:.2f}, 95 % CI [{r['ratio low']:.2f}, "
                         f"{r['ratio high']:.2f}], paired by seed")
        else:
            tested, paper, note, here = r.claim, "", "", str(r.reason)
        here = f"{here}; {note}" if note else here
        lines.append(f"| {_cell(tested)} | {_cell(paper)} | {_cell(here)} | "
                     f"{_verdict_cell(r.verdict, source, i)} |")
    return "\n".join(lines) + "\n"


def _truthy(x) -> bool:
    return str(x).strip().lower() in ("true", "1") if isinstance(x, str) else bool(x)


def _verdict_cell(verdict: str, source: str, row: int) -> str:
    shown = f"**{verdict}**" if str(verdict).startswith("supported") else verdict
    return f"{shown} <!-- verdict: {source}:{row} -->"


def _old_verdict_summary(audit: pd.DataFrame, source: str, commit: str | None) -> str:
    """:func:`verdict_summary` of a claims table without ``primary`` (before issue 27)."""
    run = f"the previous reference run (commit {commit})" if commit else \
        "the previous reference run"
    lines = [f"*From {run}, whose claims table predates the deciding rows: one verdict per "
             "claim, the stability claims per model by the 5-epochs-in-a-row D-wins rule, "
             "FID and IS as differences against no effect. The next reference run replaces "
             "it with the deciding rows: contrasts with the proposed model on the "
             "sliding-window D-wins share at 200 epochs, and Table 1's ratios against the "
             "paper's effect sizes.*", "",
             "| claim | tested by | here | verdict |", "| --- | --- | --- | --- |"]
    for i, r in audit.iterrows():
        fragile = str(r.get("fragile", ""))
        if fragile.startswith("n/a"):
            how = "difference against no effect (Welch 95 % CI)"
        else:
            m = re.search(r"(\d+) epochs", str(r.get("scale", "")))
            how = "per model: 5 D-wins epochs in a row" + (f", {m[1]} epochs" if m else "")
        here = str(r.reason) + (f"; *{fragile}*" if fragile.startswith("fragile") else "")
        lines.append(f"| {_cell(r.claim)} | {how} | {_cell(here)} | "
                     f"{_verdict_cell(r.verdict, source, i)} |")
    return "\n".join(lines) + "\n"
