#!/usr/bin/env bash
# The work of the gradcheck-kit GitHub Action (action.yml at the repository root runs it): install
# gradcheck-kit from the action's own checkout, run it, write the SARIF log and the Markdown report,
# append the report to the job summary, and hand the tool's exit code to the action's last step.
# It exits non-zero only when it cannot do its work (a bad input, a failed install); the tool's
# own exit code (1: findings or failed checks, 2: usage) is the `exit-code` output, so the SARIF
# upload and the PR comment still run before the action fails with it.
#
# Environment (action.yml passes its inputs this way, never spliced into the script):
#   GCK_MODE          lint | audit (default lint)
#   GCK_PATHS         files and folders, split as a shell would (default .)
#   GCK_ARGS          more arguments for `gradcheck-kit lint|audit`, split as a shell would
#   GCK_ACTION_PATH   where gradcheck-kit is checked out (default: this script's repository)
#   GCK_OUTPUT_DIR    where the reports go (default $RUNNER_TEMP/gradcheck-kit)
#   GCK_SKIP_INSTALL  1: use the gradcheck-kit already importable (tests; a pre-built runner)
#   GCK_PYTHON        the Python to use (default python)
#   GCK_PIP           the pip command (default "$GCK_PYTHON -m pip")
#   GCK_TORCH_INDEX   where audit's torch comes from (default PyTorch's CPU wheels)
#   GCK_SUMMARY_LIMIT bytes of the report the job summary takes (default 1000000)
#   GITHUB_STEP_SUMMARY, GITHUB_OUTPUT   as GitHub Actions sets them (skipped when unset)
set -euo pipefail

mode="${GCK_MODE:-lint}"
python="${GCK_PYTHON:-python}"
action_path="${GCK_ACTION_PATH:-$(cd "$(dirname "$0")/../.." && pwd)}"
out="${GCK_OUTPUT_DIR:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/gradcheck-kit}"
torch_index="${GCK_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
summary_limit="${GCK_SUMMARY_LIMIT:-1000000}" # GitHub takes at most 1 MiB of job summary per step

case "$mode" in
  lint | audit) ;;
  *)
    echo "::error title=gradcheck-kit::mode must be lint or audit, not '${mode}'"
    exit 2
    ;;
esac

# Split a string into words as a shell would (quotes kept together), one NUL-ended word each;
# shlex does it without evaluating anything in the string.
words() {
  "$python" -c 'import shlex, sys; sys.stdout.write("".join(w + "\0" for w in shlex.split(sys.argv[1])))' "$1"
}
paths=()
while IFS= read -r -d '' word; do paths+=("$word"); done < <(words "${GCK_PATHS:-.}")
[ "${#paths[@]}" -gt 0 ] || paths=(.)
args=()
while IFS= read -r -d '' word; do args+=("$word"); done < <(words "${GCK_ARGS:-}")

if [ "${GCK_SKIP_INSTALL:-}" != "1" ]; then
  if [ -n "${GCK_PIP:-}" ]; then pip=("$GCK_PIP"); else pip=("$python" -m pip); fi
  echo "::group::Install gradcheck-kit"
  if [ "$mode" = audit ]; then
    # the CPU build first: a bare `torch` requirement pulls the multi-GB CUDA one
    "${pip[@]}" install --disable-pip-version-check torch --index-url "$torch_index"
    "${pip[@]}" install --disable-pip-version-check "${action_path}[runtime]"
  else
    "${pip[@]}" install --disable-pip-version-check "$action_path"
  fi
  echo "::endgroup::"
fi

mkdir -p "$out"
sarif="$out/gradcheck-kit.sarif"
report="$out/gradcheck-kit.md"
rm -f "$sarif" "$report"

# The run whose exit code counts: its findings in the log, the Markdown report in a file.
status=0
"$python" -m gradcheck_kit "$mode" ${args[@]+"${args[@]}"} --report "$report" "${paths[@]}" || status=$?

# SARIF for code scanning: lint always (its cache makes the second pass cheap); in audit mode
# without `args`, which are audit's.
lint_args=()
[ "$mode" = lint ] && lint_args=(${args[@]+"${args[@]}"})
"$python" -m gradcheck_kit lint ${lint_args[@]+"${lint_args[@]}"} --format sarif \
  --output-file "$sarif" --exit-zero "${paths[@]}" || echo "::warning title=gradcheck-kit::no SARIF log was written"

if [ -s "$report" ] && [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  if [ "$(wc -c <"$report")" -le "$summary_limit" ]; then
    cat "$report" >>"$GITHUB_STEP_SUMMARY"
  else
    head -c "$summary_limit" "$report" >>"$GITHUB_STEP_SUMMARY"
    printf '\n\n(The report is longer than a job summary can be: cut here.)\n' >>"$GITHUB_STEP_SUMMARY"
  fi
fi

if [ -n "${GITHUB_OUTPUT:-}" ]; then
  {
    echo "exit-code=$status"
    if [ -s "$sarif" ]; then echo "sarif=$sarif"; fi
    if [ -s "$report" ]; then echo "report=$report"; fi
  } >>"$GITHUB_OUTPUT"
fi
echo "gradcheck-kit $mode exited with $status"
