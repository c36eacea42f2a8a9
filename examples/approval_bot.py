"""A small approval bot: review a draft post and answer the way a chat bot would.

Two ways to ask smrules, same answer:

    python examples/approval_bot.py "Our Q3 revenue beat expectations!"          # Python API
    python examples/approval_bot.py --url http://127.0.0.1:8181 "Our Q3 ..."     # HTTP service

The API mode loads the policy in-process (`--policy`, default `policies`). The HTTP mode posts the
draft to `smrules serve` (`--token-file` when the service needs a bearer token) and gets the
decision id under which the service logged its answer. Exit code: 0 allowed or warned,
1 denied, 2 wrong usage, 3 the draft or the policy is invalid or the service is unreachable.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

OPENINGS = {
    "allow": "Looks good to me. You can post this.",
    "warn": "You can post this, but please look at these first:",
    "deny": "Please don't post this yet:",
}


def build_activity(args: argparse.Namespace) -> dict[str, Any]:
    """The draft as an activity (SPEC §3): what the bot knows about the author and the post."""
    actor: dict[str, Any] = {"id": args.author}
    if args.department:
        actor["department"] = args.department
    activity: dict[str, Any] = {
        "kind": args.kind,
        "actor": actor,
        "account": {"type": "personal"},
        "audience": "public",
        "content": {"text": args.text},
    }
    if args.platform:
        activity["platform"] = args.platform
    return activity


class ReviewFailed(Exception):
    """The draft could not be reviewed; the message says why, for the person asking."""


# ------------------------------------------------------------------ two ways to ask


def review_with_api(policy_path: str, activity: dict[str, Any]) -> dict[str, Any]:
    """Evaluate in-process with the Python API; returns the decision JSON (SPEC §4)."""
    import smrules

    try:
        policy = smrules.load(policy_path)
    except smrules.PolicyError as err:
        raise ReviewFailed(f"the policy `{policy_path}` has errors:\n{err.render()}") from None
    try:
        return policy.evaluate(activity).to_dict()
    except smrules.ActivityError as err:
        raise ReviewFailed(_problems(err.to_record())) from None


def review_over_http(url: str, activity: dict[str, Any], token: str | None) -> dict[str, Any]:
    """POST the draft to `smrules serve`; returns the decision JSON with its `decision_id`."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url.rstrip("/") + "/v1/decisions",
        data=json.dumps(activity).encode("utf-8"),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as err:
        try:
            body = json.load(err)
        except ValueError:
            body = {"error": err.reason}
        if err.code == 422:
            raise ReviewFailed(_problems(body)) from None
        raise ReviewFailed(f"the service answered {err.code}: {body.get('error')}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ReviewFailed(f"cannot reach the service at {url}: {reason}") from None


def _problems(record: dict[str, Any]) -> str:
    lines = ["I could not read this draft:"]
    for problem in record.get("problems", []):
        lines.append(f"  - {problem['path'] or 'the draft'}: {problem['message']}")
    return "\n".join(lines)


# ------------------------------------------------------------------ the reply


def highlight(text: str, decision: dict[str, Any]) -> str | None:
    """The draft with the words that caused findings in [brackets], or None if there are none."""
    spans = sorted(
        {
            (e["start"], e["end"])
            for f in decision["findings"]
            if not f["audit"] and not f["waived"]
            for e in f["evidence"]
            if e["path"] == "content.text" and e["start"] is not None
        }
    )
    if not spans:
        return None
    out, pos = [], 0
    for start, end in spans:
        if start < pos:  # overlaps the previous highlight
            continue
        out += [text[pos:start], "[", text[start:end], "]"]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def reply(decision: dict[str, Any], text: str) -> str:
    """What the bot says: the verdict, then each finding with its hint."""
    lines = [OPENINGS[decision["decision"]]]
    counted = [f for f in decision["findings"] if not f["audit"] and not f["waived"]]
    for finding in counted:
        if finding["effect"] == "allow":
            continue
        title = finding["title"] or finding["rule"]
        lines.append(f"  * {title}: {finding['message'] or 'not allowed'}")
        if finding["hint"]:
            lines.append(f"    Tip: {finding['hint']}")
        if finding["ref"]:
            lines.append(f"    See: {finding['ref']}")
    for finding in decision["findings"]:
        if finding["waived"]:
            waiver = finding["waived"]
            lines.append(
                f"  (waived until {waiver['until']}, approved by {waiver['approved_by']}: "
                f"{finding['title'] or finding['rule']})"
            )
    marked = highlight(text, decision)
    if marked and decision["decision"] != "allow":
        lines.append(f"  In your draft: {marked}")
    if decision.get("decision_id"):
        lines.append(f"(Decision {decision['decision_id']}, policy {decision['policy']['name']})")
    return "\n".join(lines)


# ------------------------------------------------------------------ command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Review a draft post against the policy.")
    parser.add_argument("text", help="the draft")
    parser.add_argument("--url", help="ask the HTTP service at this URL instead of the API")
    parser.add_argument("--token-file", type=Path, help="bearer token for the HTTP service")
    parser.add_argument("--policy", default="policies", help="policy for the API mode")
    parser.add_argument("--author", default="bot-user", help="actor id (default: bot-user)")
    parser.add_argument("--department", help="the author's department")
    parser.add_argument("--platform", default="linkedin", help="where it will be posted")
    parser.add_argument("--kind", default="post", help="post, comment, reply, share, ...")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    activity = build_activity(args)
    try:
        if args.url:
            token = args.token_file.read_text(encoding="utf-8").strip() if args.token_file else None
            decision = review_over_http(args.url, activity, token)
        else:
            decision = review_with_api(args.policy, activity)
    except (ReviewFailed, OSError) as err:
        print(err, file=sys.stderr)
        return 3
    print(reply(decision, args.text))
    return 1 if decision["decision"] == "deny" else 0


if __name__ == "__main__":
    sys.exit(main())
