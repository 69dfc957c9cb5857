"""pytest plugin (registered through the ``pytest11`` entry point). Loads without torch.

Every hook lives here; torch, hypothesis and rich are imported only when a test asks for the
``gradcheck`` fixture, a lint item runs, or there is a summary or report to write.

* Fixture ``gradcheck``: :func:`gradcheck_kit.check_gradients` with the run's options as
  defaults. A failing check fails the test with the report's summary and a per-layer profile.
* Marker ``@pytest.mark.gradcheck(**kwargs)``: default keyword arguments for the fixture in that
  test, class or module (``pytestmark``); the call's own arguments win over the marker, the marker
  over the options below.
* Options (ini keys in brackets): ``--gradcheck-devices`` [gradcheck_devices],
  ``--gradcheck-max-examples`` [gradcheck_max_examples], ``--gradcheck-seed`` [gradcheck_seed],
  ``--gradcheck-profile`` [gradcheck_profile], ``--gradcheck-report`` [gradcheck_report],
  ``--gradcheck-lint`` [gradcheck_lint]. The command line wins over the ini file.
* A device that is not available skips the test, unless it was named on the command line with
  ``--gradcheck-devices``: then the test fails (the user asked for that device).
* Terminal summary: a "gradient flow" table after the usual summary (not under ``-q``).
* pytest-xdist: workers attach their results to the test reports they send; the controller
  merges them into one summary and one report file.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from gradcheck_kit.config import Config as LintConfig
    from gradcheck_kit.report.findings import Finding, LintError, LintResult
    from gradcheck_kit.report.gradients import GradientReport

#: Hypothesis settings profiles behind ``--gradcheck-profile``. They are registered (as
#: ``gradcheck-quick`` ...) only when first used and only if not already registered, so a
#: conftest.py may register its own under the same name. Of a profile the checker uses
#: ``max_examples`` and ``derandomize`` (a fixed seed, 0, unless ``--gradcheck-seed`` is given).
PROFILES: dict[str, dict[str, Any]] = {
    "quick": {"max_examples": 10},
    "ci": {"max_examples": 30, "derandomize": True},
    "thorough": {"max_examples": 200},
}
LINT_ITEM_NAME = "gradcheck-lint"
SUMMARY_TITLE = "gradient flow"

_records_key = pytest.StashKey[list[dict[str, Any]]]()
_lint_key = pytest.StashKey[dict[str, Any]]()


# --------------------------------------------------------------------------- options


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradcheck", "gradient checks (gradcheck-kit)")
    group.addoption(
        "--gradcheck-devices",
        dest="gradcheck_devices",
        metavar="DEVICES",
        help="devices for the gradcheck fixture: cpu, cuda, mps, a comma list, or auto "
        "(CPU plus every available accelerator). A device named here that is not available "
        "fails the test; elsewhere it skips.",
    )
    group.addoption(
        "--gradcheck-max-examples",
        dest="gradcheck_max_examples",
        metavar="N",
        help="Hypothesis examples per gradient check (overrides the profile)",
    )
    group.addoption(
        "--gradcheck-seed",
        dest="gradcheck_seed",
        metavar="N",
        help="fixed seed for every gradient check: an identical run",
    )
    group.addoption(
        "--gradcheck-profile",
        dest="gradcheck_profile",
        metavar="NAME",
        help="Hypothesis settings profile for gradient checks: quick (10 examples), ci (30, "
        "derandomized) or thorough (200)",
    )
    group.addoption(
        "--gradcheck-report",
        dest="gradcheck_report",
        metavar="PATH",
        help="write every gradient check (and lint item) to PATH: .html, .svg, .md or .json",
    )
    group.addoption(
        "--gradcheck-lint",
        dest="gradcheck_lint",
        action="store_true",
        default=None,
        help="also collect every Python file as a gradcheck-kit lint item",
    )
    group.addoption(
        "--gradcheck-checks",
        dest="gradcheck_checks",
        action="store_true",
        default=None,
        help="also run each [[tool.gradcheck-kit.check]] table of pyproject.toml as a test item",
    )
    parser.addini("gradcheck_devices", "default for --gradcheck-devices", default="")
    parser.addini("gradcheck_max_examples", "default for --gradcheck-max-examples", default="")
    parser.addini("gradcheck_seed", "default for --gradcheck-seed", default="")
    parser.addini("gradcheck_profile", "default for --gradcheck-profile", default="")
    parser.addini(
        "gradcheck_report", "default for --gradcheck-report (relative to rootdir)", default=""
    )
    parser.addini("gradcheck_lint", "default for --gradcheck-lint", type="bool", default=False)
    parser.addini("gradcheck_checks", "default for --gradcheck-checks", type="bool", default=False)


@dataclass(frozen=True)
class Options:
    """The run's gradcheck settings, command line over ini."""

    devices: str | None = None
    explicit_devices: frozenset[str] = frozenset()  # named on the command line
    max_examples: int | None = None
    seed: int | None = None
    profile: str | None = None
    report: Path | None = None
    lint: bool = False
    checks: bool = False


