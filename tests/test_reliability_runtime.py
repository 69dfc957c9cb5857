"""Runtime reliability: broken, hanging and hostile models are a Failure(kind="error") with a
clear message - never a crash of the tool, never a hang - and a check leaves global state as it
found it. Complements tests/test_runtime_check.py (raising factory, non-module, no parameters,
integer outputs, NaN in forward / inf in backward, RNG / grad mode / default dtype)."""

from __future__ import annotations

import random
import re
import threading
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hypothesis")

import runtime_models as rm  # noqa: E402
from torch import nn  # noqa: E402

import gradcheck_kit as gk  # noqa: E402
from gradcheck_kit.cli import main  # noqa: E402
from gradcheck_kit.runtime.check import DEFAULT_TIMEOUT  # noqa: E402

FAST = {"input_shape": (4, rm.IN), "seed": 5, "raise_on_failure": False, "depths": (2, 4)}


def check(factory, **kwargs):
    return gk.check_gradients(factory, **{**FAST, "max_examples": 4, **kwargs})


# --------------------------------------------------------------------------- hangs


def _hang_forever(depth: int) -> nn.Module:
    threading.Event().wait()  # blocks in C; the alarm still interrupts it
    raise AssertionError("unreachable")


def _hang_swallowing_exceptions(depth: int) -> nn.Module:
    while True:  # user code that catches Exception cannot swallow the time limit
        try:  # noqa: SIM105 - the point is a bare except that swallows
            time.sleep(0.05)
        except Exception:
            pass


class HangingForward(nn.Module):
    def __init__(self, depth: int) -> None:
        super().__init__()
        self.body = rm.he_relu(depth)

    def forward(self, x):
        while True:
            x = x + 0.0


@pytest.mark.parametrize(
    "factory",
    [_hang_forever, _hang_swallowing_exceptions, HangingForward],
    ids=["factory-blocks", "factory-swallows-exceptions", "forward-loops"],
)
def test_a_hang_is_an_error_after_the_time_limit_not_a_hang(factory):
    report = check(factory, timeout=0.3, max_examples=5)
    assert report.failure is not None and report.failure.kind == "error"
    assert "0.3 s time limit" in report.failure.message
    assert report.examples_run == 1  # a timeout is not shrunk: each try could take the limit


def test_a_hanging_factory_with_an_inferred_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"cannot infer the input.*time limit.*input_shape="):
        gk.check_gradients(_hang_forever, depths=(2, 2), timeout=0.3, max_examples=1)


def test_default_timeout_is_generous_but_finite():
    import inspect

    default = inspect.signature(gk.check_gradients).parameters["timeout"].default
    assert default == DEFAULT_TIMEOUT and 60 <= DEFAULT_TIMEOUT < float("inf")


def test_the_time_limit_leaves_an_outer_alarm_running():
    import signal

    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(True))
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        report = check(rm.he_relu, timeout=10.0, max_examples=2)
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert report.passed and 0 < remaining <= 30.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert fired == []


def test_cli_check_with_a_hanging_target_exits_1_with_the_reason(tmp_path: Path, capsys):
    (tmp_path / "hang.py").write_text(
        "import threading\n\ndef make(depth):\n    threading.Event().wait()\n"
    )
    target = f"{tmp_path / 'hang.py'}:make"
    argv = ["check", target, "--input-shape", "4,8", "--timeout", "0.3", "--max-examples", "3"]
    assert main(argv) == 1
    assert "time limit" in capsys.readouterr().out


# --------------------------------------------------------------------------- no gradient path


class Detached(nn.Module):
    def __init__(self, depth: int) -> None:
        super().__init__()
        self.body = rm.he_relu(depth)

    def forward(self, x):
        return self.body(x).detach()


class NoGradForward(Detached):
    def forward(self, x):
        with torch.no_grad():
            return self.body(x)


class Frozen(Detached):
    def __init__(self, depth: int) -> None:
        super().__init__(depth)
        self.body.requires_grad_(False)

    def forward(self, x):
        return self.body(x)


class ReturnsNone(Detached):
    def forward(self, x):
        self.body(x)


class ReturnsPythonFloat(Detached):
    def forward(self, x):
        return self.body(x).sum().item()


class ReturnsIndices(Detached):
    def forward(self, x):
        return self.body(x).argmax(dim=-1), self.body(x).sort().indices


class NotCallable(nn.Module):
    def __init__(self, depth: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1))  # no forward()


class ForwardRaisesSystemExit(Detached):
    def forward(self, x):
        raise SystemExit(3)


