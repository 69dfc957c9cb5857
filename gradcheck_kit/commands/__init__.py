"""The sub-commands of ``gradcheck-kit``: ``lint``, ``rule``, ``check``, ``sweep``, ``audit``.

Each module holds a frozen options dataclass (what :mod:`gradcheck_kit.cli` builds from the
command line) and a ``run_*(options) -> int`` that returns the exit code: 0 clean, 1 findings
or failed checks, 2 usage, config or internal error - the same for every command. They sit
between the front ends and the two halves (``lint`` and ``runtime``), render through the one
format registry (:mod:`gradcheck_kit.report.registry`), and ``audit`` composes ``lint`` and
``check`` through their public functions.

Nothing is imported here: ``gradcheck-kit lint`` never loads torch.
"""

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
#: How to get the runtime checker's dependencies.
INSTALL_HINT = (
    "pip install torch hypothesis (the runtime extra: pip install -e '.[runtime]' in a clone)"
)
