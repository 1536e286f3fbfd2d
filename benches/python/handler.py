"""Cold-start baseline: the `iteration-check` function written the usual Python way.

Same work as the Rust binary: the DynamoDB client is created at init (module import), and
each invocation reads the workflow (consistent GetItem), applies the iteration rule and writes
the next record with the version precondition (conditional PutItem, retried on a conflict).
Run by `python -m awslambdaric handler.fn` against the bench's fake Runtime API.
"""

import json
import os
from datetime import datetime, timezone

import boto3

TABLE = os.environ["HITL_TABLE_NAME"]
# Honours AWS_ENDPOINT_URL, like the Rust SDK.
DDB = boto3.client("dynamodb")
TERMINAL = ("approved", "escalated", "failed")


class TransitionError(Exception):
    pass


def _ts(dt):
    """chrono's RFC 3339 form (AutoSi fraction, Z)."""
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond == 0:
        return base + "Z"
    if dt.microsecond % 1000 == 0:
        return "%s.%03dZ" % (base, dt.microsecond // 1000)
    return "%s.%06dZ" % (base, dt.microsecond)


def _ts_micros(dt):
    return "%s.%06dZ" % (dt.strftime("%Y-%m-%dT%H:%M:%S"), dt.microsecond)


def check_iteration(wf, reviewed, now):
    if wf["status"] == "revising" and wf["iteration"] == reviewed + 1 and wf["artifact_iteration"] <= reviewed:
        return ("regenerate", wf["iteration"], None), None
    if wf["status"] in TERMINAL:
        raise TransitionError("workflow is %s; no further transition is allowed" % wf["status"])
    if wf["status"] != "revising":
        raise TransitionError("cannot check the iteration while the workflow is %s" % wf["status"])
    if wf["iteration"] != reviewed:
        raise TransitionError("check the iteration for iteration %d, but the workflow is at iteration %d" % (reviewed, wf["iteration"]))
    nxt = wf["iteration"] + 1
    if nxt > wf["config"]["max_iterations"]:
        return ("escalate", wf["iteration"], "iteration_limit"), None
    changes = [d for d in reversed(wf.get("decisions", [])) if d["decision"] == "request_changes"]
    if len(changes) >= 2 and changes[0]["fingerprint"] == changes[1]["fingerprint"] and changes[0]["iteration"] == changes[1]["iteration"] + 1:
        return ("escalate", wf["iteration"], "no_progress"), None
    new = dict(wf)
    new["version"] = wf["version"] + 1
    new["updated_at"] = _ts(now)
    new["iteration"] = nxt
    return ("regenerate", nxt, None), new


def workflow_item(wf, now):
    updated = _ts_micros(now)
    item = {
        "PK": {"S": "WF#" + wf["id"]},
        "SK": {"S": "META"},
        "GSI1PK": {"S": "STATUS#" + wf["status"]},
        "GSI1SK": {"S": "%s#%s" % (updated, wf["id"])},
        "status": {"S": wf["status"]},
        "iteration": {"N": str(wf["iteration"])},
        "version": {"N": str(wf["version"])},
        "subject_id": {"S": wf["subject"]["id"]},
        "updated_at": {"S": updated},
        "record": {"S": json.dumps(wf, separators=(",", ":"), ensure_ascii=False)},
    }
    return item


def fn(event, context):
    workflow_id = event["workflow_id"]
    reviewed = int(event["reviewed_iteration"])
    now = datetime.now(timezone.utc)
    for _ in range(8):
        out = DDB.get_item(
            TableName=TABLE,
            Key={"PK": {"S": "WF#" + workflow_id}, "SK": {"S": "META"}},
            ConsistentRead=True,
        )
        if "Item" not in out:
            raise KeyError("workflow %s not found" % workflow_id)
        current = json.loads(out["Item"]["record"]["S"])
        verdict, nxt = check_iteration(current, reviewed, now)
        if nxt is None:
            break
        try:
            DDB.put_item(
                TableName=TABLE,
                Item=workflow_item(nxt, now),
                ConditionExpression="version = :expected",
                ExpressionAttributeValues={":expected": {"N": str(current["version"])}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            break
        except DDB.exceptions.ConditionalCheckFailedException:
            continue
    else:
        raise RuntimeError("conflicting concurrent write on workflow %s" % workflow_id)
    action, iteration, reason = verdict
    print(json.dumps({"message": "iteration checked", "workflow_id": workflow_id, "action": action}))
    return {"workflow_id": workflow_id, "action": action, "next_iteration": iteration, "reason": reason}
