"""What every runtime command shares around one run of the user's code: the time limit, the
seed, torch's global state, the model's random modules, and errors that name the cause.

check and sweep both run examples through :func:`gradcheck_kit.runtime.check.run_example`;
everything here is the part of that run that is not measurement.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar, cast

import torch
from torch import nn

from gradcheck_kit import catalog

__all__ = [
    "ExampleTimeout",
    "TargetExit",
    "UserError",
    "effective_seed",
    "exits_contained",
    "format_exception",
    "free_memory",
    "is_oom",
    "on_time_limit",
    "preserved_torch_state",
    "preserving_state",
    "stochastic_modules_off",
    "target_name",
    "time_limit",
]


class ExampleTimeout(BaseException):
    """Raised by the alarm inside the factory or the model; a BaseException, so user code's own
    ``except Exception`` cannot swallow it and keep running."""


class TargetExit(BaseException):
    """The user's code tried to end the process (``sys.exit``, ``os._exit``) during a check: an
    error of that target, never the end of the run (a gate must not exit 0 unchecked)."""


@contextlib.contextmanager
def exits_contained() -> Iterator[None]:
    """Turn ``sys.exit`` and ``os._exit`` called by user code in this process into
    :class:`TargetExit`. A process forked meanwhile (a DataLoader worker) still exits for real.
    What no Python code can stop (a segfault, SIGKILL) needs ``--isolate``."""
    real_exit = os._exit
    owner = os.getpid()

    def refuse(status: int) -> NoReturn:
        if os.getpid() != owner:
            real_exit(status)
        raise TargetExit(f"the target called os._exit({status}) during the check")

    os._exit = refuse
    try:
        yield
    except SystemExit as exc:
        raise TargetExit(f"the target called sys.exit({exc.code!r}) during the check") from exc
    finally:
        os._exit = real_exit


class UserError(Exception):
    """The model or its factory does something the check cannot measure."""


_limit_started: Callable[[], None] | None = None


def on_time_limit(callback: Callable[[], None] | None) -> None:
    """Call ``callback`` each time a time limit starts (the factory, each example): an isolated
    run's heartbeat, by which its parent tells a slow example from a process that hangs."""
    global _limit_started
    _limit_started = callback


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """SIGALRM interrupts Python code between torch ops (main thread on POSIX only; elsewhere
    the limit is checked after the run)."""
    if _limit_started is not None:
        _limit_started()
    usable = (
        seconds is not None
        and seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        start = time.perf_counter()
        yield
        if seconds and time.perf_counter() - start > seconds:
            raise ExampleTimeout(f"took longer than the {seconds:g} s time limit")
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise ExampleTimeout(f"took longer than the {seconds:g} s time limit")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    start = time.monotonic()
    outer, _ = signal.setitimer(signal.ITIMER_REAL, float(seconds or 0))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:  # someone else's alarm (pytest-timeout, the user's own) keeps running
            left = outer - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))


@contextlib.contextmanager
def preserved_torch_state() -> Iterator[None]:
    """A check leaves the process as it found it: torch's RNG streams (CPU and every
    initialised CUDA device), Python's ``random`` (Hypothesis and lazy imports draw from it),
    grad mode, the default dtype, the deterministic-algorithms flag (and its warn-only mode),
    and anomaly detection (and its stack-trace flag)."""
    cpu_rng = torch.get_rng_state()
    cuda_rng = (
        torch.cuda.get_rng_state_all()
        if torch.cuda.is_available() and torch.cuda.is_initialized()  # type: ignore[no-untyped-call]
        else None
    )
    py_rng = random.getstate()
    grad_mode = torch.is_grad_enabled()
    default_dtype = torch.get_default_dtype()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    anomaly = torch.is_anomaly_enabled()
    anomaly_check_nan = torch.is_anomaly_check_nan_enabled()
    try:
        yield
    finally:
        torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        random.setstate(py_rng)
        torch.set_grad_enabled(grad_mode)
        torch.set_default_dtype(default_dtype)
        # only where the run changed them: use_deterministic_algorithms imports torch._dynamo
        if (
            torch.are_deterministic_algorithms_enabled() != deterministic
            or torch.is_deterministic_algorithms_warn_only_enabled() != warn_only
        ):
            torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        if (
            torch.is_anomaly_enabled() != anomaly
            or torch.is_anomaly_check_nan_enabled() != anomaly_check_nan
        ):
            torch.set_anomaly_enabled(anomaly, anomaly_check_nan)


_stochastic_types: dict[type, bool] = {}


F = TypeVar("F", bound=Callable[..., Any])


def preserving_state(func: F) -> F:
    """Decorator: the whole call runs inside :func:`preserved_torch_state`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with preserved_torch_state():
            return func(*args, **kwargs)

    return cast(F, wrapper)


def _is_stochastic_type(cls: type) -> bool:
    found = _stochastic_types.get(cls)
    if found is None:
        found = any(base.__name__ in catalog.STOCHASTIC_MODULES for base in cls.__mro__)
        _stochastic_types[cls] = found
    return found


@contextlib.contextmanager
def stochastic_modules_off(model: nn.Module) -> Iterator[int]:
    """Dropout, DropPath / stochastic depth and drop-block modules in eval mode for the run (and
    back as they were after it); yields how many there are.

    In train mode they zero random units or whole residual branches: a branch dropped in this
    pass gets exactly zero gradient, which is not a property of the network (the next pass
    drops another), and their 1/(1-p) rescaling is 1 on average. Measured in eval mode, the run
    sees the network these modules average to - the mean-field view the bounds are set in -
    and every other module (BatchNorm's batch statistics included) stays in train mode."""
    found = [m for m in model.modules() if _is_stochastic_type(type(m))]
    modes = [m.training for m in found]
    for module in found:
        module.train(False)
    try:
        yield len(found)
    finally:
        for module, mode in zip(found, modes, strict=True):
            module.train(mode)


def target_name(factory: Callable[..., Any]) -> str:
    module = getattr(factory, "__module__", None) or "?"
    qualname = getattr(factory, "__qualname__", None) or repr(factory)
    return f"{module}:{qualname}"


def effective_seed(seed: int | None) -> int:
    if seed is not None:
        return int(seed)
    if os.environ.get("CI"):
        return 0  # derandomized in CI: the same run every time
    return random.SystemRandom().randrange(2**32)


def format_exception(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def is_oom(exc: BaseException) -> bool:
    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(
        torch.cuda, "OutOfMemoryError", None
    )
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    text = str(exc).lower()
    return isinstance(exc, (RuntimeError, MemoryError)) and (
        "out of memory" in text or "can't allocate memory" in text or isinstance(exc, MemoryError)
    )


def free_memory(device: str) -> None:
    if device.startswith("cuda"):
        with contextlib.suppress(Exception):
            torch.cuda.empty_cache()