@pytest.mark.parametrize(
    ("factory", "words"),
    [
        (Detached, "does not depend on any parameter"),
        (NoGradForward, "does not depend on any parameter"),
        (Frozen, "does not depend on any parameter"),
        (ReturnsNone, "no floating-point tensor"),
        (ReturnsPythonFloat, "no floating-point tensor"),
        (ReturnsIndices, "no floating-point tensor"),
        (NotCallable, "forward"),
        (lambda depth: None, "not a torch.nn.Module"),
        (lambda depth: rm.he_relu, "not a torch.nn.Module"),
        (lambda depth: 1 / 0, "ZeroDivisionError"),
    ],
    ids=[
        "detached",
        "no-grad",
        "frozen",
        "returns-none",
        "returns-float",
        "returns-indices",
        "no-forward",
        "factory-returns-none",
        "factory-returns-a-function",
        "factory-divides-by-zero",
    ],
)
def test_models_without_a_gradient_are_errors_with_a_clear_message(factory, words):
    report = check(factory)
    assert report.failure is not None and report.failure.kind == "error"
    text = f"{report.failure.message} {report.failure.exception or ''}"
    assert words in text, text
    assert report.summary()  # renders


def test_system_exit_from_the_model_is_not_swallowed():
    """SystemExit is the user's explicit request to stop: it propagates, state is restored."""
    grad = torch.is_grad_enabled()
    with pytest.raises(SystemExit):
        check(ForwardRaisesSystemExit)
    assert torch.is_grad_enabled() == grad


# --------------------------------------------------------------------------- NaN / inf


class InfForward(Detached):
    def forward(self, x):
        return self.body(x) * float("inf")


class NanBackward(Detached):
    """Finite output; the branch where() discards is NaN, and its backward is 0 * NaN = NaN."""

    def forward(self, x):
        y = self.body(x)
        return torch.where(torch.ones_like(y, dtype=torch.bool), y, torch.sqrt(-y.abs() - 1))


@pytest.mark.parametrize(
    ("factory", "words"),
    [
        (InfForward, "inf in the forward pass"),
        (rm.LogOfNegatives, "NaN in the forward pass"),
        (rm.SqrtAtZero, "in the backward pass"),
        (NanBackward, "NaN in the backward pass"),
    ],
)
def test_nonfinite_forward_and_backward_are_told_apart(factory, words):
    report = check(factory)
    assert report.failure is not None and report.failure.kind == "nonfinite"
    assert words in report.failure.message, report.failure.message


# --------------------------------------------------------------------------- global state


def _shared(model: nn.Module):
    def factory(depth: int) -> nn.Module:
        return model

    return factory


@pytest.mark.parametrize("training", [True, False])
def test_training_mode_and_hooks_are_restored(training):
    model = rm.he_relu(3)
    model.train(training)
    before = {name: (m.training, dict(m._forward_hooks)) for name, m in model.named_modules()}
    report = check(_shared(model), depths=(3, 3))
    assert report.passed, report.summary()
    after = {name: (m.training, dict(m._forward_hooks)) for name, m in model.named_modules()}
    assert after == before


def test_hooks_are_removed_when_the_forward_fails():
    model = rm.he_relu(3)

    class Boom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = model

        def forward(self, x):
            self.body(x)
            raise RuntimeError("forward failed after the first layers")

    wrapper = Boom()
    report = check(_shared(wrapper), depths=(3, 3))
    assert report.failure is not None and report.failure.kind == "error"
    assert all(not m._forward_hooks for m in wrapper.modules())
    assert all(not m._backward_hooks for m in wrapper.modules())


def test_every_global_torch_and_python_state_is_restored():
    def meddling(depth: int) -> nn.Module:
        torch.set_default_dtype(torch.float64)
        torch.set_grad_enabled(False)
        torch.manual_seed(999)
        model = rm.he_relu(depth).float()
        torch.set_default_dtype(torch.float32)
        torch.set_grad_enabled(True)
        return model

    torch.manual_seed(11)
    random.seed(11)
    torch_rng, py_rng = torch.get_rng_state(), random.getstate()
    dtype = torch.get_default_dtype()
    with torch.inference_mode(False), torch.no_grad():
        report = check(meddling, max_examples=3)
        assert not torch.is_grad_enabled()
    assert report.passed, report.summary()
    assert torch.equal(torch.get_rng_state(), torch_rng)
    assert random.getstate() == py_rng
    assert torch.get_default_dtype() == dtype
    assert not torch.is_anomaly_enabled()
    assert not torch.are_deterministic_algorithms_enabled()


