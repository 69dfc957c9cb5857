"""The HTML report (issue 22 item 5): a page a reviewer opens - title, the verdict first, a
legend, a per-layer chart per check (inline SVG), tables, source excerpts; self-contained, every
user string escaped, valid HTML. Real lint of a real file, real checks of real torch models.

The last test opens the page in a headless browser from the system (Chromium, Chrome or Firefox)
and checks its screenshot; it is skipped, saying why, where none is installed."""

from __future__ import annotations

import math
import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hypothesis")
from torch import nn  # noqa: E402

import gradcheck_kit as gk  # noqa: E402
from gradcheck_kit.report.audit import AuditReport, write_audit_report  # noqa: E402
from gradcheck_kit.report.checks import CheckOutcome  # noqa: E402
from gradcheck_kit.report.export import write_report, write_sweep_report  # noqa: E402
from gradcheck_kit.report.findings import LintError  # noqa: E402
from gradcheck_kit.report.gradients import GradientReport, LayerStat, fmt  # noqa: E402
from gradcheck_kit.report.html import layer_chart  # noqa: E402
from gradcheck_kit.runtime.check import check_gradients  # noqa: E402
from gradcheck_kit.runtime.sweep import sweep  # noqa: E402

HOSTILE = "<script>alert(\"x\")</script> & 'q' <b>"
HOSTILE_FILE = "bad_<b>&'\"model.py"

BAD_MODEL = """from torch import nn


class DeepSigmoidMLP(nn.Module):
    def __init__(self, width: int = 32, depth: int = 8):
        super().__init__()
        layers = [nn.Linear(width, width), nn.Sigmoid()]
        for _ in range(depth - 1):
            layers += [nn.Linear(width, width), nn.Sigmoid()]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)
"""


def sigmoid_mlp(depth: int) -> nn.Module:
    return nn.Sequential(*[m for _ in range(depth) for m in (nn.Linear(16, 16), nn.Sigmoid())])


