import json
import os
import re
import shutil
import subprocess

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from paperlib import cli, config, doc_tables, engine, plots, publish, reproduce


def _write_nb(path, *sources):
    cells = [new_code_cell(src) for src in sources]
    cells[0].metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "paperlib", "display_name": "paperlib",
                                 "language": "python"}
    nbformat.write(nb, path)


def test_notebooks_are_numbered_and_ordered():
    paths = reproduce.notebook_paths()
    names = [p.name for p in paths]
    assert names == sorted(names) and names[0].startswith("00_")
    # 01b (the conditional route) runs right after 01 and before 02
    i = names.index("01b_conditional_route.ipynb")
    assert names[i - 1].startswith("01_") and names[i + 1].startswith("02_")


def test_every_notebook_has_a_profile_parameter_cell():
    for path in reproduce.notebook_paths():
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path.name
        assert "PAPERLIB_PROFILE" in tagged[0].source and "profile" in tagged[0].source


def test_papermill_injects_profile(tmp_path):
    nb = tmp_path / "01_ok.ipynb"
    _write_nb(nb, "profile = 'cpu'", "from pathlib import Path\nPath('seen.txt').write_text(profile)")
    out = reproduce.run_notebook(nb, "smoke", tmp_path / "executed", progress=False)
    assert out.exists() and (tmp_path / "seen.txt").read_text() == "smoke"


def test_failing_notebook_names_notebook_and_cell_and_keeps_copy(tmp_path):
    nb = tmp_path / "02_bad.ipynb"
    _write_nb(nb, "profile = 'cpu'", "x = 1", "raise RuntimeError('boom')")
    with pytest.raises(reproduce.NotebookFailed) as err:
        reproduce.run_notebook(nb, "smoke", tmp_path / "executed", progress=False)
    msg = str(err.value)
    assert "02_bad.ipynb" in msg and "boom" in msg and "cell" in msg
    assert (tmp_path / "executed" / "02_bad.ipynb").exists()


def test_environment_info_names_versions():
    info = reproduce.environment_info()
    assert info["versions"]["torch"].startswith("2.14.1")
    assert info["machine"]["cpu_count"] >= 1
    json.dumps(info)  # serialisable


def test_figures_dir_is_per_profile():
    assert config.figures_dir("smoke") == config.FIGURES_DIR / "smoke"


def test_publish_drops_the_injected_profile(tmp_path, monkeypatch):
    src = tmp_path / "notebooks"
    src.mkdir()
    _write_nb(src / "01_ok.ipynb", "import os\nprofile = os.environ.get('PAPERLIB_PROFILE', 'cpu')",
              "print(profile)")
    monkeypatch.setattr(publish, "executed_dir", lambda profile: tmp_path / "executed")
    reproduce.run_notebook(src / "01_ok.ipynb", "smoke", tmp_path / "executed", progress=False)
    executed = nbformat.read(tmp_path / "executed" / "01_ok.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    assert publish.publish_executed("smoke", src) == [src / "01_ok.ipynb"]
    published = nbformat.read(src / "01_ok.ipynb", as_version=4)
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in published.cells)
    assert published.cells[-1].outputs[0]["text"].strip() == "smoke"   # outputs kept


def _readme_table_problems(text, fig_dir, repo_root=None):
    return doc_tables.table_block_problems(text, fig_dir, repo_root)


def _git_root():
    root = doc_tables.README.parent
    return root if (root / ".git").exists() and shutil.which("git") else None


@pytest.mark.parametrize("doc, require_blocks", [(doc_tables.README, False),
                                                 (doc_tables.RESULTS_DOC, True)],
                         ids=["README.md", "docs/RESULTS.md"])
def test_doc_results_are_the_committed_tables(doc, require_blocks):
    """The README's and docs/RESULTS.md's table blocks are the committed tables, and the
    README's hand-written verdict summary repeats the committed verdicts."""
    assert doc in doc_tables.SYNCED_DOCS
    assert doc_tables.doc_table_problems(doc, config.FIGURES_DIR / "cpu", _git_root(),
                                        require_blocks=require_blocks) == []