def test_state_is_restored_after_an_error_and_a_timeout():
    torch.manual_seed(3)
    rng = torch.get_rng_state()
    with torch.no_grad():
        check(rm.raises)
        check(_hang_forever, timeout=0.2)
        assert not torch.is_grad_enabled()
    assert torch.equal(torch.get_rng_state(), rng)


# --------------------------------------------------------------------------- TARGET import


def test_cli_target_import_runs_only_the_named_module(tmp_path: Path, monkeypatch, capsys):
    marker = tmp_path / "marker.txt"
    side_effect = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    package = tmp_path / "proj"
    package.mkdir()
    (package / "__init__.py").write_text(side_effect)
    (package / "sibling.py").write_text(side_effect)
    (package / "conftest.py").write_text(side_effect)
    (package / "models.py").write_text(
        "import torch.nn as nn\n\n"
        "def make(depth):\n"
        "    return nn.Sequential(*[nn.Linear(8, 8) for _ in range(depth)])\n"
    )
    monkeypatch.chdir(tmp_path)
    argv = ["--input-shape", "4,8", "--depths", "2:3", "--max-examples", "2", "--seed", "1"]
    assert main(["check", "proj/models.py:make", *argv]) == 0
    assert not marker.exists()  # a file target: not even the package's __init__
    assert main(["check", "proj.models:make", *argv]) == 0
    # a module target imports its package, as Python does - and nothing else
    assert marker.read_text().split() == ["proj"]
    capsys.readouterr()


def test_audit_with_a_hanging_target_finishes_with_the_reason(tmp_path: Path, monkeypatch, capsys):
    (tmp_path / "hang.py").write_text(
        "import threading\n\ndef make(depth):\n    threading.Event().wait()\n"
    )
    (tmp_path / "pyproject.toml").write_text(
        '[[tool.gradcheck-kit.check]]\ntarget = "hang.py:make"\ninput-shape = "4,8"\n'
        "timeout = 0.3\nmax-examples = 3\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "--format", "json", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "time limit" in out


# --------------------------------------------------------------------------- exit 2, short


def test_check_internal_error_is_a_short_message_not_a_traceback(monkeypatch, capsys):
    import gradcheck_kit.runtime.check as runtime_check

    def broken(*args, **kwargs):
        raise KeyError("simulated bug in the checker")

    monkeypatch.setattr(runtime_check, "check_gradients", broken)
    argv = ["check", "runtime_models:he_relu", "--input-shape", "4,16"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "gradcheck-kit check: internal error: KeyError" in err
    assert "please report" in err and "--verbose" in err and "Traceback" not in err
    assert main([*argv, "--verbose"]) == 2
    assert "Traceback (most recent call last)" in capsys.readouterr().err


# --------------------------------------------------------------------------- report escaping


def test_audit_reports_escape_user_controlled_text(tmp_path: Path, monkeypatch, capsys):
    """A file path and a model class name with <script> and Markdown table characters."""
    evil_file = tmp_path / "m<script>alert(1)|x.py"  # no "/" in a file name
    evil_file.write_text(
        "import torch.nn as nn\n\n"
        "Evil = type('Net<script>alert(2)</script>|y', (nn.Sequential,), {})\n\n"
        "def make(depth):\n"
        "    return Evil(*[m for _ in range(depth) for m in (nn.Linear(8, 8), nn.Sigmoid())])\n"
    )
    (tmp_path / "pyproject.toml").write_text(
        "[[tool.gradcheck-kit.check]]\n"
        f"target = {evil_file.name + ':make'!r}\n"
        'input-shape = "4,8"\ndepths = "12:12"\nmax-examples = 2\nseed = 1\n'
    )
    monkeypatch.chdir(tmp_path)
    for suffix in ("md", "html", "svg"):
        report = tmp_path / f"audit.{suffix}"
        assert main(["audit", "--report", str(report), str(tmp_path)]) == 1
        text = report.read_text(encoding="utf-8")
        if suffix == "md":  # code blocks and spans show text literally (CommonMark): safe
            text = re.sub(r"^(`{3,})\n.*?^\1$", "", text, flags=re.S | re.M)
            text = re.sub(r"`[^`\n]*`", "", text)
        assert "<script>" not in text, suffix
        assert "alert(1)" in text and "alert(2)" in text  # shown, escaped
    markdown = (tmp_path / "audit.md").read_text(encoding="utf-8")
    rows = [
        line for line in markdown.splitlines() if line.startswith("| `m&lt;") or "alert(1)" in line
    ]
    table_rows = [line for line in rows if line.startswith("|")]
    assert table_rows
    for row in table_rows:  # every | inside a cell is escaped: the column count is intact
        assert row.replace("\\|", "").count("|") == 7
    capsys.readouterr()