def _raw(config: pytest.Config, name: str) -> tuple[str | None, bool]:
    """(value, came from the command line)."""
    value = config.getoption(name)
    if value is not None:
        return str(value), True
    ini = config.getini(name)
    return (str(ini).strip() or None), False


def _int(config: pytest.Config, name: str, minimum: int) -> int | None:
    value, from_cli = _raw(config, name)
    if value is None:
        return None
    flag = f"--{name.replace('_', '-')}" if from_cli else f"ini option {name}"
    try:
        number = int(value)
    except ValueError:
        raise pytest.UsageError(f"{flag}: expected an integer, got {value!r}") from None
    if number < minimum:
        raise pytest.UsageError(f"{flag}: must be at least {minimum}, got {number}")
    return number


def _split(devices: str) -> list[str]:
    return [d.strip() for d in devices.split(",") if d.strip()]


def read_options(config: pytest.Config) -> Options:
    devices, devices_cli = _raw(config, "gradcheck_devices")
    profile, profile_cli = _raw(config, "gradcheck_profile")
    if profile is not None and profile not in PROFILES:
        where = "--gradcheck-profile" if profile_cli else "ini option gradcheck_profile"
        raise pytest.UsageError(
            f"{where}: unknown profile {profile!r}; use one of {', '.join(PROFILES)}"
        )
    report_raw, report_cli = _raw(config, "gradcheck_report")
    report: Path | None = None
    if report_raw is not None:
        base = config.invocation_params.dir if report_cli else config.rootpath
        report = Path(base, report_raw)
        from gradcheck_kit.report.export import FORMATS

        if report.suffix.lower() not in FORMATS:
            raise pytest.UsageError(
                f"--gradcheck-report {report_raw}: name the file .html, .svg, .md or .json "
                "(the suffix picks the format)"
            )
    lint = config.getoption("gradcheck_lint")
    checks = config.getoption("gradcheck_checks")
    return Options(
        devices=devices,
        explicit_devices=frozenset(_split(devices or "")) if devices_cli else frozenset(),
        max_examples=_int(config, "gradcheck_max_examples", 1),
        seed=_int(config, "gradcheck_seed", 0),
        profile=profile,
        report=report,
        lint=bool(lint) if lint is not None else bool(config.getini("gradcheck_lint")),
        checks=bool(checks) if checks is not None else bool(config.getini("gradcheck_checks")),
    )


# --------------------------------------------------------------------------- session state


@dataclass
class GradcheckState:
    """What the run collected: gradient reports (as dicts, as they travel from xdist workers)
    and lint outcomes, each tagged with the test that produced it."""

    options: Options
    records: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    lint: list[dict[str, Any]] = field(default_factory=list)
    report_written: Path | None = None
    report_error: str | None = None

    def entries(self) -> list[tuple[str | None, GradientReport]]:
        from gradcheck_kit.report.gradients import GradientReport

        ordered = sorted(self.records, key=lambda r: (r[0], r[1]))
        return [(nodeid, GradientReport.from_dict(data)) for nodeid, _, data in ordered]

    def lint_result(self) -> LintResult | None:
        if not self.options.lint and not self.lint:
            return None
        from gradcheck_kit.report.findings import Finding, LintError, LintResult

        result = LintResult()
        for outcome in sorted(self.lint, key=lambda o: str(o["path"])):
            result.files_checked += 1
            result.findings.extend(Finding.from_dict(f) for f in outcome["findings"])
            if outcome.get("error"):
                result.errors.append(LintError.from_dict(outcome["error"]))
        result.sort()
        return result


_state_key = pytest.StashKey[GradcheckState]()
_SESSION_PLUGIN = "gradcheck-session"


