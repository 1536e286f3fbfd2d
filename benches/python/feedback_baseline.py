"""CPU baseline for section 2: a faithful Python 3 port of hitl_domain::feedback (validate,
the group check, rules::decide, replay of a duplicate, recording with the same conditional
writes) against SQLite (sqlite3, same schema, WAL, BEGIN IMMEDIATE) and DynamoDB Local
(boto3, BatchGetItem + TransactWriteItems / conditional PutItem, as the Rust adapter does).

It processes the same event mix as the Rust side (see benches/src/feedback_cpu.rs) on
workflows seeded by the bench, and prints one JSON line: CPU seconds (getrusage of this
process, user + system) and wall seconds of the processing loop only, and outcome counts.
"""

import argparse
import hashlib
import json
import resource
import sqlite3
import sys
import time
from datetime import datetime, timedelta, timezone

MAX_COMMENT_CHARS = 4000
MAX_CORRECTIONS = 20
MAX_CORRECTION_CHARS = 500
MAX_ATTEMPTS = 8
CORRECTABLE_FIELDS = ("name", "tagline", "description", "category", "tone", "target_audience",
                      "colors.primary", "colors.secondary")
TERMINAL = ("approved", "escalated", "failed")
U32_MAX = 2 ** 32 - 1
RETENTION_DAYS = 365


