// The gradcheck-kit action's pull-request comment (action.yml runs it with actions/github-script):
// one comment per mode, found again by its marker and edited on each push instead of piling up.
// Called as `await require(".../comment.js")({github, context, core}, {report, mode})`.
"use strict";

const fs = require("fs");

// GitHub refuses comment bodies over 65536 characters.
const LIMIT = 65000;
const CUT = "\n\n(Cut here: the full report is in the job summary.)\n";

function body(report, mode) {
  const marker = `<!-- gradcheck-kit ${mode} -->`;
  let text = fs.readFileSync(report, "utf8");
  if (marker.length + 1 + text.length > LIMIT) {
    text = text.slice(0, LIMIT - marker.length - 1 - CUT.length) + CUT;
  }
  return { marker, text: `${marker}\n${text}` };
}

module.exports = async function comment({ github, context, core }, { report, mode }) {
  const pull = context.payload.pull_request;
  if (!pull) {
    core.info("not a pull request: no comment");
    return "skipped";
  }
  const { marker, text } = body(report, mode);
  const { owner, repo } = context.repo;
  const comments = await github.paginate(github.rest.issues.listComments, {
    owner,
    repo,
    issue_number: pull.number,
    per_page: 100,
  });
  const old = comments.find((c) => (c.body || "").startsWith(marker));
  if (old) {
    await github.rest.issues.updateComment({ owner, repo, comment_id: old.id, body: text });
    return "updated";
  }
  await github.rest.issues.createComment({ owner, repo, issue_number: pull.number, body: text });
  return "created";
};