class Residual(nn.Module):
    def __init__(self, depth: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(nn.Linear(16, 16) for _ in range(depth))
        self.norm = nn.LayerNorm(16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = x + torch.tanh(block(x))
        return self.norm(x)


@pytest.fixture(scope="module")
def reports() -> tuple[GradientReport, GradientReport]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        failing = check_gradients(
            sigmoid_mlp,
            depths=(2, 12),
            input_shape=(4, 16),
            max_examples=5,
            seed=0,
            raise_on_failure=False,
            name=HOSTILE,
        )
        passing = check_gradients(
            Residual, depths=(2, 4), input_shape=(4, 16), max_examples=2, seed=0
        )
    finally:
        torch.set_num_threads(before)
    assert not failing.passed and passing.passed
    return failing, passing


@pytest.fixture
def lint_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> gk.LintResult:
    monkeypatch.chdir(tmp_path)
    Path(HOSTILE_FILE).write_text(BAD_MODEL)
    result = gk.lint_paths([HOSTILE_FILE])
    assert result.findings and result.findings[0].path.endswith(HOSTILE_FILE)
    return result


class Structure(HTMLParser):
    """Every tag closed in order (void elements aside), the text, and the tags in order."""

    VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "source", "wbr"}
    SVG_EMPTY = {"line", "rect", "circle", "polygon", "polyline", "path"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(text: str) -> Structure:
    parser = Structure()
    parser.feed(text)
    parser.close()
    assert not parser.errors, parser.errors[:5]
    assert parser.stack == [], parser.stack
    return parser


def assert_page(text: str) -> Structure:
    """Valid, self-contained, nothing user-controlled unescaped."""
    assert text.startswith("<!DOCTYPE html>")
    page = parse(text)
    names = [tag for tag, _ in page.tags]
    assert names.count("title") >= 1 and names.index("title") < names.index("body")
    assert "script" not in names and "<script" not in text.lower()
    for tag, attrs in page.tags:
        assert "src" not in attrs, tag  # nothing loaded: no image, no script, no frame
        href = attrs.get("href")
        assert href is None or href.startswith("#"), href
        assert not any(a.startswith("on") for a in attrs), (tag, attrs)
    assert "@import" not in text and "url(" not in text
    assert "\x1b[" not in text
    return page


def section_order(text: str) -> list[str]:
    return re.findall(r'<section id="([a-z]+)"', text)


def test_report_page(tmp_path: Path, reports, lint_result: gk.LintResult) -> None:
    failing, passing = reports
    path = tmp_path / "out" / "report.html"
    test_id = f"tests/test_a.py::test_{HOSTILE}"
    assert write_report(path, lint=lint_result, gradients=[(test_id, failing), passing]) == "html"
    text = path.read_text(encoding="utf-8")
    page = assert_page(text)
    assert "<title>gradcheck-kit: 1 of 2 gradient checks failed, 1 lint finding</title>" in text
    # the verdict first, then the legend, then the content
    assert section_order(text) == ["verdict", "legend", "gradients", "lint"]
    verdict = text.split('<section id="verdict"')[1].split("</section>")[0]
    assert "FAILED" in verdict and "1 failed" in verdict and "1 lint finding" in verdict
    legend = text.split('<section id="legend"')[1].split("</section>")[0]
    for words in ("vanish limit", "explode limit", "below the vanish limit", "highlighted lines"):
        assert words in legend
    # one chart per check, with both limits drawn and labelled axes
    charts = re.findall(r'<svg class="chart".*?</svg>', text, flags=re.S)
    assert len(charts) == 2
    for chart in charts:
        assert 'class="vanish"' in chart and 'class="explode"' in chart
        assert "gradient RMS (log scale)" in chart and "layer #" in chart
        assert chart.count('class="bar') >= 2
    assert 'class="bar bad"' in charts[0]  # the failing check's earliest layer, below the limit
    # every number in full, every name escaped
    layers = failing.failure.layers if failing.failure else ()
    for layer in layers:
        assert fmt(layer.grad_rms) in text
    all_text = "".join(page.text)
    assert HOSTILE in all_text and test_id in all_text and HOSTILE_FILE in all_text
    assert HOSTILE not in text and HOSTILE_FILE not in text  # only escaped in the source
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;q&#x27;" in text
    # the finding with its source excerpt, flagged lines highlighted
    finding = lint_result.findings[0]
    assert "GCK001" in text and f":{finding.line}:{finding.column}" in text
    assert '<span class="hl"><b>7</b>        layers = [nn.Linear(width, width), nn.Sigmoid()]' in (
        text
    )
    assert "reproduce" in text and "vanishing" in text


def test_title_with_braces_and_markup_is_safe(tmp_path: Path, reports) -> None:
    path = tmp_path / "r.html"
    write_report(path, gradients=[reports[1]], title="{code} <i>x</i>")
    text = path.read_text()
    assert "<title>{code} &lt;i&gt;x&lt;/i&gt;</title>" in text
    assert section_order(text) == ["verdict", "legend", "gradients"]
    assert "PASSED" in text.split('<section id="verdict"')[1].split("</section>")[0]
    assert_page(text)


def test_audit_page(tmp_path: Path, reports, lint_result: gk.LintResult) -> None:
    failing, passing = reports
    checks = [
        CheckOutcome(target=f"{HOSTILE_FILE}:make", report=failing, model=HOSTILE),
        CheckOutcome(target="models.py:make_residual", report=passing, model="Residual"),
        CheckOutcome(target="models.py:make_gpt", skipped="transformers is not installed"),
    ]
    lint_result.errors.append(LintError(path=HOSTILE_FILE, message=f"cannot parse: {HOSTILE}"))
    audit = AuditReport(lint=lint_result, checks=checks)
    path = tmp_path / "audit.html"
    write_audit_report(audit, str(path))
    text = path.read_text(encoding="utf-8")
    page = assert_page(text)
    assert "<title>gradcheck-kit audit: FAIL</title>" in text
    assert section_order(text) == ["verdict", "legend", "lint", "gradients"]
    verdict = text.split('<section id="verdict"')[1].split("</section>")[0]
    assert "FAIL" in verdict and "1/2 runtime checks passed" in verdict
    assert len(re.findall(r'<svg class="chart"', text)) == 2
    assert "skipped: transformers is not installed" in text
    assert "Files that could not be linted" in text and f"cannot parse: {HOSTILE}" in "".join(
        page.text
    )
    assert HOSTILE in "".join(page.text) and HOSTILE not in text
    # the same stylesheet as the other reports (one theme, light and dark)
    other = tmp_path / "r.html"
    write_report(other, gradients=[passing])
    style = re.compile(r"<style>.*?</style>", re.S)
    assert style.search(text).group() == style.search(other.read_text()).group()  # type: ignore[union-attr]
    assert "prefers-color-scheme: dark" in text


def test_chart_marks_zero_non_finite_and_unreached_layers() -> None:
    """The chart's marks, for the values a real run can report (the verdicts themselves are
    tested on real models in test_verdicts.py)."""
    layers = (
        LayerStat(0, "embed<&>", "Embedding", 8, grad_rms=None),
        LayerStat(1, "fc1", "Linear", 8, grad_rms=0.0),
        LayerStat(2, "fc2", "Linear", 8, grad_rms=math.inf),
        LayerStat(3, "fc3", "Linear", 8, grad_rms=2e-7),
        LayerStat(4, "fc4", "Linear", 8, grad_rms=5e4),
        LayerStat(5, "head", "Linear", 8, grad_rms=1e-1, input_grad_rms=1e-1),
    )
    report = GradientReport(
        target="t", passed=False, failure=None, examples_run=1, layers=layers, limits=(1e-3, 1e3)
    )
    chart = layer_chart(report)
    parse(chart)
    assert chart.count('class="mark none"') == 1  # no gradient reached the embedding
    assert chart.count('<polygon class="mark"') == 2  # zero, non-finite
    assert chart.count('class="bar bad"') == 1 and chart.count('class="bar high"') == 1
    assert "#0 embed&lt;&amp;&gt; (Embedding): no gradient reached it" in chart
    assert ">1e-8<" in chart or ">1e-7<" in chart  # the axis reaches the smallest value


def test_sweep_page(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    report = sweep(sigmoid_mlp, depths=[2, 4, 6], seeds=2, input_shape=(4, 16), name=HOSTILE)
    path = tmp_path / "sweep.html"
    write_sweep_report(path, report, warn=lambda message: None)
    text = path.read_text(encoding="utf-8")
    assert_page(text)
    assert section_order(text) == ["verdict", "legend", "sweeps"]
    (chart,) = re.findall(r'<svg class="chart".*?</svg>', text, flags=re.S)
    assert "flow ratio (log scale)" in chart and ">depth</text>" in chart
    assert 'class="vanish"' in chart and 'class="median"' in chart
    for p in report.points:
        assert fmt(p.median) in text and fmt(p.low) in text and fmt(p.high) in text
    assert '<th scope="col">notes</th>' not in text  # no empty column
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.html"]
    assert HOSTILE not in text and "&lt;script&gt;alert(&quot;x&quot;)" in text


# -- the browser ------------------------------------------------------------------------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "firefox")


def find_browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def png_pixels(data: bytes, max_rows: int) -> tuple[int, int, list[bytes]]:
    """(width, height, the first ``max_rows`` rows as RGB(A) bytes) of an 8-bit PNG: a tiny
    decoder (zlib and the five scanline filters), enough for a screenshot."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = zlib.decompressobj().decompress(idat, (stride + 1) * max_rows)
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(min(height, max_rows, len(raw) // (stride + 1))):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def screenshot(browser: str, page: Path, out: Path) -> None:
    size = "1200,2000"
    url = page.resolve().as_uri()
    if "firefox" in Path(browser).name:
        cmd = [browser, "--headless", "--screenshot", str(out), f"--window-size={size}", url]
    else:
        cmd = [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",  # as root in a container, Chromium refuses to start otherwise
            "--hide-scrollbars",
            f"--user-data-dir={out.parent / 'profile'}",
            f"--screenshot={out}",
            f"--window-size={size}",
            url,
        ]
    env = {**os.environ, "HOME": str(out.parent)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert out.exists(), f"{cmd}: rc {proc.returncode}\n{proc.stderr[-2000:]}"


@pytest.mark.skipif(
    find_browser() is None,
    reason=f"no headless browser on PATH ({', '.join(BROWSERS)}): "
    "apt-get install chromium to run this test",
)
def test_screenshot_in_a_headless_browser(
    tmp_path: Path, reports, lint_result: gk.LintResult
) -> None:
    browser = find_browser()
    assert browser is not None
    try:
        subprocess.run([browser, "--version"], capture_output=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as exc:  # e.g. a snap stub without snapd
        pytest.skip(f"{browser} does not run here: {exc}")
    page = tmp_path / "report.html"
    write_report(
        page, lint=lint_result, gradients=[("tests/t.py::test_deep", reports[0]), reports[1]]
    )
    out = tmp_path / "shot.png"
    screenshot(browser, page, out)
    data = out.read_bytes()
    assert len(data) > 20_000, len(data)  # a blank 1200x2000 page compresses to a few KB
    width, height, rows = png_pixels(data, max_rows=700)
    assert (width, height) == (1200, 2000)
    colours: set[bytes] = set()
    bpp = len(rows[0]) // width
    for row in rows[::3]:
        colours.update(row[i : i + 3] for i in range(0, len(row), bpp * 2))
    assert len(colours) > 50, len(colours)  # text, badges, chart: not a blank or one-colour page
    background = max(colours, key=lambda c: sum(r.count(c) for r in rows[::50]))
    # the verdict box near the top is drawn in the failure colour (red border, pink fill)
    top = rows[:300]
    reddish = sum(
        1
        for row in top
        for i in range(0, len(row), bpp * 4)
        if row[i] > 150 and row[i] - row[i + 1] > 40 and row[i] - row[i + 2] > 40
    )
    assert reddish > 100, (reddish, background)