def dumps(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def ts(dt):
    """chrono's serde form of DateTime<Utc>: RFC 3339, AutoSi fraction, Z."""
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond == 0:
        return base + "Z"
    if dt.microsecond % 1000 == 0:
        return "%s.%03dZ" % (base, dt.microsecond // 1000)
    return "%s.%06dZ" % (base, dt.microsecond)


def ts_micros(dt):
    return "%s.%06dZ" % (dt.strftime("%Y-%m-%dT%H:%M:%S"), dt.microsecond)


def parse_ts(text):
    return datetime.fromisoformat(text)


def display_ts(dt):
    return dt.strftime("%Y-%m-%d %H:%M:%S UTC")


class Invalid(Exception):
    pass


class NotFound(Exception):
    pass


class Forbidden(Exception):
    pass


class KeyReused(Exception):
    pass


class Conflict(Exception):
    pass


class Duplicate(Exception):
    pass


class Rejection(Exception):
    def __init__(self, name, message):
        super().__init__(message)
        self.name = name
        self.message = message


# ---------------------------------------------------------------- validation and rules

def valid_key(key):
    return 1 <= len(key.encode()) <= 128 and all(
        (c.isascii() and c.isalnum()) or c in "-_:." for c in key)


def check_correction(correction):
    if correction["field"] not in CORRECTABLE_FIELDS:
        return "%r cannot be corrected; correctable fields: %s" % (
            correction["field"], ", ".join(CORRECTABLE_FIELDS))
    if not correction["value"].strip():
        return "value must not be empty"
    return None


def validate(workflow_id, request, key, reviewer):
    errors = []
    if not workflow_id or len(workflow_id.encode()) > 64:
        errors.append(("workflow_id", "must be 1..=64 characters"))
    if not valid_key(key):
        errors.append(("idempotency_key",
                       "must be 1..=128 characters of letters, digits, '-', '_', ':' or '.'"))
    if not reviewer["name"].strip() or len(reviewer["name"].encode()) > 128:
        errors.append(("reviewer", "must be 1..=128 characters"))
    iteration = request.get("iteration")
    if iteration is None:
        errors.append(("iteration", "is required"))
        iteration = 0
    elif not (1 <= iteration <= U32_MAX):
        errors.append(("iteration", "must be a positive integer, got %d" % iteration))
        iteration = 0
    decision = request.get("decision")
    if decision is None:
        errors.append(("decision", "is required"))
    elif decision not in ("approve", "request_changes"):
        errors.append(("decision", 'must be "approve" or "request_changes", got %r' % decision))
        decision = None
    comments = request.get("comments") or ""
    corrections = request.get("corrections") or []
    if len(comments) > MAX_COMMENT_CHARS:
        errors.append(("comments", "must be at most %d characters" % MAX_COMMENT_CHARS))
    if decision == "request_changes" and not comments.strip() and not corrections:
        errors.append(("comments", "is required when requesting changes (say what to change, or give corrections)"))
    if len(corrections) > MAX_CORRECTIONS:
        errors.append(("corrections", "at most %d corrections" % MAX_CORRECTIONS))
    for i, correction in enumerate(corrections):
        message = check_correction(correction)
        if message:
            errors.append(("corrections[%d].field" % i, message))
        if len(correction["value"]) > MAX_CORRECTION_CHARS:
            errors.append(("corrections[%d].value" % i,
                           "must be at most %d characters" % MAX_CORRECTION_CHARS))
    if decision == "approve" and corrections:
        errors.append(("corrections", "corrections require request_changes; an approval accepts the draft as it is"))
    if errors or decision is None:
        raise Invalid(errors)
    body = dumps({"iteration": request.get("iteration"), "decision": request.get("decision"),
                  "comments": request.get("comments"), "corrections": corrections})
    h = hashlib.sha256()
    h.update(workflow_id.encode())
    h.update(b"\0")
    h.update(body.encode())
    return {
        "workflow_id": workflow_id,
        "fingerprint": h.hexdigest(),
        "submission": {
            "iteration": iteration, "decision": decision, "reviewer": reviewer["name"].strip(),
            "comments": comments, "corrections": corrections, "idempotency_key": key,
        },
    }


def feedback_fingerprint(comments, corrections):
    words = []
    for word in comments.split():
        start, end = 0, len(word)
        while start < end and not word[start].isalnum():
            start += 1
        while end > start and not word[end - 1].isalnum():
            end -= 1
        word = word[start:end].lower()
        if word:
            words.append(word)
    fields = sorted("%s=%s" % (c["field"].strip(), c["value"].strip()) for c in corrections)
    h = hashlib.sha256()
    h.update(" ".join(words).encode())
    h.update(b"\0")
    h.update("\n".join(fields).encode())
    return h.hexdigest()


def decide(wf, sub, now):
    if wf["status"] in TERMINAL:
        for d in wf.get("decisions", []):
            if d["iteration"] == sub["iteration"]:
                raise Rejection("already_decided", "iteration %d was already decided (%s) by %s" % (
                    d["iteration"], d["decision"], d["reviewer"]))
        esc = wf.get("escalation")
        if esc and esc["reason"] == "review_timeout" and esc["iteration"] == sub["iteration"]:
            raise Rejection("review_timed_out", "the review for iteration %d timed out at %s" % (
                sub["iteration"], display_ts(parse_ts(esc["escalated_at"]))))
        raise Rejection("workflow_finished", "workflow is already %s" % wf["status"])
    if sub["iteration"] < wf["iteration"]:
        raise Rejection("stale_iteration", "iteration %d is stale: the workflow is at iteration %d" % (
            sub["iteration"], wf["iteration"]))
    if sub["iteration"] > wf["iteration"]:
        raise Rejection("unknown_iteration", "iteration %d does not exist yet: the workflow is at iteration %d" % (
            sub["iteration"], wf["iteration"]))
    for d in wf.get("decisions", []):
        if d["iteration"] == sub["iteration"]:
            raise Rejection("already_decided", "iteration %d was already decided (%s) by %s" % (
                d["iteration"], d["decision"], d["reviewer"]))
    pending = wf.get("pending_review")
    if wf["status"] != "awaiting_review" or not pending or pending["iteration"] != wf["iteration"]:
        raise Rejection("not_awaiting_review", "workflow is %s, not waiting for a review" % wf["status"])
    deadline = parse_ts(pending["deadline"])
    if now > deadline:
        raise Rejection("review_timed_out", "the review for iteration %d timed out at %s" % (
            pending["iteration"], display_ts(deadline)))
    nxt = dict(wf)
    nxt["version"] = wf["version"] + 1
    nxt["updated_at"] = ts(now)
    nxt["status"] = "approved" if sub["decision"] == "approve" else "revising"
    if sub["decision"] == "approve":
        nxt["completed_at"] = ts(now)
    nxt.pop("pending_review", None)
    nxt["decisions"] = list(wf.get("decisions", [])) + [{
        "iteration": sub["iteration"],
        "decision": sub["decision"],
        "reviewer": sub["reviewer"],
        "feedback_key": sub["idempotency_key"],
        "fingerprint": feedback_fingerprint(sub["comments"], sub["corrections"]),
        "requested_at": pending["requested_at"],
        "decided_at": ts(now),
        "task_token": pending["task_token"],
    }]
    return nxt, pending["task_token"]


def new_entry(fb, reviewer, now, outcome):
    s = fb["submission"]
    return {
        "workflow_id": fb["workflow_id"],
        "idempotency_key": s["idempotency_key"],
        "request_fingerprint": fb["fingerprint"],
        "iteration": s["iteration"],
        "decision": s["decision"],
        "reviewer": s["reviewer"],
        "comments": s["comments"],
        "corrections": s["corrections"],
        "channel": reviewer["channel"],
        "received_at": ts(now),
        "outcome": outcome,
    }


def receipt(entry, replayed):
    return {
        "workflow_id": entry["workflow_id"], "iteration": entry["iteration"],
        "decision": entry["decision"], "idempotency_key": entry["idempotency_key"],
        "outcome": entry["outcome"], "replayed": replayed, "received_at": entry["received_at"],
    }


def task_result(entry):
    return {"workflow_id": entry["workflow_id"], "iteration": entry["iteration"],
            "decision": entry["decision"], "feedback_key": entry["idempotency_key"]}


def resume(token, output):
    """The execution side is not measured (the Rust side uses a no-op resumer too)."""
    dumps(output)


class Processor:
    def __init__(self, store, now):
        self.store = store
        self.now = now

    def submit(self, workflow_id, request, key, reviewer):
        fb = validate(workflow_id, request, key, reviewer)
        for _ in range(MAX_ATTEMPTS):
            wf, existing = self.store.load_feedback_context(fb["workflow_id"], key)
            if existing is not None:
                return self.replay(existing, wf, fb)
            if wf is None:
                raise NotFound(fb["workflow_id"])
            now = self.now
            groups = reviewer.get("groups")
            if groups is not None:
                group = wf["config"]["reviewer_group"]
                if not any(g == group or g == "admin" for g in groups):
                    entry = new_entry(fb, reviewer, now, {
                        "kind": "rejected", "reason": "not_authorized",
                        "message": "%s is not in reviewer group %s" % (reviewer["name"], group)})
                    try:
                        self.store.record_feedback(entry, None)
                    except Duplicate:
                        pass
                    raise Forbidden(reviewer["name"])
            try:
                nxt, token = decide(wf, fb["submission"], now)
            except Rejection as rejection:
                entry = new_entry(fb, reviewer, now, {
                    "kind": "rejected", "reason": rejection.name, "message": rejection.message})
                try:
                    self.store.record_feedback(entry, None)
                except Duplicate:
                    continue
                return receipt(entry, False)
            entry = new_entry(fb, reviewer, now, {"kind": "applied", "status": nxt["status"]})
            try:
                self.store.record_feedback(entry, (nxt, wf["version"]))
            except (Conflict, Duplicate):
                continue
            resume(token, task_result(entry))
            return receipt(entry, False)
        raise Conflict(fb["workflow_id"])

    def replay(self, existing, wf, fb):
        if existing["request_fingerprint"] != fb["fingerprint"]:
            raise KeyReused(existing["idempotency_key"])
        if existing["outcome"]["kind"] == "applied" and wf is not None:
            for d in wf.get("decisions", []):
                if (d["feedback_key"] == existing["idempotency_key"] and d["iteration"] == wf["iteration"]
                        and wf["status"] in ("approved", "revising")
                        and wf["artifact_iteration"] == d["iteration"]):
                    if d.get("task_token"):
                        resume(d["task_token"], task_result(existing))
                    break
        return receipt(existing, True)


# ---------------------------------------------------------------- stores

class SqliteStore:
    def __init__(self, path):
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA busy_timeout = 10000")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")

    def _workflow(self, workflow_id):
        row = self.conn.execute("SELECT body FROM workflows WHERE id = ?", (workflow_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def _entry(self, workflow_id, key):
        row = self.conn.execute(
            "SELECT body FROM feedback WHERE workflow_id = ? AND idempotency_key = ?",
            (workflow_id, key)).fetchone()
        return json.loads(row[0]) if row else None

    def load_feedback_context(self, workflow_id, key):
        return self._workflow(workflow_id), self._entry(workflow_id, key)

    def record_feedback(self, entry, update):
        if update is not None and update[0]["version"] != update[1] + 1:
            raise RuntimeError("version must be expected + 1")
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            if self._entry(entry["workflow_id"], entry["idempotency_key"]) is not None:
                raise Duplicate(entry["idempotency_key"])
            if update is not None:
                wf, expected = update
                changed = c.execute(
                    "UPDATE workflows SET status = ?, version = ?, updated_at = ?, body = ? "
                    "WHERE id = ? AND version = ?",
                    (wf["status"], wf["version"], ts_micros(parse_ts(wf["updated_at"])), dumps(wf),
                     wf["id"], expected)).rowcount
                if changed != 1:
                    raise Conflict(wf["id"])
            c.execute(
                "INSERT INTO feedback (workflow_id, idempotency_key, received_at, body) VALUES (?, ?, ?, ?)",
                (entry["workflow_id"], entry["idempotency_key"],
                 ts_micros(parse_ts(entry["received_at"])), dumps(entry)))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise


def s(v):
    return {"S": v}


def n(v):
    return {"N": str(v)}


class DynamoStore:
    def __init__(self, table):
        import boto3  # imported here so the SQLite pass does not pay for it
        self.client = boto3.client("dynamodb")
        self.table = table

    @staticmethod
    def _key(workflow_id, sk):
        return {"PK": s("WF#" + workflow_id), "SK": s(sk)}

    def workflow_item(self, wf):
        updated = ts_micros(parse_ts(wf["updated_at"]))
        item = self._key(wf["id"], "META")
        item["GSI1PK"] = s("STATUS#" + wf["status"])
        item["GSI1SK"] = s("%s#%s" % (updated, wf["id"]))
        item["status"] = s(wf["status"])
        item["iteration"] = n(wf["iteration"])
        item["version"] = n(wf["version"])
        item["subject_id"] = s(wf["subject"]["id"])
        item["updated_at"] = s(updated)
        if wf.get("completed_at"):
            expires = parse_ts(wf["completed_at"]) + timedelta(days=RETENTION_DAYS)
            item["expires_at"] = n(int(expires.timestamp()))
        item["record"] = s(dumps(wf))
        return item

    def feedback_item(self, entry):
        item = self._key(entry["workflow_id"], "FB#" + entry["idempotency_key"])
        item["received_at"] = s(ts_micros(parse_ts(entry["received_at"])))
        outcome = entry["outcome"]
        item["outcome"] = s("applied" if outcome["kind"] == "applied" else "rejected:" + outcome["reason"])
        item["record"] = s(dumps(entry))
        return item

    def load_feedback_context(self, workflow_id, key):
        request = {"Keys": [self._key(workflow_id, "META"), self._key(workflow_id, "FB#" + key)],
                   "ConsistentRead": True}
        found = []
        for attempt in range(5):
            out = self.client.batch_get_item(RequestItems={self.table: request},
                                             ReturnConsumedCapacity="TOTAL")
            found.extend(out.get("Responses", {}).get(self.table, []))
            rest = out.get("UnprocessedKeys", {}).get(self.table)
            if rest and rest.get("Keys"):
                request = rest
                time.sleep(0.02 * (1 << attempt))
            else:
                break
        wf = entry = None
        for item in found:
            if item["SK"]["S"] == "META":
                wf = json.loads(item["record"]["S"])
            else:
                entry = json.loads(item["record"]["S"])
        return wf, entry

    def record_feedback(self, entry, update):
        entry_item = self.feedback_item(entry)
        c = self.client
        if update is None:
            try:
                c.put_item(TableName=self.table, Item=entry_item,
                           ConditionExpression="attribute_not_exists(PK)")
            except c.exceptions.ConditionalCheckFailedException:
                raise Duplicate(entry["idempotency_key"])
            return
        wf, expected = update
        try:
            c.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table, "Item": self.workflow_item(wf),
                         "ConditionExpression": "version = :expected",
                         "ExpressionAttributeValues": {":expected": n(expected)}}},
                {"Put": {"TableName": self.table, "Item": entry_item,
                         "ConditionExpression": "attribute_not_exists(PK)"}},
            ])
        except c.exceptions.TransactionCanceledException as e:
            reasons = [r.get("Code") for r in e.response.get("CancellationReasons", [])]
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise Duplicate(entry["idempotency_key"])
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise Conflict(wf["id"])
            if any(r in ("TransactionConflict", "ThrottlingError") for r in reasons):
                raise Conflict(wf["id"])
            raise