def _state(config: pytest.Config) -> GradcheckState:
    return config.stash[_state_key]


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "gradcheck(**kwargs): default keyword arguments of check_gradients for the gradcheck "
        "fixture in this test, class or module; the call's own arguments win",
    )
    config.addinivalue_line(
        "markers", "gradcheck_lint: a gradcheck-kit lint item (collected with --gradcheck-lint)"
    )
    state = GradcheckState(read_options(config))
    config.stash[_state_key] = state
    config.pluginmanager.register(GradcheckSession(config, state), _SESSION_PLUGIN)


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.pluginmanager.get_plugin(_SESSION_PLUGIN)
    if plugin is not None:
        config.pluginmanager.unregister(plugin)


# --------------------------------------------------------------------------- the fixture


def _marker_kwargs(node: pytest.Item) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for marker in reversed(list(node.iter_markers("gradcheck"))):  # closest marker last: wins
        if marker.args:
            raise pytest.UsageError(
                f"{node.nodeid}: @pytest.mark.gradcheck takes keyword arguments only "
                "(those of check_gradients, e.g. depths=(2, 16), max_examples=10)"
            )
        kwargs.update(marker.kwargs)
    return kwargs


def _profile_settings(name: str) -> tuple[int | None, bool]:
    """(max_examples, derandomize) of the Hypothesis profile ``gradcheck-<name>``."""
    from hypothesis import settings
    from hypothesis.errors import InvalidArgument

    full = f"gradcheck-{name}"
    try:
        profile = settings.get_profile(full)
    except InvalidArgument:
        settings.register_profile(full, deadline=None, database=None, **PROFILES[name])
        profile = settings.get_profile(full)
    return profile.max_examples, bool(profile.derandomize)


def _resolve_devices(requested: Any, options: Options) -> list[str]:
    """Devices for one check; an unavailable one skips the test, or fails it when the command
    line named it."""
    __tracebackhide__ = True
    from gradcheck_kit.runtime.devices import DeviceUnavailableError, resolve_devices

    names = _split(requested) if isinstance(requested, str) else [str(d) for d in requested]
    for name in names:
        try:
            resolve_devices([name])
        except DeviceUnavailableError as exc:
            if name in options.explicit_devices:
                pytest.fail(f"--gradcheck-devices asked for {exc}", pytrace=False)
            pytest.skip(str(exc))
    return resolve_devices(names)


def run_check(
    options: Options,
    factory: Callable[[int], Any],
    kwargs: Mapping[str, Any],
    records: list[dict[str, Any]],
) -> GradientReport:
    """check_gradients with the run's defaults; records the report; raises on failure unless
    ``raise_on_failure=False`` was passed."""
    __tracebackhide__ = True
    from gradcheck_kit.report.gradients import GradientFlowError
    from gradcheck_kit.runtime.check import check_gradients

    kw = dict(kwargs)
    raise_on_failure = bool(kw.pop("raise_on_failure", True))
    max_examples, derandomize = (
        _profile_settings(options.profile) if options.profile else (None, False)
    )
    if "max_examples" not in kw and (options.max_examples or max_examples):
        kw["max_examples"] = options.max_examples or max_examples
    if "seed" not in kw:
        if options.seed is not None:
            kw["seed"] = options.seed
        elif derandomize:
            kw["seed"] = 0
    kw["devices"] = _resolve_devices(kw.get("devices", options.devices or "cpu"), options)
    kw.setdefault("progress", False)  # pytest captures the output; a bar would be noise
    report = check_gradients(factory, raise_on_failure=False, **kw)
    records.append(report.to_dict())
    if not report.passed and raise_on_failure:
        raise GradientFlowError(report)
    return report


@pytest.fixture
def gradcheck(request: pytest.FixtureRequest) -> Callable[..., GradientReport]:
    """``gradcheck(factory, **kwargs)``: :func:`gradcheck_kit.check_gradients` with this run's
    ``--gradcheck-*`` options (and any ``@pytest.mark.gradcheck`` keywords) as defaults.
    Returns the GradientReport; a failing check fails the test."""
    from gradcheck_kit.runtime.check import check_gradients

    node = request.node
    options = _state(request.config).options
    defaults = _marker_kwargs(node)
    records = node.stash.setdefault(_records_key, [])

    @functools.wraps(check_gradients)
    def check(factory: Callable[[int], Any], **kwargs: Any) -> GradientReport:
        __tracebackhide__ = True
        return run_check(options, factory, {**defaults, **kwargs}, records)

    return check