def test_results_doc_holds_the_detailed_tables():
    blocks = doc_tables.table_blocks(doc_tables.RESULTS_DOC.read_text())
    for name in ("06_table1", "06_claims_audit", "05_table1_summary", "05_claims",
                 "01b_pix2pixhd_summary", "01b_pix2pixhd_verdicts", "calibration_summary"):
        assert name in blocks, name


def test_readme_verdict_summary_cites_every_claim():
    """Every deciding row of the committed claims tables (every row of a table without
    ``primary``) has a row in the README's summary."""
    text = doc_tables.README.read_text()
    cited = set(re.findall(r"<!-- verdict: ([\w.-]+:\d+) -->", text))
    fig = config.FIGURES_DIR / "cpu"
    for name in ("06_claims_audit", "05_claims", "01b_pix2pixhd_verdicts"):
        rows = doc_tables.summary_rows(fig / f"{name}.csv")
        assert rows and {f"{name}:{i}" for i in rows} <= cited, name


def test_readme_paper_a_summary_is_generated_from_the_claims_audit():
    blocks = doc_tables.generated_blocks(doc_tables.README.read_text())
    assert set(blocks) == {"paper_a_verdicts"}
    fig = config.FIGURES_DIR / "cpu"
    assert blocks["paper_a_verdicts"] == doc_tables.paper_a_verdicts(fig)
    if "primary" not in (fig / "06_claims_audit.csv").read_text().splitlines()[0]:
        commit = json.loads((fig / "results_manifest.json").read_text())["git_commit"][:7]
        assert blocks["paper_a_verdicts"].startswith(
            f"*From the previous reference run (commit {commit}), whose claims table predates "
            "the deciding rows")


def test_summary_rows_are_the_primary_rows_when_there_are_any(tmp_path):
    new = tmp_path / "new.csv"
    new.write_text("claim,primary,verdict\nA,True,supported\nB,False,x\nC,True,y\n")
    old = tmp_path / "old.csv"
    old.write_text("claim,verdict\nA,supported\nB,x\n")
    assert doc_tables.summary_rows(new) == [0, 2] and doc_tables.summary_rows(old) == [0, 1]


def _claims_csv(fig, primary=True):
    fig.mkdir(exist_ok=True)
    head = "claim,measure,horizon,primary,verdict,reason,ratio,ratio low,ratio high,paper ratio"
    rows = ["Other claim,x,,True,supported,because,,,,", "Beside,x,150,False,not supported,no,,,,"]
    if not primary:
        head, rows = "claim,verdict,reason,fragile,scale", ["Old claim,supported,r,robust,s"]
    (fig / "06_claims_audit.csv").write_text("\n".join([head, *rows]) + "\n")


def test_generated_blocks_are_refilled_and_checked(tmp_path, monkeypatch):
    fig = tmp_path / "figs"
    _claims_csv(fig)
    doc = tmp_path / "README.md"
    block = "x\n<!-- generated: paper_a_verdicts -->\n{}<!-- /generated -->\ny\n"
    doc.write_text(block.format("stale\n"))
    assert doc_tables.generated_block_problems(doc.read_text(), fig) == [
        f"paper_a_verdicts: README block is not what it generates from {fig} "
        "(python -m paperlib.doc_tables refills it)"]
    monkeypatch.setattr(doc_tables, "figures_dir", lambda profile: fig)
    assert doc_tables.sync_table_blocks(doc, "cpu") == ["paper_a_verdicts"]
    body = doc_tables.generated_blocks(doc.read_text())["paper_a_verdicts"]
    assert body == ("| claim, as tested | paper | here | verdict |\n| --- | --- | --- | --- |\n"
                    "| Other claim |  | because | **supported** "
                    "<!-- verdict: 06_claims_audit:0 --> |\n")
    assert doc_tables.doc_table_problems(doc, fig, require_blocks=False) == []
    # the verdict check reads the generated rows too
    (fig / "06_claims_audit.csv").write_text(
        (fig / "06_claims_audit.csv").read_text().replace("True,supported", "True,x"))
    problems = doc_tables.doc_table_problems(doc, fig, require_blocks=False)
    assert problems[0].startswith("paper_a_verdicts: README.md block is not what")
    assert problems[1] == "06_claims_audit:0: README.md says 'supported', 06_claims_audit.csv says 'x'"
    # no generator, no tables, an unclosed block
    assert doc_tables.generated_block_problems(block.format("") .replace(
        "paper_a_verdicts", "nope"), fig) == ["nope: no generator (doc_tables.GENERATORS)"]
    assert doc_tables.generated_block_problems(block.format(""), tmp_path / "empty") == [
        f"paper_a_verdicts: its tables are not in {tmp_path / 'empty'}"]
    unclosed = "<!-- generated: paper_a_verdicts -->\n| a |\n"
    assert doc_tables.generated_block_problems(unclosed, fig)[0].startswith("malformed")


