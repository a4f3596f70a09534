"""``python -m paperlib selfcheck``: every registered model at the ``paper`` profile's sizes
(64 px, the papers' widths) builds, trains one step, resumes, samples and scores on CPU."""
from __future__ import annotations

from paperlib import cli
from paperlib.models import model_names


def test_selfcheck_paper_profile_on_cpu(capsys):
    rc = cli.main(["selfcheck", "--profile", "paper", "--steps", "1", "--batch", "2",
                   "--n-score", "6", "--device", "cpu"])
    out = capsys.readouterr().out
    print(out)
    assert rc == 0, out
    assert "selfcheck: OK" in out and "64 px" in out
    for name in model_names():
        assert any(line.split()[:2] == [name, "ok"] for line in out.splitlines()), name


def test_selfcheck_rejects_bad_arguments(capsys):
    assert cli.main(["selfcheck", "--profile", "paper", "--model", "nope"]) == 2
    assert cli.main(["selfcheck", "--profile", "nope"]) == 2
    assert cli.main(["selfcheck", "--profile", "smoke", "--n-score", "3"]) == 2


def test_failing_model_is_named(monkeypatch):
    from paperlib import selfcheck
    rows = selfcheck.run_selfcheck("smoke", steps=1, batch=2, n_score=1,
                                   models=[model_names()[0]])
    assert not rows[0]["ok"] and rows[0]["model"] == model_names()[0]
    table = selfcheck.format_table("smoke", rows)
    assert f"selfcheck: FAILED: {model_names()[0]}" in table