# --------------------------------------------------------------------------- reports


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield  # type: ignore[misc, assignment]
    if call.when == "call":
        records = item.stash.get(_records_key, None)
        if records:
            # a plain attribute: pytest-xdist serializes a report's __dict__ to the controller
            report.gradcheck_reports = list(records)  # type: ignore[attr-defined]
            failing = next((r for r in records if not r["passed"]), None)
            if failing is not None and report.failed:
                report.sections.append(("gradient profile", _profile_text(item, failing)))
                _verdict_in_short_summary(report, failing)
        outcome = item.stash.get(_lint_key, None)
        if outcome is not None:
            report.gradcheck_lint = outcome  # type: ignore[attr-defined]
    return report  # type: ignore[return-value]


def _verdict_in_short_summary(report: pytest.TestReport, data: Mapping[str, Any]) -> None:
    """``-ra``'s line for a failed check reads ``vanishes from depth 6 (flow ratio 1.1e-05)``
    (short: pytest cuts the line at the terminal's width) instead of a truncated exception
    class name."""
    from gradcheck_kit.report.gradients import FailureKind, GradientReport

    crash = getattr(report.longrepr, "reprcrash", None)
    failure = GradientReport.from_dict(data).failure
    if crash is None or failure is None:
        return
    text = failure.headline()
    if failure.ratio is not None and failure.kind in (FailureKind.VANISHING, FailureKind.EXPLODING):
        text += f" (flow ratio {failure.ratio:.2g})"
    elif failure.exception or failure.message:  # the exception says most in few words
        text += f": {(failure.exception or failure.message).splitlines()[0]}"
    crash.message = text


def _profile_text(item: pytest.Item, data: Mapping[str, Any]) -> str:
    from rich.console import Console

    from gradcheck_kit.report.gradient_console import layer_table
    from gradcheck_kit.report.gradients import GradientReport

    report = GradientReport.from_dict(data)
    layers = report.failure.layers if report.failure else report.layers
    console = Console(file=io.StringIO(), width=100, no_color=True, highlight=False)
    if layers:
        console.print(layer_table(layers))
    if report.seed is not None:
        console.print(f"rerun this check: pytest '{item.nodeid}' --gradcheck-seed={report.seed}")
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]


class GradcheckSession:
    """The hooks that need the run's state: merging results, the summary, the report file."""

    def __init__(self, config: pytest.Config, state: GradcheckState) -> None:
        self.config = config
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # in a plain run and in the xdist controller (for the reports workers send)
        for i, data in enumerate(getattr(report, "gradcheck_reports", None) or ()):
            self.state.records.append((report.nodeid, i, data))
        outcome = getattr(report, "gradcheck_lint", None)
        if outcome is not None:
            self.state.lint.append(outcome)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        path = self.state.options.report
        if path is None or _is_xdist_worker(self.config):
            return
        from gradcheck_kit.report.export import write_report

        try:
            write_report(path, lint=self.state.lint_result(), gradients=self.state.entries())
        except OSError as exc:
            self.state.report_error = f"cannot write {path}: {exc.strerror or exc}"
        else:
            self.state.report_written = path

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(
        self, terminalreporter: Any, exitstatus: int, config: pytest.Config
    ) -> Iterator[None]:
        # a wrapper that runs first finishes last: after pytest's own short summary
        try:
            return (yield)  # type: ignore[misc]
        finally:
            self._summary(terminalreporter)

    def _summary(self, reporter: Any) -> None:
        state = self.state
        if state.report_error:
            reporter.write_line(f"gradcheck: {state.report_error}", red=True, bold=True)
        if self.config.get_verbosity() < 0 or not state.records:
            return
        from rich.console import Console

        from gradcheck_kit.report.gradient_console import gradient_flow_table

        writer = reporter._tw
        console = Console(
            file=io.StringIO(),
            width=max(60, writer.fullwidth),
            force_terminal=writer.hasmarkup,
            no_color=not writer.hasmarkup,
            highlight=False,
            emoji=False,
        )
        console.print(gradient_flow_table(state.entries(), compact=True))
        reporter.write_sep("=", SUMMARY_TITLE)
        reporter.write(console.file.getvalue())  # type: ignore[attr-defined]
        if state.report_written is not None:
            reporter.write_line(f"gradcheck report: {state.report_written}")