def test_generated_summary_of_an_old_claims_table_says_whose_it_is(tmp_path):
    fig = tmp_path / "figs"
    _claims_csv(fig, primary=False)
    body = doc_tables.paper_a_verdicts(fig)
    assert body.startswith("*From the previous reference run, whose claims table predates")
    assert body.endswith("| Old claim | per model: 5 D-wins epochs in a row | r | **supported** "
                         "<!-- verdict: 06_claims_audit:0 --> |\n")
    (fig / "results_manifest.json").write_text(json.dumps({"git_commit": "abcdef0123"}))
    assert doc_tables.paper_a_verdicts(fig).startswith(
        "*From the previous reference run (commit abcdef0), whose")


def test_readme_table_check_catches_missing_stale_and_broken_blocks(tmp_path):
    fig = tmp_path / "figs"
    fig.mkdir()
    (fig / "t1.md").write_text("| a |\n|---|\n| 1 |\n")
    block = "<!-- table: {} -->\n{}<!-- /table -->\n"
    good = "x\n" + block.format("t1", "| a |\n|---|\n| 1 |\n")
    assert _readme_table_problems(good, fig) == []
    missing = good + block.format("t2", "| b |\n")
    assert _readme_table_problems(missing, fig) == [f"t2: no committed {fig / 't2.md'}"]
    stale = "x\n" + block.format("t1", "| a |\n|---|\n| 2 |\n")
    assert _readme_table_problems(stale, fig) == [f"t1: README block differs from {fig / 't1.md'}"]
    unclosed = good + "<!-- table: t1b -->\n| c |\n"
    assert _readme_table_problems(unclosed, fig)[0].startswith("malformed")
    assert _readme_table_problems("no tables here\n", fig) == ["no table blocks"]
    assert doc_tables.table_block_problems("no tables here\n", fig, require_blocks=False) == []
    # a table file git does not track is not committed
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
        assert _readme_table_problems(good, fig, tmp_path) == [
            f"t1: {fig / 't1.md'} is not committed"]
        subprocess.run(["git", "-C", str(tmp_path), "add", "figs/t1.md"], check=True)
        assert _readme_table_problems(good, fig, tmp_path) == []


def test_results_doc_check_catches_stale_missing_and_broken_blocks(tmp_path):
    """The same check on a copy of docs/RESULTS.md: one changed number, a block whose
    table is not there, an unclosed block and a missing file each fail."""
    fig = config.FIGURES_DIR / "cpu"
    text = doc_tables.RESULTS_DOC.read_text()
    doc = tmp_path / "RESULTS.md"
    doc.write_text(text)
    assert doc_tables.doc_table_problems(doc, fig) == []
    body = doc_tables.table_blocks(text)["06_table1"]
    number = re.search(r"\d+\.\d+", body).group()   # the block's first decimal number
    changed = body.replace(number, f"{float(number) * 1.1:.2f}", 1)
    assert changed != body
    doc.write_text(text.replace(body, changed))
    assert doc_tables.doc_table_problems(doc, fig) == [
        f"06_table1: RESULTS.md block differs from {fig / '06_table1.md'}"]
    doc.write_text(text + "<!-- table: no_such_table -->\n| a |\n<!-- /table -->\n")
    assert doc_tables.doc_table_problems(doc, fig) == [
        f"no_such_table: no committed {fig / 'no_such_table.md'}"]
    doc.write_text(text.replace("<!-- /table -->", "", 1))
    assert any(p.startswith("malformed") or "differs" in p
               for p in doc_tables.doc_table_problems(doc, fig))
    assert doc_tables.doc_table_problems(tmp_path / "absent.md", fig) == [
        f"no file {tmp_path / 'absent.md'}"]