# ---------------------------------------------------------------- the run

def event_kinds(wid):
    accept = {"iteration": 2, "decision": "request_changes", "comments": "Closer. Make the tagline shorter.",
              "corrections": [{"field": "colors.primary", "value": "#1B4D3E"}]}
    return [
        ("rita-%s-2-changes" % wid, accept),
        ("rita-%s-2-changes" % wid, dict(accept)),
        ("rita-%s-1-late" % wid, {"iteration": 1, "decision": "request_changes",
                                  "comments": "The tagline is too long.",
                                  "corrections": [{"field": "tagline", "value": "Gear for every trail"}]}),
        ("sam-%s-2-approve" % wid, {"iteration": 2, "decision": "approve",
                                    "comments": "Fine by me.", "corrections": []}),
    ]


def outcome_name(r):
    if r["replayed"]:
        return "replayed"
    return "applied" if r["outcome"]["kind"] == "applied" else r["outcome"]["reason"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=("sqlite", "dynamodb"), required=True)
    ap.add_argument("--target", required=True, help="SQLite file or DynamoDB table")
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--now", required=True)
    args = ap.parse_args()
    store = SqliteStore(args.target) if args.backend == "sqlite" else DynamoStore(args.target)
    processor = Processor(store, parse_ts(args.now).astimezone(timezone.utc))
    reviewer = {"name": "rita", "groups": ["reviewers"], "channel": "api"}
    events = [("%s-%05d" % (args.prefix, i), event_kinds("%s-%05d" % (args.prefix, i)))
              for i in range(args.count)]
    outcomes = {}
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    for wid, kinds in events:
        for key, request in kinds:
            r = processor.submit(wid, request, key, reviewer)
            name = outcome_name(r)
            outcomes[name] = outcomes.get(name, 0) + 1
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    sys_cpu = r1.ru_stime - r0.ru_stime
    print(dumps({"cpu_s": cpu, "sys_s": sys_cpu, "wall_s": wall, "events": args.count * 4, "outcomes": outcomes}))


if __name__ == "__main__":
    sys.exit(main())