# --------------------------------------------------------------------------- lint items


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix != ".py" or not _state(parent.config).options.lint:
        return None
    config = _lint_config(file_path.parent)
    from gradcheck_kit.lint.discovery import discover

    if not any(True for _ in discover([file_path], config)):
        return None  # excluded by [tool.gradcheck-kit] exclude
    return LintFile.from_parent(parent, path=file_path)


@functools.lru_cache(maxsize=256)
def _lint_config(directory: Path) -> LintConfig:
    from gradcheck_kit.config import ConfigError, discover_config

    try:
        return discover_config([directory])
    except ConfigError as exc:
        raise pytest.UsageError(f"gradcheck-kit configuration: {exc}") from exc


class LintFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        yield LintItem.from_parent(self, name=LINT_ITEM_NAME)


class LintFailure(Exception):
    def __init__(self, findings: Sequence[Finding], error: LintError | None) -> None:
        super().__init__(f"{len(findings)} finding(s)")
        self.findings = findings
        self.error = error


class LintItem(pytest.Item):
    """One file, linted by the same engine as ``gradcheck-kit lint``; fails with its findings."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_marker("gradcheck_lint")

    def runtest(self) -> None:
        from gradcheck_kit.lint.engine import lint_file

        findings, error = lint_file(_display_path(self.path), _lint_config(self.path.parent))
        self.stash[_lint_key] = {
            "path": str(_display_path(self.path)),
            "findings": [f.to_dict() for f in findings],
            "error": error.to_dict() if error else None,
        }
        if findings or error:
            raise LintFailure(findings, error)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        if isinstance(excinfo.value, LintFailure):
            return _lint_text(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{LINT_ITEM_NAME} {self.path.name}"


def _display_path(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _lint_text(failure: LintFailure) -> str:
    from rich.console import Console

    from gradcheck_kit.report.console import FindingView

    console = Console(file=io.StringIO(), width=100, no_color=True, highlight=False)
    for finding in failure.findings:
        console.print(FindingView(finding))
    if failure.error is not None:
        console.print(f"{failure.error.path}: error: {failure.error.message}")
    return console.file.getvalue().rstrip()  # type: ignore[attr-defined, no-any-return]


# --------------------------------------------------------------------------- declared checks


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselect: the items must exist by then
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """``--gradcheck-checks``: each [[tool.gradcheck-kit.check]] table of the pyproject.toml
    found from the rootdir becomes a test item, ``pyproject.toml::check[TARGET]``."""
    if not _state(config).options.checks:
        return
    from gradcheck_kit.config import ConfigError, discover_config

    try:
        project = discover_config([config.rootpath])
    except ConfigError as exc:
        raise pytest.UsageError(f"gradcheck-kit configuration: {exc}") from exc
    if project.source is None or not project.checks:
        return
    holder = ChecksFile.from_parent(session, path=project.source)
    items.extend(
        CheckItem.from_parent(
            holder, name=f"check[{table.get('target', '?')}]", table=dict(table), root=project.root
        )
        for table in project.checks
    )


class ChecksFile(pytest.File):
    """The pyproject.toml whose check tables became items (they are made, not collected)."""

    def collect(self) -> Iterator[pytest.Item]:
        return iter(())


class CheckItem(pytest.Item):
    """One declared check, run as ``gradcheck-kit check`` runs it, with the run's pytest
    options (devices, max examples, seed, profile); skipped when the model's optional package is
    missing, failed with the verdict when the check fails or cannot run."""

    def __init__(self, *, table: dict[str, Any], root: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.root = root
        self.add_marker("gradcheck")

    def runtest(self) -> None:
        from gradcheck_kit.config import CHECK_KEYS
        from gradcheck_kit.report.checks import CheckOutcome
        from gradcheck_kit.runtime.targets import load_declared

        spec = {CHECK_KEYS[k]: v for k, v in self.table.items()}
        target = str(spec.get("target", ""))
        outcome = CheckOutcome(target)
        loaded = load_declared(spec, self.root, target, outcome)
        if outcome.skipped is not None:
            pytest.skip(outcome.skipped)
        if loaded is None:
            raise CheckTableError(f"{target}: {outcome.error}")
        factory, kwargs = loaded
        records = self.stash.setdefault(_records_key, [])
        run_check(_state(self.config).options, factory, {**kwargs, "name": target}, records)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        if isinstance(excinfo.value, CheckTableError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)  # a GradientFlowError reads as in a test

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


class CheckTableError(Exception):
    """A declared check that cannot run (a target that does not load, a bad value)."""
