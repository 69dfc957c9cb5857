"""One vocabulary of results (findings, gradient reports), many renderings.

Data objects here never print; renderers in :mod:`gradcheck_kit.report.console` and
:mod:`gradcheck_kit.report.formats` turn them into rich renderables, JSON, SARIF, Markdown, and
:mod:`gradcheck_kit.report.registry` is the one table of which format each command offers and
which renderer or file writer serves it. Nothing here imports torch, the linter, the runtime or
the commands.
"""

from gradcheck_kit.report.findings import Finding, LintError, LintResult, RelatedLocation

__all__ = ["Finding", "LintError", "LintResult", "RelatedLocation"]
