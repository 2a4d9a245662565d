"""`archcalc search`: random search on an Optuna store, coarse-to-fine, resumable,
shared by worker processes, with exploded trials recorded and edge warnings."""
from __future__ import annotations

import json
import math

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("torch")
pytest.importorskip("matplotlib", reason="a search plots search.png")

from archcalc.search import study as studies  # noqa: E402
from archcalc.search.objective import TrialOutcome  # noqa: E402
from archcalc.search.run import SearchJob, SearchPlan, run_search  # noqa: E402
from archcalc.search.space import ParamRange, edge_warnings, narrow, parse_param  # noqa: E402


class FakeTraining:
    """A picklable trial factory that trains nothing: accuracy peaks at lr = 1e-2.
    ``stop_after`` simulates Ctrl-C: the call after that many trials is interrupted."""

    def __init__(self, stop_after=None):
        self.stop_after = stop_after

    def __call__(self):
        calls = {"n": 0}

        def run_trial(values, epochs, on_epoch):
            calls["n"] += 1
            if self.stop_after is not None and calls["n"] > self.stop_after:
                raise KeyboardInterrupt
            accuracy = 1.0 - abs(math.log10(values["lr"]) + 2) / 10
            for epoch in range(1, epochs + 1):
                on_epoch(epoch, {"val_acc": accuracy * epoch / epochs})
            return TrialOutcome("ok", accuracy)

        return run_trial


SPACE = (ParamRange("lr", 1e-5, 1.0, True),)


def test_search_of_lenet5_on_digits_finds_above_90_percent(tmp_path):
    space = (parse_param("lr=0.01:0.05:log"), parse_param("batch_size=16:24"))
    result = run_search(SearchJob("lenet5"), SearchPlan(space, "lenet5", tmp_path, stage="fine",
                                                        trials=2, epochs=8))
    assert result["best"]["val_acc"] > 0.90
    assert (tmp_path / "search.db").exists() and (tmp_path / "search.png").exists()


def test_learning_rates_up_to_1e6_explode_and_the_search_completes(tmp_path):
    result = run_search(SearchJob("lenet5"), SearchPlan((parse_param("lr=1e4:1e6:log"),), "hot",
                                                        tmp_path, stage="fine", trials=2,
                                                        epochs=1))
    rows = result["stages"][0]["rows"]
    assert [row["state"] for row in rows] == ["exploded", "exploded"]
    assert all(row["exploded_step"] is not None for row in rows)
    assert "best" not in result


def test_interrupted_search_resumes_without_repeating_trials(tmp_path):
    url = studies.storage_url(None, tmp_path)
    stage = studies.Stage("fine", "resume", SPACE, trials=5, epochs=2)
    with pytest.raises(KeyboardInterrupt):
        studies.run_stage(url, stage, FakeTraining(stop_after=3), seed=1)
    before = studies.open_study(url, "resume").trials
    done = [(t.number, t.params) for t in before if t.state.name == "COMPLETE"]
    assert len(done) == 3
    started = studies.run_stage(url, stage, FakeTraining(), seed=2)
    assert started == 2  # the interrupted trial is retried, the finished ones are not
    after = studies.open_study(url, "resume").trials
    assert [(t.number, t.params) for t in after if t.number in dict(done)] == done
    # (the median pruner may stop a weak new trial: pruned counts as finished)
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in after) == 5


def test_workers_share_one_study(tmp_path):
    url = studies.storage_url(None, tmp_path)
    stage = studies.Stage("coarse", "shared", SPACE, trials=4, epochs=1)
    studies.run_stage(url, stage, FakeTraining(), workers=2, seed=0)
    trials = studies.open_study(url, "shared").trials
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(complete) == 4
    assert len({t.params["lr"] for t in complete}) == 4  # two seeds: no repeated draws
    # a process that claims one trial too many (the other took the last) closes it as a
    # surplus, untrained and without parameters
    assert all(t.user_attrs.get("surplus") and not t.params
               for t in trials if t.state.name != "COMPLETE")


