"""Every way the outside world can fail a search ends as one message and exit status 2:
stores that are not databases, cannot be written or reached, URLs that are not URLs,
missing drivers, and `--param` ranges that cannot be sampled. No trial is trained."""
from __future__ import annotations

import math
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

optuna = pytest.importorskip("optuna")
pytest.importorskip("torch")

from archcalc.errors import ArchcalcError  # noqa: E402
from archcalc.search import study as studies  # noqa: E402
from archcalc.search.objective import TrialOutcome  # noqa: E402
from archcalc.search.space import ALLOWED, KNOWN, ParamRange, parse_param  # noqa: E402

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
SPACE = (ParamRange("lr", 1e-5, 1.0, True),)


def fake_training():
    def run_trial(values, epochs, on_epoch):
        return TrialOutcome("ok", 0.5)

    return run_trial


def a_store(folder) -> str:
    """A store holding one finished study named lenet5-coarse."""
    url = f"sqlite:///{folder / 'search.db'}"
    studies.run_stage(url, studies.Stage("coarse", "lenet5-coarse", SPACE, 1, 1), fake_training,
                      seed=0)
    return url


def clean_failure(result, *words):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "error: " in result.output
    for word in words:
        assert word in result.output, result.output


@pytest.mark.parametrize("show", [False, True])
def test_a_file_that_is_not_sqlite(run_cli, tmp_path, show):
    junk = tmp_path / "notes.db"
    junk.write_text("my notes, not a database\n" * 50)
    before = junk.read_bytes()
    arguments = (["--show", "--study", "lenet5"] if show else ["lenet5", "--trials", "1"])
    result = run_cli("search", *arguments, "--storage", f"sqlite:///{junk}", "--out", tmp_path)
    clean_failure(result, "file is not a database", "not an SQLite database")
    assert junk.read_bytes() == before  # nothing of the user's is touched


def test_a_store_opened_read_only(run_cli, tmp_path):
    url = a_store(tmp_path)  # SQLite's own read-only mode: refused writes even for root
    read_only = f"sqlite:///file:{tmp_path / 'search.db'}?mode=ro&uri=true"
    result = run_cli("search", "lenet5", "--trials", "2", "--epochs", "1", "--storage",
                     read_only, "--out", tmp_path)
    clean_failure(result, "readonly database", "must be writable")
    assert len(studies.open_study(url, "lenet5-coarse").trials) == 1


@pytest.mark.skipif(AS_ROOT, reason="root writes whatever the permissions say")
@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_file_or_folder(run_cli, tmp_path, what):
    a_store(tmp_path)
    target = tmp_path / "search.db" if what == "file" else tmp_path
    target.chmod(0o444 if what == "file" else 0o555)
    try:
        result = run_cli("search", "lenet5", "--trials", "2", "--epochs", "1", "--out",
                         tmp_path)
    finally:
        target.chmod(0o644 if what == "file" else 0o755)
    clean_failure(result, "must be writable")


@pytest.mark.parametrize("url, words", [
    ("foo://somewhere/db", ["Can't load plugin", "SQLAlchemy URL"]),
    ("not a url", ["Could not parse", "SQLAlchemy URL"]),
    ("sqlite:////no/such/folder/search.db", ["No such file or directory", "create the folder"]),
    ("mysql://user@127.0.0.1:1/db", ["driver", "is not installed"]),
])
def test_bad_storage_urls(run_cli, tmp_path, url, words):
    clean_failure(run_cli("search", "lenet5", "--trials", "1", "--storage", url, "--out",
                          tmp_path), *words)


def test_an_unreachable_server_and_its_password_is_not_shown(run_cli, tmp_path):
    pytest.importorskip("psycopg", reason="the PostgreSQL driver (archcalc[postgres])")
    result = run_cli("search", "lenet5", "--trials", "1", "--storage",
                     "postgresql://someone:s3cret@127.0.0.1:1/search", "--out", tmp_path)
    clean_failure(result, "Connection refused", "server running and reachable")
    assert "s3cret" not in result.output and "someone:***@" in result.output


def test_show_of_a_store_with_no_search(run_cli, tmp_path):
    result = run_cli("search", "--show", "--study", "x", "--storage",
                     f"sqlite:///{tmp_path / 'empty.db'}", "--out", tmp_path)
    clean_failure(result, "no search was ever stored there")


@pytest.mark.parametrize("argument, message", [
    ("lr=nan:1", "must be finite"),
    ("lr=1e-3:inf", "must be finite"),
    ("lr=1e-3:1e400", "must be finite"),
    ("lr=-inf:1:linear", "must be finite"),
    ("lr=abc:1", "must be numbers"),
    ("lr=0:1:linear", "lr must be above 0"),
    ("momentum=-0.5:0.9", "momentum must be at least 0 and below 1"),
    ("momentum=0.5:1", "momentum must be at least 0 and below 1"),
    ("dropout=0:1", "dropout must be at least 0 and below 1"),
    ("weight_decay=-1:1:linear", "weight_decay must be at least 0"),
    ("batch_size=0:8:linear", "batch_size must be at least 1"),
    ("batch_size=8.5:16", "takes whole numbers"),
    ("lr=1e-3:1e-3", "LOW must be below HIGH"),
])
def test_bad_param_ranges(run_cli, tmp_path, argument, message):
    clean_failure(run_cli("search", "lenet5", "--param", argument, "--out", tmp_path), message)
    assert not (tmp_path / "search.db").exists()  # refused before any store is made


def test_a_param_given_twice(run_cli, tmp_path):
    clean_failure(run_cli("search", "lenet5", "--param", "lr=1e-3:1", "--param", "lr=1e-2:1",
                          "--out", tmp_path), "--param lr given more than once")


def test_dropout_on_a_spec_without_dropout_is_refused_before_any_trial(run_cli, tmp_path):
    clean_failure(run_cli("search", "lenet5", "--param", "dropout=0:0.5", "--out", tmp_path),
                  "has no dropout layer")
    assert not (tmp_path / "search.db").exists()


numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10**6),
                    st.sampled_from(["1e400", "-1e400", "nan", "inf", "0", "1e-320"]))


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(KNOWN)), low=numbers, high=numbers,
       scale=st.sampled_from(["", ":log", ":linear"]))
def test_any_range_is_either_samplable_or_an_archcalc_error(name, low, high, scale):
    """Whatever numbers are written, parse_param returns a range training accepts
    (finite, low < high, positive where log, inside ALLOWED) or raises ArchcalcError."""
    try:
        param = parse_param(f"{name}={low}:{high}{scale}")
    except ArchcalcError:
        return
    lowest, inclusive, below = ALLOWED[name]
    assert math.isfinite(param.low) and math.isfinite(param.high) and param.low < param.high
    assert param.low > lowest or (inclusive and param.low == lowest)
    assert param.high < below
    assert not param.log or param.low > 0


def test_a_spec_that_cannot_load_is_refused_before_a_store_is_made(run_cli, tmp_path):
    clean_failure(run_cli("search", "no-such-spec", "--out", tmp_path), "no-such-spec")
    assert not (tmp_path / "search.db").exists()