def test_verdict_summary_check_catches_a_wrong_verdict(tmp_path):
    fig = tmp_path / "figs"
    fig.mkdir()
    (fig / "claims.csv").write_text("claim,verdict\nA,supported\nB,not supported\n")
    good = ("| claim | verdict |\n|---|---|\n| A | **supported** <!-- verdict: claims:0 --> |\n"
            "| B | not supported <!-- verdict: claims:1 --> |\n")
    assert doc_tables.verdict_source_problems(good, fig) == []
    wrong = good.replace("**supported**", "not testable here")
    assert doc_tables.verdict_source_problems(wrong, fig) == [
        "claims:0: README says 'not testable here', claims.csv says 'supported'"]
    assert doc_tables.verdict_source_problems(good.replace("claims:1", "claims:7"), fig) == [
        f"claims:7: {fig / 'claims.csv'} has no verdict in that row"]
    assert doc_tables.verdict_source_problems(good.replace("claims:1", "other:1"), fig) == [
        f"other:1: no committed {fig / 'other.csv'}"]


def test_sync_readme_tables_refills_blocks(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- table: t1 -->\nold\n<!-- /table -->\ny\n")
    fig = tmp_path / "figs"
    fig.mkdir()
    (fig / "t1.md").write_text("| a |\n|---|\n| 1 |\n")
    monkeypatch.setattr(doc_tables, "figures_dir", lambda profile: fig)
    assert doc_tables.sync_readme_tables("cpu", readme) == ["t1"]
    assert doc_tables.readme_tables(readme.read_text()) == {"t1": "| a |\n|---|\n| 1 |\n"}


def test_sync_docs_tables_refills_every_doc(tmp_path, monkeypatch):
    fig = tmp_path / "figs"
    fig.mkdir()
    (fig / "t1.md").write_text("| a |\n|---|\n| 1 |\n")
    (fig / "t2.md").write_text("| b |\n|---|\n| 2 |\n")
    readme, results = tmp_path / "README.md", tmp_path / "docs" / "RESULTS.md"
    results.parent.mkdir()
    readme.write_text("x\n<!-- table: t1 -->\nold\n<!-- /table -->\n")
    results.write_text("y\n<!-- table: t2 -->\nold\n<!-- /table -->\n<!-- table: gone -->\nkept\n<!-- /table -->\n")
    monkeypatch.setattr(doc_tables, "figures_dir", lambda profile: fig)
    done = doc_tables.sync_docs_tables("cpu", (readme, results, tmp_path / "absent.md"))
    assert sorted(done.values()) == [["t1"], ["t2"]] and len(done) == 2
    assert doc_tables.table_blocks(results.read_text()) == {"t2": "| b |\n|---|\n| 2 |\n",
                                                           "gone": "kept\n"}
    assert doc_tables.doc_table_problems(readme, fig) == []


# ----------------------------------------------------------------------------- scheduler
def test_reproduce_rejects_a_bad_scheduler_before_running(monkeypatch, capsys):


    monkeypatch.delenv(engine.parallel.SCHEDULER_ENV, raising=False)
    with pytest.raises(ValueError, match="bogus"):
        reproduce.reproduce("smoke", scheduler="bogus")
    assert cli.main(["reproduce", "--profile", "smoke", "--scheduler", "bogus"]) == 2
    err = capsys.readouterr().err
    assert "bogus" in err and "tcp://" in err
    monkeypatch.setenv(engine.parallel.SCHEDULER_ENV, "nonsense")  # a bad environment fails early too
    with pytest.raises(ValueError, match=engine.parallel.SCHEDULER_ENV):
        reproduce.reproduce("smoke")


def test_reproduce_passes_the_scheduler_to_the_kernels(tmp_path, monkeypatch):


    monkeypatch.delenv(engine.parallel.SCHEDULER_ENV, raising=False)
    nb = tmp_path / "01_env.ipynb"
    _write_nb(nb, "profile = 'cpu'",
              "import os\nfrom pathlib import Path\n"
              "Path('scheduler.txt').write_text(os.environ.get('PAPERLIB_SCHEDULER', 'unset'))")
    monkeypatch.setattr(reproduce, "notebook_paths", lambda: [nb])
    monkeypatch.setattr(reproduce, "executed_dir", lambda profile: tmp_path / "executed")
    monkeypatch.setattr(reproduce, "figures_dir", lambda profile: tmp_path / "figs")
    monkeypatch.setattr(config, "runs_dir", lambda profile: tmp_path / "runs")
    manifest = reproduce.reproduce("smoke", progress=False, scheduler="tcp://10.0.0.1:8786")
    assert (tmp_path / "scheduler.txt").read_text() == "tcp://10.0.0.1:8786"
    assert engine.parallel.SCHEDULER_ENV not in os.environ   # restored afterwards
    saved = json.loads((tmp_path / "figs" / "results_manifest.json").read_text())
    assert saved["scheduler"] == manifest["scheduler"] == "tcp://10.0.0.1:8786"
    assert saved["notebooks"][0]["name"] == "01_env.ipynb" and saved["runs"] == []
    # the machine's speed against the reference's, measured before the notebooks
    probe = saved["machine"]["step_probe"]
    assert {"dcgan", "stylegan2"} <= set(probe) and probe["stylegan2"]["s_per_kimg"] > 0


# ----------------------------------------------------------------------------- run records
def test_run_records_list_each_training_run(tmp_path):
    import torch



    images = torch.rand(20, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    root = tmp_path / "runs"
    cfg = engine.make_config(model="dcgan", epochs=2, seed=3, res=32, ngf=4, ndf=4, nz=16,
                        batch_size=10, device="cpu")
    res = engine.train(cfg, images, root / "paper_a" / "dcgan-run", progress=False)
    # an older run: no "executed" in status.json, no kimg column in log.csv
    old = root / "paper_b" / "old-run"
    shutil.copytree(root / "paper_a" / "dcgan-run", old)
    status = json.loads((old / "status.json").read_text())
    del status["executed"]
    (old / "status.json").write_text(json.dumps(status))
    lines = (old / "log.csv").read_text().splitlines()
    header = lines[0].split(",")
    k = header.index("kimg")
    (old / "log.csv").write_text("\n".join(",".join(c for i, c in enumerate(line.split(","))
                                                    if i != k) for line in lines) + "\n")
    (root / "paper_a" / "feature_cache").mkdir()
    (root / "paper_a" / "feature_cache" / "config.json").write_text('{"not": "a run"}')

    records = reproduce.run_records(root)
    assert [r["run"] for r in records] == ["paper_a/dcgan-run", "paper_b/old-run"]
    new, older = records
    assert {k: new[k] for k in ("model", "config", "seed", "epochs_done", "status")} == {
        "model": "dcgan", "config": "paper", "seed": 3, "epochs_done": 2, "status": "finished"}
    assert new["kimg"] == older["kimg"] == 0.04          # 2 epochs x 20 images
    assert new["train_seconds"] == round(sum(r["seconds"] for r in res.rows), 2)
    assert new["executed"]["pid"] == os.getpid() and new["executed"]["threads"] == 1
    assert {"host", "worker"} <= set(new["executed"])
    assert older["executed"] is None
    json.dumps(records)
    assert reproduce.run_records(tmp_path / "missing") == []


# ----------------------------------------------------------------------------- publishing
def _widget_nb():
    from nbformat.v4 import new_output

    nb = new_notebook(cells=[new_code_cell("slider"), new_code_cell("print(1)")])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {"abc": {"model_name": "IntSliderModel", "state": {"value": 3}}}}}
    nb.cells[0].outputs = [
        new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2,
                                                         "version_minor": 0},
            "text/plain": "IntSlider(value=3)"}),
        new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "def", "version_major": 2,
                                                         "version_minor": 0}}),
    ]
    nb.cells[1].outputs = [new_output("stream", name="stdout", text="1\n")]
    return nb


