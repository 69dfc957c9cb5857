"""check_gradients on real torch models: the verdicts the issue lists, shrinking, state."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hypothesis")

import runtime_models as rm  # noqa: E402
from torch import nn  # noqa: E402

import gradcheck_kit as gk  # noqa: E402
from gradcheck_kit.runtime.devices import DeviceUnavailableError  # noqa: E402

FAST = {"input_shape": (8, rm.IN), "seed": 7, "raise_on_failure": False}


def check(factory, **kwargs):
    opts = {**FAST, "max_examples": 12, **kwargs}
    return gk.check_gradients(factory, **opts)


def test_deep_sigmoid_mlp_vanishes_at_a_small_depth():
    report = check(rm.sigmoid_mlp, depths=(2, 32))
    assert not report.passed
    assert report.failure.kind == "vanishing"
    assert report.failure.depth <= 6
    assert report.failure.ratio < report.bounds.vanish
    assert report.examples_run > 1


def test_tanh_default_init_vanishes_by_depth_16():
    report = check(rm.tanh_mlp, depths=(16, 16), max_examples=3)
    assert report.failure is not None and report.failure.kind == "vanishing"
    # measured per-layer multiplier of tanh with PyTorch's default init: ~0.57
    per_layer = report.failure.ratio ** (1 / 15)
    assert 0.45 < per_layer < 0.7


@pytest.mark.parametrize("factory", [rm.residual_tanh, rm.layernorm_tanh, rm.he_relu])
def test_healthy_nets_pass_up_to_depth_64(factory):
    report = check(factory, depths=(2, 64), max_examples=10)
    assert report.passed, report.summary()
    assert report.failure is None
    assert report.layers and report.ratio is not None


def test_he_relu_keeps_the_flow_ratio_near_one_at_depth_64():
    report = check(rm.he_relu, depths=(64, 64), max_examples=3)
    assert report.passed
    assert 10**-1.5 < report.ratio < 10**1.5


def test_large_init_linear_stack_explodes():
    report = check(rm.big_linear, depths=(2, 32))
    assert report.failure.kind == "exploding"
    assert report.failure.depth <= 8


def test_relu_with_weight_variance_2_5_explodes_by_depth_64():
    report = check(rm.exploding_relu, depths=(2, 64), max_examples=20)
    assert report.failure is not None and report.failure.kind == "exploding"


def test_log_of_negatives_is_nonfinite_in_the_forward_pass():
    report = check(rm.LogOfNegatives, depths=(2, 8))
    assert report.failure.kind == "nonfinite"
    assert "forward" in report.failure.message
    assert report.failure.depth == 2
    # tables (audit, pytest's summary) word it as the panel does, not "non-finite gradient"
    assert report.failure.headline() == "NaN in the forward pass at depth 2"


def test_infinite_backward_is_nonfinite_in_the_backward_pass():
    report = check(rm.SqrtAtZero, depths=(2, 8))
    assert report.failure.kind == "nonfinite"
    assert "backward" in report.failure.message
    assert " in the backward pass at depth " in report.failure.headline()


def test_huge_negative_biases_are_dead():
    report = check(rm.dead_relu, depths=(4, 16))
    assert report.failure.kind == "dead"
    assert any(layer.grad_rms == 0.0 for layer in report.failure.layers)


def test_dict_and_dataclass_outputs_work():
    for factory in (rm.DictOut, rm.DataclassOut):
        report = check(factory, depths=(2, 16), max_examples=5)
        assert report.passed, report.summary()


def test_token_model_with_embedding():
    report = check(
        rm.token_model,
        depths=(2, 16),
        input_shape=(4, 10),
        input_dtype=torch.long,
        vocab_size=50,
        max_examples=8,
    )
    assert report.passed, report.summary()
    assert report.layers[0].type == "Embedding"


def test_input_is_inferred_when_not_given():
    report = gk.check_gradients(rm.he_relu, depths=(2, 4), max_examples=3, seed=1)
    assert report.passed
    assert report.example["inputs"]["shape"][1] == rm.IN


@pytest.mark.parametrize(
    ("factory", "words"),
    [
        (rm.raises, "RuntimeError: cannot build depth 2"),
        (rm.not_a_module, "not a torch.nn.Module"),
        (rm.no_params, "no parameters"),
        (rm.integer_out, "no floating-point tensor"),
    ],
)
def test_broken_factories_are_errors_not_crashes(factory, words):
    report = check(factory, depths=(2, 8))
    assert report.failure.kind == "error"
    assert report.failure.depth == 2
    assert words in (report.failure.message + " " + (report.failure.exception or ""))


def test_timeout_is_an_error():
    def slow(depth):
        import time

        time.sleep(5)
        return rm.he_relu(depth)

    report = check(slow, depths=(2, 2), max_examples=1, timeout=0.2)
    assert report.failure.kind == "error"
    assert "time limit" in report.failure.message


def test_seed_gives_an_identical_run():
    def run():
        data = check(rm.sigmoid_mlp, depths=(2, 16), seed=3).to_dict()
        data.pop("elapsed_s")
        return data

    assert run() == run()


def test_raise_on_failure_raises_a_readable_assertion():
    with pytest.raises(gk.GradientFlowError) as info:
        gk.check_gradients(rm.sigmoid_mlp, input_shape=(8, rm.IN), seed=1, max_examples=10)
    assert isinstance(info.value, AssertionError)
    text = str(info.value)
    for words in ("vanishing", "smallest failing example: depth", "flow ratio", "reproduce"):
        assert words in text
    assert info.value.report.failure.kind == "vanishing"


def test_report_to_dict_is_json_and_renders():
    from rich.console import Console

    report = check(rm.tanh_mlp, depths=(2, 24))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["failure"]["kind"] == "vanishing"
    assert data["examples_run"] == report.examples_run
    assert data["layers"] and "grad_rms" in data["layers"][0]
    with open(os.devnull, "w") as sink:
        console = Console(record=True, width=120, file=sink)
        console.print(report)
    assert "FAILED" in console.export_text()


def test_saturation_is_measured():
    def saturated(depth):
        model = rm.mlp(depth, nn.Tanh)
        for m in model.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=3.0)
        return model

    report = check(saturated, depths=(3, 3), max_examples=2)
    layers = report.failure.layers if report.failure else report.layers
    sats = [layer.saturation for layer in layers if layer.saturation is not None]
    assert sats and max(sats) > 0.5


def test_global_torch_state_is_restored():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with torch.no_grad():
        report = check(rm.sets_default_dtype, depths=(2, 4), max_examples=3)
        assert not torch.is_grad_enabled()
    assert report.passed, report.summary()
    assert torch.get_default_dtype() == torch.float32
    assert torch.equal(torch.rand(3), expected)


def test_float16_underflow_is_reported_against_float32():
    report = check(rm.sigmoid_mlp, depths=(16, 16), dtypes=(torch.float16,), max_examples=2)
    assert report.failure is not None
    assert report.failure.dtype == "float16"
    assert report.failure.kind in ("dead", "vanishing")
    if report.failure.kind == "dead":
        assert "underflow" in report.failure.message


def test_devices_auto_includes_cpu():
    report = check(rm.he_relu, depths=(2, 4), devices="auto", max_examples=3)
    assert report.passed
    assert report.devices[0].device == "cpu"


def test_cuda_without_a_gpu_skips_under_pytest_and_errors_otherwise(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(pytest.skip.Exception):
        check(rm.he_relu, devices="cuda")
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    with pytest.raises(DeviceUnavailableError, match="cuda"):
        check(rm.he_relu, devices="cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_parity_with_cpu():
    report = check(rm.he_relu, depths=(2, 8), devices=("cpu", "cuda"), max_examples=4)
    assert report.passed
    assert report.parity and report.parity_ok


def test_import_does_not_import_torch():
    code = (
        "import sys, gradcheck_kit, gradcheck_kit.report.gradients; "
        "gradcheck_kit.Bounds(); assert 'torch' not in sys.modules; "
        "assert 'hypothesis' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bounds_validate():
    with pytest.raises(ValueError):
        gk.Bounds(vanish=2.0)
    lo, hi = gk.Bounds().limits(0.0)
    assert math.isclose(lo, 1e-3) and math.isclose(hi, 1e3)


@pytest.mark.slow
@pytest.mark.parametrize("factory", [rm.residual_tanh, rm.layernorm_tanh, rm.he_relu])
def test_healthy_nets_pass_a_long_search(factory):
    report = check(factory, depths=(2, 64), max_examples=200)
    assert report.passed, report.summary()


def test_batchnorm_models_get_real_batches() -> None:
    """BatchNorm on two samples maps every feature to +-1; the search must not draw such
    batches, or a healthy BatchNorm-sigmoid net looks like it explodes."""
    from gradcheck_kit import check_gradients

    def bn_sigmoid(depth: int) -> torch.nn.Module:
        layers: list[torch.nn.Module] = [torch.nn.Linear(16, 32)]
        for _ in range(depth):
            layers += [torch.nn.BatchNorm1d(32), torch.nn.Sigmoid(), torch.nn.Linear(32, 32)]
        return torch.nn.Sequential(*layers)

    report = check_gradients(
        bn_sigmoid, depths=(16, 24), input_shape=(32, 16), max_examples=6, seed=1,
        raise_on_failure=False,
    )  # fmt: skip
    assert report.passed, report.summary()
    assert report.example is not None
    assert report.example["inputs"]["shape"][0] >= 16


def test_gradient_hook_called_with_none_is_no_gradient() -> None:
    """On CUDA, fused recurrent cells call tensor hooks with None for an output no gradient
    reached (seen with nn.LSTMCell on an H200); that is no gradient, not a crash."""
    from gradcheck_kit.runtime.probe import Probe

    sink: list[torch.Tensor] = []
    record = Probe._grad_recorder(sink)
    record(None)
    record(torch.ones(4))
    assert len(sink) == 1 and float(sink[0]) == 2.0


def test_a_failure_is_saved_to_the_example_database_when_one_is_given(tmp_path) -> None:
    """With no database the check skips Hypothesis' source digest (the database key); with one,
    the key is computed as usual and the failing example is saved under it."""
    report = check(rm.sigmoid_mlp, depths=(20, 24), max_examples=4, database=str(tmp_path))
    assert not report.passed
    assert any(p.is_file() for p in tmp_path.rglob("*"))
    assert not check(rm.sigmoid_mlp, depths=(20, 24), max_examples=4).passed


def test_more_examples_than_max_examples_says_why():
    report = gk.check_gradients(
        rm.sigmoid_mlp, depths=(2, 16), input_shape=(4, 16), max_examples=5, seed=0,
        raise_on_failure=False, database=None,
    )  # fmt: skip
    assert report.examples_run > 5
    (note,) = [n for n in report.notes if "examples run" in n]
    assert note.startswith(f"{report.examples_run} examples run (max_examples=5): ")
    counts = [int(part.split()[0]) for part in note.split(": ", 1)[1].split(", ")]
    assert sum(counts) == report.examples_run
    assert "while shrinking the failure" in note


def test_the_reproduce_line_is_python_that_replays_the_run(tmp_path, monkeypatch):
    """Copy the line, run it: the same failure at the same depth with the same ratio."""
    (tmp_path / "models.py").write_text(
        "from torch import nn\n\n"
        "def make(depth):\n"
        "    layers = []\n"
        "    for _ in range(depth):\n"
        "        layers += [nn.Linear(16, 16), nn.Sigmoid()]\n"
        "    return nn.Sequential(*layers)\n"
    )
    monkeypatch.chdir(tmp_path)
    first = gk.check_gradients(
        "models.py:make", depths=(2, 16), input_shape=(4, 16), max_examples=4, seed=11,
        raise_on_failure=False, database=None,
    )  # fmt: skip
    assert first.reproduce.startswith("import gradcheck_kit; gradcheck_kit.check_gradients(")
    namespace: dict = {}
    exec(first.reproduce.replace("database=None)", "database=None, raise_on_failure=False)")
         .replace("gradcheck_kit.check_gradients(", "_r = gradcheck_kit.check_gradients("),
         namespace)  # fmt: skip
    again = namespace["_r"]
    assert (again.failure.kind, again.failure.depth) == (first.failure.kind, first.failure.depth)
    assert again.failure.ratio == first.failure.ratio


def test_an_error_names_the_phase_and_keeps_the_users_traceback():
    def broken_forward(depth):
        class Bad(nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = nn.Linear(rm.IN, 4)

            def forward(self, x):
                return self.lin(x).view(3, -1, 7)  # a shape bug in the user's forward

        return Bad()

    report = check(broken_forward, depths=(2, 4), max_examples=2)
    assert report.failure.kind == "error"
    assert report.failure.message.startswith("the forward pass raised at depth")
    assert "return self.lin(x).view(3, -1, 7)" in report.failure.traceback
    assert "gradcheck_kit" not in report.failure.traceback  # only the user's frames