def test_coarse_to_fine_narrows_around_the_best():
    space = [ParamRange("lr", 1e-6, 1.0, True), ParamRange("momentum", 0.5, 0.99, False)]
    best = [{"lr": 1e-3, "momentum": 0.9}, {"lr": 3e-3, "momentum": 0.95}]
    lr, momentum = narrow(space, best)
    assert 1e-6 < lr.low < 1e-3 and 3e-3 < lr.high < 1.0
    assert 0.5 <= momentum.low < 0.9 and 0.95 < momentum.high <= 0.99


def test_edge_warning_for_a_range_whose_upper_end_is_too_low():
    space = [ParamRange("lr", 1e-6, 1e-4, True), ParamRange("weight_decay", 1e-6, 1e-2, True)]
    warnings = edge_warnings(space, {"lr": 9e-5, "weight_decay": 1e-4})
    assert len(warnings) == 1
    assert "upper edge" in warnings[0] and "--param lr=1e-06:0.01:log" in warnings[0]


def test_show_prints_an_existing_study_with_its_warning(run_cli, tmp_path):
    url = studies.storage_url(None, tmp_path)
    stage = studies.Stage("fine", "stored", (ParamRange("lr", 1e-6, 1e-4, True),), 4, 1)
    # The best of these lies at the top of a range that stops below the optimum (1e-2).
    studies.open_study(url, "stored").enqueue_trial({"lr": 9e-5})
    studies.run_stage(url, stage, FakeTraining(), seed=3)
    result = run_cli("search", "--show", "--storage", url, "--study", "stored", "--out",
                     tmp_path, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    accuracies = [row["val_acc"] for row in data["stages"][0]["rows"]]
    assert accuracies == sorted(accuracies, reverse=True) and len(accuracies) == 4
    assert any("upper edge" in warning for warning in data["warnings"])
    assert (tmp_path / "search.png").exists()


@pytest.mark.parametrize("argument, message", [
    ("lr=1e-3", "cannot read --param"),
    ("lr=0:1:log", "a log range needs LOW > 0"),
    ("depth=1:3", "not a searchable hyperparameter"),
    ("lr=1:0.1", "LOW must be below HIGH"),
])
def test_bad_param_is_a_clear_error(run_cli, tmp_path, argument, message):
    result = run_cli("search", "lenet5", "--param", argument, "--out", tmp_path)
    assert result.exit_code == 2
    assert message in result.output


def test_show_labels_each_stage_with_the_epochs_its_trials_ran(run_cli, tmp_path):
    url = studies.storage_url(None, tmp_path)
    for name, epochs in (("ep-coarse", 1), ("ep-fine", 3)):
        studies.run_stage(url, studies.Stage(name.split("-")[1], name, SPACE, 2, epochs),
                          FakeTraining(), seed=0)
    result = run_cli("search", "--show", "--storage", url, "--study", "ep", "--out", tmp_path,
                     "--format", "json")
    assert result.exit_code == 0, result.output
    assert [(s["name"], s["epochs"]) for s in json.loads(result.output)["stages"]] == \
        [("coarse", 1), ("fine", 3)]


def test_values_print_as_written_never_as_markup_or_emoji(run_cli, tmp_path, wide_console):
    # The best lr sits at the top of 1e-3..1: the warning suggests lr=0.001:100:log, and
    # rich would otherwise print ":100:" as an emoji; a study name that looks like markup
    # must print as written.
    url = studies.storage_url(None, tmp_path)
    name = "[red]x[/red]:100:"
    studies.open_study(url, name).enqueue_trial({"lr": 0.95})
    studies.run_stage(url, studies.Stage("fine", name, (ParamRange("lr", 1e-3, 1.0, True),), 1,
                                         1), FakeTraining(), seed=0)
    result = run_cli("search", "--show", "--storage", url, "--study", name, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "--param lr=0.001:100:log" in result.output
    assert f"search stage: {name}" in result.output
    assert "\U0001f4af" not in result.output  # the :100: emoji