def test_strip_widget_state_keeps_the_text_fallback():
    nb = _widget_nb()
    assert publish.strip_widget_state(nb) == 3   # the state and two views
    assert "widgets" not in nb.metadata
    assert [o["data"] for o in nb.cells[0].outputs] == [{"text/plain": "IntSlider(value=3)"}]
    assert nb.cells[1].outputs[0]["text"] == "1\n"
    nbformat.validate(nb)
    assert publish.strip_widget_state(nb) == 0
    assert "widget" not in nbformat.writes(nb)


def test_publish_strips_widgets_and_refuses_large_notebooks(tmp_path, monkeypatch):
    from nbformat.v4 import new_output

    src, executed = tmp_path / "notebooks", tmp_path / "executed"
    src.mkdir(), executed.mkdir()
    monkeypatch.setattr(publish, "executed_dir", lambda profile: executed)
    nbformat.write(_widget_nb(), executed / "01_small.ipynb")
    big = new_notebook(cells=[new_code_cell("show_big_picture()"), new_code_cell("x = 1")])
    big.cells[0].outputs = [new_output("display_data", data={"image/png": "A" * 30_000,
                                                              "text/plain": "<Figure>"})]
    nbformat.write(big, executed / "02_big.ipynb")
    for name in ("01_small.ipynb", "02_big.ipynb"):
        (src / name).write_text("original")

    with pytest.raises(publish.NotebookTooLarge) as err:
        publish.publish_executed("smoke", src, max_bytes=20_000)
    msg = str(err.value)
    assert "02_big.ipynb" in msg and "01_small" not in msg and "MB" in msg
    assert "cell 0 output 0" in msg and "image/png" in msg and "show_big_picture" in msg
    assert (src / "01_small.ipynb").read_text() == "original"   # nothing written

    # only the notebooks this invocation ran: an older executed copy is not published
    (src / "01_small.ipynb").write_text("edited since")
    assert publish.publish_executed("smoke", src, names=["02_big.ipynb"]) == [src / "02_big.ipynb"]
    assert (src / "01_small.ipynb").read_text() == "edited since"
    assert publish.publish_executed("smoke", src) == [src / "01_small.ipynb",
                                                        src / "02_big.ipynb"]
    published = nbformat.read(src / "01_small.ipynb", as_version=4)
    assert "widgets" not in published.metadata
    assert "application/vnd.jupyter.widget-view+json" not in nbformat.writes(published)


def test_plots_sets_inline_and_saved_dpi():
    import matplotlib



    assert 80 <= matplotlib.rcParams["figure.dpi"] == plots.INLINE_DPI <= 100
    assert 120 <= matplotlib.rcParams["savefig.dpi"] == plots.SAVE_DPI <= 150


def test_earlier_invocations_keep_the_other_notebooks_times(tmp_path):
    from paperlib.reproduce import earlier_invocations

    path = tmp_path / "results_manifest.json"
    assert earlier_invocations(path) == []
    first = {"git_commit": "a", "notebooks": [{"name": "00.ipynb", "seconds": 11.0}],
             "total_seconds": 11.0, "status": "finished"}
    path.write_text(json.dumps(first))
    one = earlier_invocations(path)
    assert one == [first]
    second = {"git_commit": "b", "notebooks": [{"name": "05.ipynb", "seconds": 5.0}],
              "total_seconds": 5.0, "status": "finished", "earlier": one}
    path.write_text(json.dumps(second))
    two = earlier_invocations(path)
    assert [e["git_commit"] for e in two] == ["b", "a"] and two[1]["notebooks"][0]["seconds"] == 11.0
    assert len(earlier_invocations(path, keep=1)) == 1
