"""Device and dtype names -> what torch will use, with errors that say what to do.

torch is imported by each function, not by this module, so the public
:mod:`gradcheck_kit.strategies` (which re-exports :func:`available_devices`) stays importable
without it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch


@cache
def _float_dtypes() -> dict[str, torch.dtype]:
    import torch

    return {
        "float32": torch.float32,
        "float": torch.float32,
        "fp32": torch.float32,
        "float64": torch.float64,
        "double": torch.float64,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
        "float16": torch.float16,
        "half": torch.float16,
        "fp16": torch.float16,
    }


@cache
def _int_dtypes() -> dict[str, torch.dtype]:
    import torch

    return {
        "long": torch.long,
        "int64": torch.long,
        "int": torch.int32,
        "int32": torch.int32,
        "int16": torch.int16,
        "int8": torch.int8,
        "uint8": torch.uint8,
        "bool": torch.bool,
    }


class DeviceUnavailableError(RuntimeError):
    """A device was asked for that torch cannot use on this machine."""


def _split(names: str | Iterable[str]) -> list[str]:
    if isinstance(names, str):
        return [n.strip() for n in names.split(",") if n.strip()]
    return [str(n).strip() for n in names]


def available_devices() -> list[str]:
    """``"cpu"`` and every accelerator torch can use here."""
    import torch

    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def _available(kind: str) -> bool:
    import torch

    if kind == "cpu":
        return True
    if kind == "cuda":
        return bool(torch.cuda.is_available())
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        return bool(mps is not None and mps.is_available())
    backend = getattr(torch, kind, None)  # xpu and other accelerators with is_available()
    probe = getattr(backend, "is_available", None)
    return bool(probe()) if callable(probe) else False


def resolve_devices(names: str | Iterable[str] | None) -> list[str]:
    """``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``, a list or comma string, or ``"auto"``
    (CPU plus every available accelerator). Order kept, duplicates dropped."""
    import torch

    wanted = _split(names if names is not None else "cpu") or ["cpu"]
    out: list[str] = []
    for name in wanted:
        for dev in available_devices() if name == "auto" else [name]:
            kind = dev.split(":")[0]
            try:
                torch.device(dev)
            except RuntimeError as exc:
                raise ValueError(f"unknown device {dev!r} (use cpu, cuda, mps or auto)") from exc
            if not _available(kind):
                raise DeviceUnavailableError(
                    f"device {dev!r} was asked for but torch cannot use it here "
                    f"(available: {', '.join(available_devices())}); "
                    "use devices='auto' to run on whatever is available"
                )
            if dev not in out:
                out.append(dev)
    return out


def resolve_dtypes(names: Any) -> list[torch.dtype]:
    """Floating dtypes from torch dtypes or names (default float32)."""
    import torch

    if names is None:
        return [torch.float32]
    items = _split(names) if isinstance(names, str) else list(names)
    out: list[torch.dtype] = []
    for item in items:
        dtype = item if isinstance(item, torch.dtype) else _float_dtypes().get(str(item).lower())
        if dtype is None or not dtype.is_floating_point:
            raise ValueError(f"unknown dtype {item!r}: use float32, bfloat16, float16 or float64")
        if dtype not in out:
            out.append(dtype)
    return out or [torch.float32]


def resolve_input_dtype(name: Any) -> torch.dtype | None:
    """The dtype of the forward input: integer ones mean token ids."""
    import torch

    if name is None or isinstance(name, torch.dtype):
        return name
    key = str(name).lower().removeprefix("torch.")
    dtype = _int_dtypes().get(key) or _float_dtypes().get(key)
    if dtype is None:
        raise ValueError(f"unknown input dtype {name!r}: use e.g. long (token ids) or float32")
    return dtype


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def under_pytest() -> bool:
    return "PYTEST_CURRENT_TEST" in os.environ


def resolve_targets(devices: Any, dtypes: Any) -> tuple[list[str], list[torch.dtype]]:
    """Devices and dtypes of a run; a missing device skips under pytest and raises elsewhere."""
    try:
        device_list = resolve_devices(devices)
    except DeviceUnavailableError as exc:
        if under_pytest():
            import pytest

            pytest.skip(str(exc))
        raise
    return device_list, resolve_dtypes(dtypes)


def seed_for(seed: int, device: str) -> None:
    """Seed the generators a run on ``device`` uses, as ``torch.manual_seed`` does, without
    its cost: with no accelerator initialised, ``torch.manual_seed`` queues a lazy seeding call
    for every backend (CUDA, XPU, MTIA), each recording a stack trace - about 5 ms, as much as a
    whole small forward and backward."""
    import torch

    torch.default_generator.manual_seed(seed)
    kind = torch.device(device).type
    if kind == "cuda":
        torch.cuda.manual_seed_all(seed)
    elif kind == "mps":
        torch.mps.manual_seed(seed)
    elif kind != "cpu":
        torch.manual_seed(seed)
