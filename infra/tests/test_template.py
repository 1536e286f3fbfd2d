"""Consistency of infra/template.yaml with the code it deploys.

Run with the cfn-lint venv (it provides the YAML loader and pytest):
    .tools/venv-cfnlint/bin/python -m pytest -q infra/tests

What is checked, all derived from the sources rather than from a hand-kept list:
  * DefinitionSubstitutions = FUNCTION_SUBSTITUTIONS (shared/domain/src/deployment.rs) = the
    `${...}` placeholders of statemachine/definition.asl.json, each bound to the function that
    builds the named binary;
  * every function crate under functions/ has exactly one AWS::Serverless::Function;
  * each function's environment variables are exactly the ones its code reads (names as in
    shared/aws/src/config.rs) plus AWS_LAMBDA_LOG_FORMAT=JSON;
  * least privilege: each function role's actions equal what its code calls - DynamoDB
    actions from the store methods it uses (shared/aws/src/dynamodb.rs), sns:Publish on the
    one topic it is wired to, states:SendTaskSuccess only with a resumer, Bedrock actions only
    under the condition of the generator that uses them (HITL_GENERATOR's choices in
    shared/aws/src/config.rs, the adapters `metadata_agent` builds per choice), and each
    generator's variables only under that generator's condition;
  * state machine role, schedule, table schema, saved queries, metric names.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path

import pytest
from cfnlint.decode.cfn_yaml import load as load_yaml

ROOT = Path(__file__).resolve().parents[2]
# HITL_TEMPLATE lets a mutation check point the suite at a modified copy.
TEMPLATE = Path(os.environ.get("HITL_TEMPLATE", ROOT / "infra" / "template.yaml"))
DOMAIN = ROOT / "shared" / "domain" / "src"
AWS = ROOT / "shared" / "aws" / "src"

# Actions every function role has besides what its code calls (the runtime itself).
PLATFORM_ACTIONS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}
KMS_ACTIONS = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"}
SDK_SERVICE_PREFIX = {
    "dynamodb": "dynamodb",
    "sfn": "states",
    "sns": "sns",
    "sqs": "sqs",
    "bedrockagentruntime": "bedrock",
    "bedrockagent": "bedrock",
    "bedrockruntime": "bedrock",
    "s3": "s3",
    "eventbridge": "events",
    "sesv2": "ses",
}
# SDK operations whose IAM action has another name.
SDK_OP_ACTION = {"s3:HeadObject": "s3:GetObject", "s3:ListObjectsV2": "s3:ListBucket", "bedrock:Converse": "bedrock:InvokeModel"}


# --------------------------------------------------------------------------------------
# Loading and small helpers
# --------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def template() -> dict:
    return load_yaml(str(TEMPLATE))


def resources(kind: str | None = None) -> dict:
    res = template()["Resources"]
    return {k: v for k, v in res.items() if kind is None or v["Type"] == kind}


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def strip_tests(rust: str) -> str:
    """Drops `#[cfg(test)]` modules (everything from the first one on)."""
    i = rust.find("#[cfg(test)]")
    return rust if i < 0 else rust[:i]


def as_list(v) -> list:
    return list(v) if isinstance(v, list) else [v]


def getatt(v) -> tuple[str, str] | None:
    if isinstance(v, dict) and "Fn::GetAtt" in v:
        g = v["Fn::GetAtt"]
        if isinstance(g, str):
            res, attr = g.split(".", 1)
            return res, attr
        return g[0], g[1]
    return None


def ref(v) -> str | None:
    return v["Ref"] if isinstance(v, dict) and "Ref" in v else None


def sub(v) -> str | None:
    if isinstance(v, dict) and "Fn::Sub" in v:
        s = v["Fn::Sub"]
        return s if isinstance(s, str) else s[0]
    return None


def camel(snake: str) -> str:
    return "".join(p.capitalize() for p in snake.split("_"))


def block(text: str, start: int) -> str:
    """The brace-balanced block whose `{` is the first one at or after `start`."""
    i = text.index("{", start)
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i : j + 1]
    raise ValueError("unbalanced braces")


def impl_start(text: str, type_name: str) -> int:
    """Where the inherent impl block of `type_name` starts (generic or not)."""
    m = re.search(rf"^impl(?:<[^>]*>)?\s+{type_name}\b", text, re.M)
    assert m, f"no `impl {type_name}` block"
    return m.start()


def fn_bodies(text: str) -> dict[str, str]:
    """`fn name` -> body for every function in `text` (later definitions win)."""
    out = {}
    for m in re.finditer(r"\bfn\s+(\w+)\s*[<(]", text):
        try:
            out[m.group(1)] = block(text, m.end())
        except ValueError:
            continue
    return out


# --------------------------------------------------------------------------------------
# What the Rust code says
# --------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def function_substitutions() -> dict[str, str]:
    text = read(DOMAIN / "deployment.rs")
    m = re.search(r"FUNCTION_SUBSTITUTIONS[^=]*=\s*\[(.*?)\];", text, re.S)
    assert m, "FUNCTION_SUBSTITUTIONS not found in shared/domain/src/deployment.rs"
    return dict(re.findall(r'\(\s*"(\w+)"\s*,\s*"([\w-]+)"\s*\)', m.group(1)))


@lru_cache(maxsize=None)
def config_env_vars() -> dict[str, str]:
    """Constant name -> environment variable name, from shared/aws/src/config.rs."""
    return dict(re.findall(r'pub const (\w+): &str = "([A-Z0-9_]+)";', read(AWS / "config.rs")))


def dynamo_sdk_ops_to_actions(body: str) -> set[str]:
    actions = set()
    for op in re.findall(r"\.\s*(\w+)\(\)", body):
        if op in {"put_item", "get_item", "query", "scan", "batch_get_item", "batch_write_item",
                  "update_item", "delete_item", "transact_get_items"}:
            actions.add("dynamodb:" + camel(op).replace("TransactGetItems", "GetItem"))
        elif op == "transact_write_items":
            # No IAM action of its own: each item is authorised as its own operation.
            for kind, action in (("Put", "PutItem"), ("Update", "UpdateItem"),
                                 ("Delete", "DeleteItem"), ("ConditionCheck", "ConditionCheckItem")):
                if re.search(rf"\b{kind}::builder\(", body):
                    actions.add("dynamodb:" + action)
    return actions


@lru_cache(maxsize=None)
def store_method_actions() -> dict[str, tuple[frozenset, bool]]:
    """WorkflowStore method -> (DynamoDB actions, indexes it queries), from dynamodb.rs."""
    text = strip_tests(read(AWS / "dynamodb.rs"))
    bodies = fn_bodies(text)
    impl = block(text, text.index("impl WorkflowStore for DynamoStore"))
    trait_methods = set(re.findall(r"async fn (\w+)", impl))

    consts = dict(re.findall(r'pub const (\w+): &str = "(\w+)";', text))

    def resolve(name: str, seen: frozenset) -> tuple[set, set]:
        body = bodies[name]
        actions = dynamo_sdk_ops_to_actions(body)
        index = {consts[c] for c in re.findall(r"index_name\((\w+)\)", body)}
        for callee in re.findall(r"self\s*\.\s*(\w+)\(", body):
            if callee in bodies and callee not in seen:
                a, i = resolve(callee, seen | {callee})
                actions |= a
                index |= i
        return actions, index

    out = {}
    for m in trait_methods:
        a, i = resolve(m, frozenset({m}))
        out[m] = (frozenset(a), frozenset(i))
    return out


def store_calls(text: str) -> set[str]:
    methods = set(store_method_actions())
    return {m for m in re.findall(r"\.\s*(\w+)\(", text) if m in methods}


@lru_cache(maxsize=None)
def mutate_calls() -> set[str]:
    text = strip_tests(read(DOMAIN / "optimistic.rs"))
    return store_calls(fn_bodies(text)["mutate"])


@lru_cache(maxsize=None)
def processor_calls() -> tuple[frozenset, bool]:
    """Store methods the FeedbackProcessor calls (shared/domain/src/feedback/processor.rs),
    and whether it resumes executions."""
    text = strip_tests(read(DOMAIN / "feedback" / "processor.rs"))
    impl = block(text, impl_start(text, "FeedbackProcessor"))
    calls = store_calls(impl)
    if re.search(r"\bmutate\(", impl):
        calls |= mutate_calls()
    return frozenset(calls), "self.resumer.deliver(" in impl


@lru_cache(maxsize=None)
def relay_calls() -> frozenset:
    """Store methods of the outbox relay (the FeedbackProcessor impl block of
    shared/domain/src/feedback/outbox.rs, which also runs the processor's delivery helpers)."""
    text = strip_tests(read(DOMAIN / "feedback" / "outbox.rs"))
    relay = block(text, impl_start(text, "FeedbackProcessor"))
    return frozenset(store_calls(relay)) | processor_calls()[0]


@lru_cache(maxsize=None)
def sweeper_calls() -> frozenset:
    """Store methods of the review-reminder sweep (shared/domain/src/reminders.rs)."""
    text = strip_tests(read(DOMAIN / "reminders.rs"))
    return frozenset(store_calls(block(text, impl_start(text, "ReminderSweeper"))))


@lru_cache(maxsize=None)
def adapters() -> dict[str, dict]:
    """Constructor in shared/aws/src/lib.rs -> {actions, env (config constant names), topic_param}."""
    text = strip_tests(read(AWS / "lib.rs"))
    # Adapter struct -> client service.
    client_of = {
        m.group(1): m.group(2)
        for m in re.finditer(r"pub struct (\w+)\s*\{[^}]*?client:\s*aws_sdk_(\w+)::Client", text, re.S)
    }
    # The store adapter lives in store/dynamodb.rs (`use aws_sdk_dynamodb::Client`).
    store_text = strip_tests(read(AWS / "dynamodb.rs"))
    assert "use aws_sdk_dynamodb::Client;" in store_text and "pub struct DynamoStore" in store_text
    client_of["DynamoStore"] = "dynamodb"
    ops: dict[str, set] = {}
    # Adapters in their own modules with one client per service (`self.<field>.<op>()`).
    for module in sorted(AWS.glob("*.rs")):
        if module.name in ("lib.rs", "dynamodb.rs"):
            continue
        mtext = strip_tests(read(module))
        for m in re.finditer(r"pub struct (\w+)\s*\{([^}]*)\}", mtext, re.S):
            fields = dict(re.findall(r"(\w+):\s*aws_sdk_(\w+)::Client", m.group(2)))
            if not fields:
                continue
            client_of[m.group(1)] = "multi"
            # Every impl block of the struct (inherent and trait impls).
            impls = "".join(
                block(mtext, i.end())
                for i in re.finditer(rf"impl(?:<[^>]*>)?\s+(?:\w+\s+for\s+)?{m.group(1)}\b", mtext)
            )
            ops[m.group(1)] = {
                (fields[f], op)
                for f, op in re.findall(r"self\s*\.\s*(\w+)\s*\.\s*(\w+)\(\)", impls)
                if f in fields
            }
    # Adapter -> SDK operations called in its trait impls.
    for m in re.finditer(r"impl \w+ for (\w+)", text):
        adapter = m.group(1)
        body = block(text, m.end())
        for op in re.findall(r"self\s*\.client\s*\.\s*(\w+)\(\)", body):
            ops.setdefault(adapter, set()).add(op)
    # Adapter -> IAM actions of the SDK operations it calls.
    actions_of: dict[str, set] = {}
    for a, service in client_of.items():
        actions_of[a] = set()
        for op in ops.get(a, ()):
            if service == "dynamodb":
                continue  # the store's actions come from the methods the function uses
            svc, op_name = op if service == "multi" else (service, op)
            action = f"{SDK_SERVICE_PREFIX[svc]}:{camel(op_name)}"
            actions_of[a].add(SDK_OP_ACTION.get(action, action))
    bodies = fn_bodies(text)
    out = {}
    for name, body in bodies.items():
        if not re.search(rf"pub (async )?fn {name}\b", text):
            continue
        built = built_adapters(body, client_of)
        if not built:
            continue
        actions = set().union(*(actions_of[a] for a in built))
        env = set(re.findall(r"config::([A-Z][A-Z0-9_]+)\b", body))
        # Variables read through config.rs functions (`config::generator()`, `config::agent()`).
        for call in re.findall(r"config::([a-z]\w*)\(", body):
            env |= config_consts_read(call)
        sig = text[text.index(f"fn {name}") : text.index(f"fn {name}") + 200]
        out[name] = {
            "actions": actions,
            "env": env,
            "topic_param": "topic_var" in sig,
            "store": "DynamoStore" in built,
            "bedrock": any(a.startswith("bedrock:") for a in actions),
            "built": built,
            "actions_of": actions_of,
        }
    return out


def built_adapters(body: str, client_of: dict) -> set[str]:
    return {a for a in re.findall(r"\b(\w+)::new\(", body) if a in client_of}


def without_strings(rust: str) -> str:
    """Rust code with the contents of its string literals removed (messages name variables)."""
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', rust)


def config_consts_read(fn: str, seen: frozenset = frozenset()) -> set[str]:
    """Constants of shared/aws/src/config.rs that its function `fn` (or one it calls) reads."""
    text = strip_tests(read(AWS / "config.rs"))
    bodies = fn_bodies(text)
    consts = config_env_vars()
    body = without_strings(bodies[fn])
    out = {c for c in re.findall(r"\b([A-Z][A-Z0-9_]+)\b", body) if c in consts}
    for callee in re.findall(r"\b(\w+)\(", body):
        if callee in bodies and callee != fn and callee not in seen:
            out |= config_consts_read(callee, seen | {fn})
    return out


@lru_cache(maxsize=None)
def generator_choices() -> dict[str, tuple[str, frozenset]]:
    """HITL_GENERATOR value -> (its `config::Generator` variant, the variables it reads), from
    the `Some("value") =>` arms of `generator_from` in shared/aws/src/config.rs."""
    bodies = fn_bodies(strip_tests(read(AWS / "config.rs")))
    body = bodies["generator_from"]
    arms = list(re.finditer(r'Some\("([a-z][a-z-]*)"\)\s*=>', body))
    assert arms, "no `Some(\"value\") =>` arm in config::generator_from"
    consts = config_env_vars()
    out = {}
    for i, m in enumerate(arms):
        end = arms[i + 1].start() if i + 1 < len(arms) else len(body)
        arm = without_strings(body[m.end() : end])
        variant = re.search(r"Generator::(\w+)", arm)
        assert variant, f"arm {m.group(1)} builds no Generator"
        names = {c for c in re.findall(r"\b([A-Z][A-Z0-9_]+)\b", arm) if c in consts}
        for callee in re.findall(r"\b(\w+)\(", arm):
            if callee in bodies and callee != "generator_from":
                names |= config_consts_read(callee)
        out[m.group(1)] = (variant.group(1), frozenset(consts[c] for c in names))
    return out


@lru_cache(maxsize=None)
def generator_of_action() -> dict[str, str]:
    """IAM action -> the HITL_GENERATOR value whose adapter needs it: the adapters
    `metadata_agent` (shared/aws/src/lib.rs) builds in its `Generator::X =>` arms."""
    info = adapters()["metadata_agent"]
    body = fn_bodies(strip_tests(read(AWS / "lib.rs")))["metadata_agent"]
    value_of = {variant: value for value, (variant, _) in generator_choices().items()}
    arms = list(re.finditer(r"Generator::(\w+)\b[^;]*?=>", body))
    out = {}
    for i, m in enumerate(arms):
        end = arms[i + 1].start() if i + 1 < len(arms) else len(body)
        for a in built_adapters(body[m.end() : end], {k: 1 for k in info["actions_of"]}):
            for action in info["actions_of"][a]:
                assert action not in out, f"{action} needed by two generators"
                out[action] = value_of[m.group(1)]
    return out


def implies_generator(expr, value: str) -> bool:
    """Whether a template condition (by name or expression) holds only when Generator=value."""
    if isinstance(expr, str):
        return implies_generator(template()["Conditions"][expr], value)
    if isinstance(expr, dict) and "Condition" in expr:
        return implies_generator(expr["Condition"], value)
    if isinstance(expr, dict) and "Fn::Equals" in expr:
        a, b = expr["Fn::Equals"]
        return (ref(a), b) == ("Generator", value) or (ref(b), a) == ("Generator", value)
    if isinstance(expr, dict) and "Fn::And" in expr:
        return any(implies_generator(e, value) for e in expr["Fn::And"])
    return False


def function_crates() -> dict[str, Path]:
    out = {}
    for cargo in sorted((ROOT / "functions").glob("*/Cargo.toml")):
        text = read(cargo)
        for name in re.findall(r'\[\[bin\]\]\s*name\s*=\s*"([\w-]+)"', text):
            out[name] = cargo.parent
    return out


def crate_sources(crate_dir: Path) -> str:
    """Non-test sources of the crate and of the workspace crates it uses besides those in shared/."""
    texts = [strip_tests(read(p)) for p in sorted((crate_dir / "src").rglob("*.rs"))]
    cargo = read(crate_dir / "Cargo.toml")
    workspace = read(ROOT / "Cargo.toml")
    for dep in re.findall(r"^([\w-]+)\s*=\s*\{\s*workspace\s*=\s*true", cargo, re.M):
        m = re.search(rf'^{re.escape(dep)}\s*=\s*\{{\s*path\s*=\s*"([^"]+)"', workspace, re.M)
        if m and not m.group(1).startswith("shared/"):
            texts += [strip_tests(read(p)) for p in sorted((ROOT / m.group(1) / "src").rglob("*.rs"))]
    return "\n".join(texts)


@lru_cache(maxsize=None)
def lambda_wiring() -> dict[str, str]:
    """shared/aws/src/lambda.rs's `wire` module: port function name -> its code (`base` is what
    every function wires)."""
    text = strip_tests(read(AWS / "lambda.rs"))
    module = block(text, text.index("pub mod wire"))
    bodies = fn_bodies(module)
    assert "base" in bodies, "no `fn base` in hitl_aws::lambda::wire"
    return bodies


def wired_sources(crate_dir: Path, binary: str) -> str:
    """The wiring code a function's `main.rs` calls, to read like the crate's own: `base` plus
    every port named in `lambda_main!(…, ports: [a, b])` or called as `wire::a(…)`."""
    main = read(crate_dir / "src" / "main.rs")
    bodies = lambda_wiring()
    m = re.search(r"lambda_main!\([^,]+,\s*ports:\s*\[([^\]]*)\]", main)
    names = re.findall(r"\w+", m.group(1)) if m else re.findall(r"\bwire::(\w+)\(", main)
    assert m or "wire::base(" in main, f"{binary}: main.rs wires no ports through hitl_aws::lambda"
    unknown = [n for n in names if n not in bodies]
    assert not unknown, f"{binary}: main.rs names {unknown}, which hitl_aws::lambda::wire lacks"
    return bodies["base"] + "".join(bodies[n] for n in names if n != "base")


@lru_cache(maxsize=None)
def required_by_function() -> dict[str, dict]:
    """Binary -> what its code needs: dynamodb actions, index use, other actions, env vars,
    topics (env var names), resumes (bool), bedrock (bool)."""
    consts = config_env_vars()
    out = {}
    for binary, crate_dir in function_crates().items():
        src = crate_sources(crate_dir)
        # The use cases of the application layer (shared/app) the crate calls.
        processor = bool(re.search(r"FeedbackProcessor|\.decisions\(\)|housekeeping::", src))
        relay = bool(re.search(r"\.reconcile\(|housekeeping::(pass|deliver_pending)", src))
        sweeper = bool(re.search(r"ReminderSweeper|\.reminders\(\)|housekeeping::(pass|send_due_reminders)", src))
        src += wired_sources(crate_dir, binary)
        methods = store_calls(src)
        if re.search(r"\bmutate\(", src):
            methods |= mutate_calls()
        actions, env, topics = set(), set(), set()
        if processor:
            p_methods, resumes = processor_calls()
            methods |= p_methods
            if relay:
                methods |= relay_calls()
        if sweeper:
            methods |= sweeper_calls()
        dynamo, index = set(), set()
        for m in methods:
            a, i = store_method_actions()[m]
            dynamo |= a
            index |= i
        bedrock = False
        for ctor, info in adapters().items():
            for call in re.finditer(rf"\b{ctor}\(([^;]*?)\)\s*\??", src, re.S):
                actions |= info["actions"]
                env |= {consts[c] for c in info["env"]}
                bedrock |= info["bedrock"]
                if info["topic_param"]:
                    topic = re.search(r"config::([A-Z_]+)", call.group(1))
                    assert topic, f"{binary}: {ctor} called without a config constant"
                    env.add(consts[topic.group(1)])
                    topics.add(consts[topic.group(1)])
        # Variables the crate reads itself through the shared config (`config::required(..)`).
        for const in re.findall(r"config::required\(\s*(?:hitl_aws::)?config::([A-Z][A-Z0-9_]+)\)", src):
            env.add(consts[const])
        # Variables the crate (or a workspace crate it uses) reads itself, by constant.
        optional = set()
        for const in re.findall(r"config::optional\(\s*(?:hitl_aws::)?config::([A-Z][A-Z0-9_]+)\)", src):
            optional.add(consts[const])
        for const in re.findall(r"std::env::var\((\w+)\)", src):
            m = re.search(rf'const {const}: &str = "([A-Z0-9_]+)"', src)
            if m:
                optional.add(m.group(1))
        out[binary] = {
            "optional_env": optional - env,
            "dynamodb": dynamo,
            "index": index,
            "actions": actions,
            "env": env,
            "topics": topics,
            "bedrock": bedrock,
        }
    return out


# --------------------------------------------------------------------------------------
# What the template says
# --------------------------------------------------------------------------------------
def function_resources() -> dict[str, tuple[str, dict]]:
    """Binary -> (logical id, resource)."""
    out = {}
    for lid, res in resources("AWS::Serverless::Function").items():
        binary = res.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        assert binary, f"{lid} has no Metadata.BuildProperties.Binary"
        assert binary not in out, f"two functions build {binary}"
        out[binary] = (lid, res)
    return out


def role_statements(role_id: str) -> list[tuple[dict, str | None]]:
    """(statement, condition name or None) of every inline policy of a role."""
    role = resources()[role_id]
    assert role["Type"] == "AWS::IAM::Role", role_id
    out = []
    for policy in role["Properties"].get("Policies", []):
        for st in policy["PolicyDocument"]["Statement"]:
            if isinstance(st, dict) and "Fn::If" in st:
                cond, yes, no = st["Fn::If"]
                assert ref(no) == "AWS::NoValue", f"{role_id}: conditional statement with an else"
                out.append((yes, cond))
            else:
                out.append((st, None))
    assert not role["Properties"].get("ManagedPolicyArns"), f"{role_id} has managed policies"
    return out


def role_of(res: dict) -> str:
    g = getatt(res["Properties"]["Role"])
    assert g and g[1] == "Arn", "Role must be !GetAtt <Role>.Arn"
    return g[0]


SQS_CONSUMER_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}


def sqs_event_queues(res: dict) -> set[str]:
    return {getatt(e["Properties"]["Queue"])[0]
            for e in res["Properties"].get("Events", {}).values() if e["Type"] == "SQS"}


SM_ARN_SUB = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:"
EXEC_ARN_SUB = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:"


def state_machine() -> tuple[str, dict]:
    sms = resources("AWS::Serverless::StateMachine")
    assert len(sms) == 1
    return next(iter(sms.items()))


# --------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------
def test_substitutions_match_deployment_rs_and_definition():
    _, sm = state_machine()
    subs = sm["Properties"]["DefinitionSubstitutions"]
    expected = function_substitutions()
    assert set(subs) == set(expected)
    placeholders = set(re.findall(r"\$\{(\w+)\}", read(ROOT / "statemachine" / "definition.asl.json")))
    assert placeholders == set(expected), "definition placeholders differ from FUNCTION_SUBSTITUTIONS"
    funcs = function_resources()
    for key, binary in expected.items():
        assert binary in funcs, f"no function builds {binary} (needed for {key})"
        assert getatt(subs[key]) == (funcs[binary][0], "Arn"), f"{key} must be !GetAtt {funcs[binary][0]}.Arn"


def test_every_function_crate_has_a_function_resource():
    crates = function_crates()
    funcs = function_resources()
    assert set(crates) == set(funcs), (
        f"crates without a function: {sorted(set(crates) - set(funcs))}; "
        f"functions without a crate: {sorted(set(funcs) - set(crates))}"
    )
    glob = template()["Globals"]["Function"]
    for binary, (lid, res) in funcs.items():
        p = {**glob, **res["Properties"]}
        assert p["Runtime"] == "provided.al2023", lid
        assert list(p["Architectures"]) == ["arm64"], lid
        assert p["Handler"] == "bootstrap", lid
        assert p["Tracing"] == "Active", lid
        assert res["Metadata"]["BuildMethod"] == "rust-cargolambda", lid
        assert p["CodeUri"] == f"../functions/{crates[binary].name}", lid
        assert sub(p["FunctionName"]) == f"hitl-${{Environment}}-{binary}", lid


def test_each_function_has_its_own_log_group_with_retention():
    for binary, (lid, res) in function_resources().items():
        lg_id = ref(res["Properties"]["LoggingConfig"]["LogGroup"])
        lg = resources()[lg_id]
        assert lg["Type"] == "AWS::Logs::LogGroup"
        assert sub(lg["Properties"]["LogGroupName"]) == f"/aws/lambda/hitl-${{Environment}}-{binary}"
        assert ref(lg["Properties"]["RetentionInDays"]) == "LogRetentionDays"
        assert getatt(lg["Properties"]["KmsKeyId"]) == ("EncryptionKey", "Arn")
        logs = [s for s, _ in role_statements(role_of(res)) if "logs:PutLogEvents" in as_list(s["Action"])]
        assert len(logs) == 1 and getatt(logs[0]["Resource"]) == (lg_id, "Arn"), f"{lid}: logs only to its group"


def test_environment_variables_are_exactly_what_the_code_reads():
    known = set(config_env_vars().values())
    for binary, (lid, res) in function_resources().items():
        env = res["Properties"]["Environment"]["Variables"]
        assert env.get("AWS_LAMBDA_LOG_FORMAT") == "JSON", lid
        names = set(env) - {"AWS_LAMBDA_LOG_FORMAT"}
        optional = required_by_function()[binary]["optional_env"]
        assert names <= known | optional, (
            f"{lid}: {sorted(names - known - optional)} not defined in shared/aws/src/config.rs nor read by the crate")
        need = required_by_function()[binary]["env"]
        assert need <= names <= need | optional, (
            f"{lid}: template sets {sorted(names)}, code reads {sorted(need)} (optional {sorted(optional)})")
        for name in names:
            v = env[name]
            if name in (config_env_vars()["AGENT_ID"], config_env_vars()["AGENT_ALIAS_ID"]):
                assert "Fn::If" in v and v["Fn::If"][0] == "HasAgent", f"{lid}: {name} only with an agent"
            # A variable a generator choice reads is set only under that choice's condition.
            for value, (_, read_by_choice) in generator_choices().items():
                if name in read_by_choice:
                    assert "Fn::If" in v and implies_generator(v["Fn::If"][0], value), (
                        f"{lid}: {name} only with Generator={value}")
                    assert ref(v["Fn::If"][2]) == "AWS::NoValue", lid
        if config_env_vars()["GENERATOR"] in names:
            assert ref(env[config_env_vars()["GENERATOR"]]) == "Generator", lid
        if config_env_vars()["TABLE_NAME"] in names:
            assert ref(env[config_env_vars()["TABLE_NAME"]]) == "WorkflowTable", lid


def test_function_roles_are_least_privilege():
    consts = config_env_vars()
    table_arn = ("WorkflowTable", "Arn")
    sm_name = sub(state_machine()[1]["Properties"]["Name"])
    for binary, (lid, res) in function_resources().items():
        need = required_by_function()[binary]
        env = res["Properties"]["Environment"]["Variables"]
        granted_dynamo, granted_other, services_for_kms = set(), set(), set()
        index_granted, consumes, dead_letters, publishes_to_s3 = set(), False, False, False
        reads_types = False
        for st, cond in role_statements(role_of(res)):
            assert st["Effect"] == "Allow"
            actions = set(as_list(st["Action"]))
            assert not any(a.endswith(":*") or a == "*" for a in actions), f"{lid}: wildcard action"
            res_list = as_list(st["Resource"])
            if actions <= PLATFORM_ACTIONS:
                continue
            if actions <= KMS_ACTIONS:
                assert res_list == [st["Resource"]] and getatt(st["Resource"]) == ("EncryptionKey", "Arn")
                via = as_list(st["Condition"]["StringEquals"]["kms:ViaService"])
                services_for_kms |= {sub(v).split(".")[0] for v in via}
                continue
            if all(a.startswith("dynamodb:") for a in actions):
                for r in res_list:
                    if getatt(r) != table_arn:
                        m = re.fullmatch(r"\$\{WorkflowTable\.Arn\}/index/(\w+)", sub(r))
                        assert m, f"{lid}: bad DynamoDB resource {sub(r)}"
                        assert m.group(1) in need["index"], f"{lid}: index {m.group(1)} granted but unused"
                        assert actions == {"dynamodb:Query"}, f"{lid}: only Query on the index"
                        index_granted.add(m.group(1))
                granted_dynamo |= actions
                assert cond is None
                continue
            if actions == {"sqs:SendMessage"}:
                # Only to the function's own dead-letter queue (asynchronous invocations).
                dlq = res["Properties"].get("DeadLetterQueue", {})
                assert dlq.get("Type") == "SQS", f"{lid}: sqs:SendMessage without a dead-letter queue"
                assert [getatt(r) for r in res_list] == [getatt(dlq["TargetArn"])], f"{lid}: DLQ scope"
                dead_letters = True
                continue
            if all(a.startswith("sqs:") for a in actions):
                queues = sqs_event_queues(res)
                assert queues, f"{lid}: SQS access without an SQS event source"
                assert actions == SQS_CONSUMER_ACTIONS, f"{lid}: SQS consumer needs exactly {SQS_CONSUMER_ACTIONS}"
                assert {getatt(r) for r in res_list} == {(q, "Arn") for q in queues}
                consumes = True
                continue
            for a in actions:
                granted_other.add(a)
                if a == "sns:Publish":
                    topics = {ref(r) for r in res_list}
                    wired = {ref(env[t]) for t in need["topics"]}
                    assert topics == wired, f"{lid}: publishes to {topics}, code uses {wired}"
                elif a.startswith("s3:") and cond == "HasTypesS3":
                    # The artifact types read at cold start: only their prefix, only when set.
                    bucket = "arn:${AWS::Partition}:s3:::${TypesS3Bucket}"
                    if a == "s3:ListBucket":
                        assert [sub(r) for r in res_list] == [bucket], f"{lid}: {a} scope"
                        assert sub(st["Condition"]["StringLike"]["s3:prefix"]) == "${TypesS3Prefix}*", lid
                    else:
                        assert a == "s3:GetObject", f"{lid}: {a} on the types bucket"
                        assert [sub(r) for r in res_list] == [bucket + "/${TypesS3Prefix}*"], f"{lid}: {a} scope"
                    reads_types = True
                elif a.startswith("s3:"):
                    # Only the envelopes of this environment, in the outcomes bucket.
                    assert [sub(r) for r in res_list] == ["${OutcomesBucket.Arn}/metadata/${Environment}/*"], f"{lid}: {a} scope"
                    publishes_to_s3 = True
                elif a == "ses:SendEmail":
                    # Only from the stack's sender identity, only when email is configured.
                    assert cond == "HasEmail", f"{lid}: {a} must be conditional on HasEmail"
                    assert [sub(r) for r in res_list] == [
                        "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${EmailSender}"
                    ], f"{lid}: {a} scope"
                    for var, param in (("EMAIL_FROM", "EmailSender"), ("EMAIL_TO", "EmailRecipients")):
                        v = env[consts[var]]
                        assert "Fn::If" in v and v["Fn::If"][0] == "HasEmail" and ref(v["Fn::If"][1]) == param, lid
                        assert ref(v["Fn::If"][2]) == "AWS::NoValue", lid
                elif a == "events:PutEvents":
                    assert [sub(r) for r in res_list] == [
                        "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"
                    ], f"{lid}: {a} scope"
                elif a == "states:GetExecutionHistory":
                    # Executions of this state machine only (never every execution).
                    assert [sub(r) for r in res_list] == [EXEC_ARN_SUB + sm_name + ":*"], f"{lid}: {a} scope"
                elif a.startswith("states:"):
                    assert [sub(r) for r in res_list] == [SM_ARN_SUB + sm_name], f"{lid}: {a} scope"
                elif a in generator_of_action():
                    value = generator_of_action()[a]
                    assert cond and implies_generator(cond, value), (
                        f"{lid}: {a} must be conditional on Generator={value}")
                    if a == "bedrock:InvokeModel":
                        # Only the model the generate function is told to ask.
                        model_var = config_env_vars()["BEDROCK_MODEL_ID"]
                        param = ref(env[model_var]["Fn::If"][1])
                        assert [sub(r) for r in res_list] == [
                            f"arn:${{AWS::Partition}}:bedrock:${{AWS::Region}}::foundation-model/${{{param}}}"
                        ], f"{lid}: {a} scope"
                    else:
                        assert all("agent-alias/${AgentId}/${AgentAliasId}" in sub(r) for r in res_list)
                elif a.startswith("bedrock:"):
                    assert cond == "HasAgent", f"{lid}: {a} must be conditional on HasAgent"
                    assert all("agent-alias/${AgentId}/${AgentAliasId}" in sub(r) for r in res_list)
                else:
                    pytest.fail(f"{lid}: unexpected action {a}")
        assert granted_dynamo == need["dynamodb"], (
            f"{lid}: DynamoDB granted {sorted(granted_dynamo)}, code needs {sorted(need['dynamodb'])}"
        )
        assert granted_other == need["actions"], (
            f"{lid}: granted {sorted(granted_other)}, code needs {sorted(need['actions'])}"
        )
        assert index_granted == need["index"], f"{lid}: index access granted={index_granted}, used={need['index']}"
        assert consumes == bool(sqs_event_queues(res)), f"{lid}: SQS event source without consumer permissions"
        expected_kms = ({"dynamodb"} if need["dynamodb"] else set()) | ({"sns"} if need["topics"] else set()) \
            | ({"sqs"} if consumes or dead_letters else set()) | ({"s3"} if publishes_to_s3 else set())
        assert services_for_kms == expected_kms, f"{lid}: KMS via {services_for_kms}"
        for topic_env in need["topics"]:
            assert topic_env in (consts["REVIEW_TOPIC_ARN"], consts["ESCALATION_TOPIC_ARN"])
        # A function that reads the types prefix is told where it is, under the same condition.
        types_var = consts["TYPES_S3_URI"]
        assert reads_types == (types_var in need["env"]), f"{lid}: reads types={reads_types}, code={types_var in need['env']}"
        if reads_types:
            v = env[types_var]
            assert "Fn::If" in v and v["Fn::If"][0] == "HasTypesS3" and ref(v["Fn::If"][2]) == "AWS::NoValue", lid
            assert sub(v["Fn::If"][1]) == "s3://${TypesS3Bucket}/${TypesS3Prefix}", lid


def test_resumers_are_exactly_request_review_and_process_feedback():
    resuming = {b for b, n in required_by_function().items() if "states:SendTaskSuccess" in n["actions"]}
    assert {"request-review", "process-feedback"} <= resuming
    for binary, (lid, res) in function_resources().items():
        granted = {a for st, _ in role_statements(role_of(res)) for a in as_list(st["Action"])}
        assert ("states:SendTaskSuccess" in granted) == (binary in resuming), lid


def test_state_machine_role_and_settings():
    lid, sm = state_machine()
    p = sm["Properties"]
    assert p["Type"] == "STANDARD"
    assert p["DefinitionUri"] == "../statemachine/definition.asl.json"
    assert sub(p["Name"]) == "hitl-review-${Environment}"
    assert p["Tracing"]["Enabled"] is True
    assert p["Logging"]["IncludeExecutionData"] == {"Fn::If": ["LogExecutionData", True, False]}
    assert template()["Parameters"]["IncludeExecutionData"]["Default"] == "false"
    funcs = function_resources()
    invoke_targets, start_targets, other = set(), [], set()
    for st, cond in role_statements(role_of(sm)):
        actions = set(as_list(st["Action"]))
        if actions == {"lambda:InvokeFunction"}:
            invoke_targets |= {getatt(r)[0] for r in as_list(st["Resource"])}
        elif actions == {"states:StartExecution"}:
            start_targets += [sub(r) for r in as_list(st["Resource"])]
        else:
            assert all(a.startswith(("logs:", "xray:")) for a in actions), actions
            other |= actions
    expected = {funcs[b][0] for b in function_substitutions().values()}
    assert invoke_targets == expected
    assert start_targets == [SM_ARN_SUB + sub(p["Name"])]
    assert not any(a.startswith("events:") for a in other), "no .sync integrations: no events:*"


def test_schedule_starts_a_smoke_batch_with_a_narrow_role():
    sched = resources("AWS::Scheduler::Schedule")
    assert set(sched) == {"SmokeSchedule", "ReconcileSchedule"}
    s = sched["SmokeSchedule"]["Properties"]
    assert json.loads(s["Target"]["Input"]) == {
        "action": "start_workflow", "smoke": True, "config": {"max_iterations": 3, "batch_size": 10}}
    assert ref(s["Target"]["Arn"]) == state_machine()[0]
    assert ref(s["ScheduleExpression"]) == "SmokeScheduleExpression"
    assert ref(s["State"]) == "SmokeScheduleState"
    sts = role_statements(getatt(s["Target"]["RoleArn"])[0])
    assert [(as_list(st["Action"]), [ref(r) for r in as_list(st["Resource"])]) for st, _ in sts] == [
        (["states:StartExecution"], [state_machine()[0]])]


def test_the_outbox_relay_runs_every_minute_with_retries_a_dlq_and_an_alarm():
    s = resources("AWS::Scheduler::Schedule")["ReconcileSchedule"]["Properties"]
    assert s["ScheduleExpression"] == "rate(1 minute)" and s["State"] == "ENABLED"
    assert getatt(s["Target"]["Arn"]) == ("ReconcileDeliveriesFunction", "Arn")
    assert json.loads(s["Target"]["Input"]) == {"limit": 100}
    sts = role_statements(getatt(s["Target"]["RoleArn"])[0])
    assert [(as_list(st["Action"]), [getatt(r) for r in as_list(st["Resource"])]) for st, _ in sts] == [
        (["lambda:InvokeFunction"], [("ReconcileDeliveriesFunction", "Arn")])]
    fn = resources()["ReconcileDeliveriesFunction"]["Properties"]
    assert getatt(fn["DeadLetterQueue"]["TargetArn"]) == ("ReconcileDeliveriesDeadLetterQueue", "Arn")
    assert fn["EventInvokeConfig"]["MaximumRetryAttempts"] == 2
    alarm = resources()["DecisionDeliveryAlarm"]["Properties"]
    watched = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert watched == {"Errors", "ApproximateNumberOfMessagesVisible"}
    # GSI2: pending deliveries; GSI1: workflows awaiting review (the reminder sweep).
    assert need_index("reconcile-deliveries") == {"GSI1", "GSI2"}


def need_index(binary: str) -> set:
    return set(required_by_function()[binary]["index"])


def test_table_matches_the_store_adapter():
    text = read(AWS / "dynamodb.rs")
    index = re.search(r'STATUS_INDEX: &str = "(\w+)"', text).group(1)
    tables = resources("AWS::DynamoDB::Table")
    assert len(tables) == 1
    p = next(iter(tables.values()))["Properties"]
    assert {(a["AttributeName"], a["KeyType"]) for a in p["KeySchema"]} == {("PK", "HASH"), ("SK", "RANGE")}
    pending = re.search(r'PENDING_DELIVERY_INDEX: &str = "(\w+)"', text).group(1)
    gsis = {g["IndexName"]: g for g in p["GlobalSecondaryIndexes"]}
    assert set(gsis) == {index, pending}
    for name, (hash_key, range_key) in ((index, ("GSI1PK", "GSI1SK")), (pending, ("GSI2PK", "GSI2SK"))):
        gsi = gsis[name]
        assert {(a["AttributeName"], a["KeyType"]) for a in gsi["KeySchema"]} == {(hash_key, "HASH"), (range_key, "RANGE")}
        assert gsi["Projection"]["ProjectionType"] == "ALL"
        assert f'"{hash_key}"' in text and f'"{range_key}"' in text
    assert p["BillingMode"] == "PAY_PER_REQUEST"
    assert p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert p["SSESpecification"]["SSEEnabled"] is True and p["SSESpecification"]["SSEType"] == "KMS"
    assert p["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert '"expires_at"' in text


def test_saved_queries_match_the_query_files():
    defs = {sub(r["Properties"]["Name"]).split("/", 1)[1]: r["Properties"]["QueryString"].strip()
            for r in resources("AWS::Logs::QueryDefinition").values()}
    files = {p.stem: read(p).strip() for p in (ROOT / "infra" / "queries").glob("*.query")}
    assert set(files) >= {"feedback-by-type", "errors", "executions-by-status", "escalations-by-reason",
                          "review-latency"}
    assert defs == files


def test_custom_metrics_use_the_names_in_metrics_rs():
    text = read(DOMAIN / "metrics.rs")
    namespace = re.search(r'pub const NAMESPACE: &str = "(\w+)"', text).group(1)
    service = re.search(r'pub const SERVICE: &str = "([\w-]+)"', text).group(1)
    names_block = block(text, text.index("pub mod names"))
    names = set(re.findall(r'pub const [A-Z_]+: &str = "([A-Za-z]+)";', names_block))
    used = set()
    for lid, alarm in resources("AWS::CloudWatch::Alarm").items():
        p = alarm["Properties"]
        assert [ref(a) for a in p["AlarmActions"]] == ["AlarmTopic"], lid
        stats = [p] + [m["MetricStat"]["Metric"] for m in p.get("Metrics", []) if "MetricStat" in m]
        for m in stats:
            if m.get("Namespace") == namespace:
                used.add(m["MetricName"])
                dims = {d["Name"]: d["Value"] for d in m["Dimensions"]}
                assert dims.get("Service") == service, lid
    body = sub(resources("AWS::CloudWatch::Dashboard")["Dashboard"]["Properties"]["DashboardBody"])
    used |= set(re.findall(rf'"{namespace}", "(\w+)"', body))
    assert used and used <= names, f"unknown metric names: {sorted(used - names)}"
    alarms = {sub(a["Properties"]["AlarmName"]).split("-", 2)[-1]
              for a in resources("AWS::CloudWatch::Alarm").values()}
    assert alarms == {"WorkflowExecutionFailures", "AgentInvocationErrors", "HighErrorRate",
                      "LongRunningExecutions", "FeedbackQueueBacklog", "SmokeTestFailed", "DecisionDelivery",
                      "SmokeTestMissing", "NotificationsGivenUp"}


def test_a_notification_given_up_alarms_at_once():
    """Issue 30: the outbox gives a channel up after its last attempt; one is enough to alarm."""
    p = resources()["NotificationsGivenUpAlarm"]["Properties"]
    assert p["MetricName"] == "NotificationsGivenUp" and p["Statistic"] == "Sum"
    assert p["Threshold"] == 1 and p["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert p["TreatMissingData"] == "notBreaching"
    assert "#notificationsgivenup" in p["AlarmDescription"]
    runbook = (ROOT / "docs/runbooks/incident-response.md").read_text()
    assert "\n## NotificationsGivenUp\n" in runbook


def test_chat_channels_come_from_the_secret_only_where_notifiers_are_wired():
    """HITL_NOTIFICATION_CHANNELS (Slack and the signed webhook) is set exactly on the functions
    that wire a review or escalation notifier, only under HasNotificationChannels, from a
    Secrets Manager dynamic reference to the NotificationChannelsSecret parameter."""
    name = config_env_vars()["NOTIFICATION_CHANNELS"]
    cond = template()["Conditions"]["HasNotificationChannels"]
    assert cond == {"Fn::Not": [{"Fn::Equals": [{"Ref": "NotificationChannelsSecret"}, ""]}]}
    notifying = set()
    for binary, (lid, res) in function_resources().items():
        wired = wired_sources(function_crates()[binary], binary)
        env = res["Properties"]["Environment"]["Variables"]
        if "config::NOTIFICATION_CHANNELS" in wired:
            notifying.add(binary)
            v = env.get(name)
            assert v and "Fn::If" in v and v["Fn::If"][0] == "HasNotificationChannels", lid
            assert sub(v["Fn::If"][1]) == "{{resolve:secretsmanager:${NotificationChannelsSecret}}}", lid
            assert ref(v["Fn::If"][2]) == "AWS::NoValue", lid
        else:
            assert name not in env, f"{lid} does not notify but gets {name}"
    assert notifying == {"request-review", "escalate", "reconcile-deliveries"}, notifying


def test_smoke_results_have_a_dead_mans_switch():
    """No result at all must alarm too (a smoke run that never starts or never finishes)."""
    p = resources()["SmokeTestMissingAlarm"]["Properties"]
    assert p["MetricName"] == "SmokeTestResult" and p["Statistic"] == "SampleCount"
    assert p["TreatMissingData"] == "breaching"
    assert ref(p["EvaluationPeriods"]) == ref(p["DatapointsToAlarm"]) == "SmokeResultMaxAgeHours"
    assert p["Period"] * template()["Parameters"]["SmokeResultMaxAgeHours"]["Default"] > 86400


def test_function_error_alarm_and_dashboard_cover_every_function():
    funcs = set(function_resources())
    alarm = resources()["HighErrorRateAlarm"]["Properties"]
    for q in (m for m in alarm["Metrics"] if "SELECT" in str(m.get("Expression", ""))):
        assert set(re.findall(r"hitl-\$\{Environment\}-([\w-]+)'", sub(q["Expression"]))) == funcs
    body = sub(resources()["Dashboard"]["Properties"]["DashboardBody"])
    assert set(re.findall(r'"hitl-\$\{Environment\}-([\w-]+)"\]', body)) == funcs


def test_outputs():
    assert set(template()["Outputs"]) >= {
        "ApiUrl", "TableName", "StateMachineArn", "ReviewTopicArn", "EscalationTopicArn",
        "AlarmTopicArn", "FeedbackQueueUrl", "FeedbackDeadLetterQueueUrl"}


def test_the_derivation_itself_sees_the_code():
    """Guards the static analysis: known facts of the current code must be found."""
    need = required_by_function()
    assert need["process-feedback"]["dynamodb"] >= {"dynamodb:BatchGetItem", "dynamodb:PutItem"}
    assert "states:SendTaskSuccess" in need["process-feedback"]["actions"]
    assert need["escalate"]["topics"] == {config_env_vars()["ESCALATION_TOPIC_ARN"]}
    assert need["generate-metadata"]["bedrock"] and "bedrock:InvokeAgent" in need["generate-metadata"]["actions"]
    assert "bedrock:InvokeModel" in need["generate-metadata"]["actions"]
    assert generator_of_action() == {"bedrock:InvokeAgent": "bedrock-agent", "bedrock:InvokeModel": "bedrock-converse"}
    consts = config_env_vars()
    assert generator_choices()["bedrock-converse"] == ("BedrockConverse", frozenset({consts["BEDROCK_MODEL_ID"]}))
    assert generator_choices()["openai"][1] == {consts[c] for c in ("OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_API_KEY")}
    assert need["generate-metadata"]["env"] >= {consts["GENERATOR"], consts["BEDROCK_MODEL_ID"], consts["AGENT_ID"]}
    assert consts["GENERATOR"] not in need["init-workflow"]["env"]
    assert "bedrock:GetAgentAlias" in need["init-workflow"]["actions"]
    assert "dynamodb:Query" in need["generate-metadata"]["dynamodb"]


def test_the_generator_parameter_offers_exactly_the_choices_of_the_code():
    allowed = template()["Parameters"]["Generator"]["AllowedValues"]
    assert set(allowed) == set(generator_choices())


def test_http_api_routes_match_the_api_crate():
    text = read(ROOT / "api" / "src" / "routes.rs")
    consts = dict(re.findall(r'pub const (\w+): &str = "([^"]+)";', text))
    specs = re.findall(r"RouteSpec\s*\{\s*method:\s*\"(\w+)\",\s*path:\s*(\w+),\s*authenticated:\s*(true|false)", text)
    assert specs, "no RouteSpec found in api/src/routes.rs"
    expected = {(m.upper(), consts[p], a == "true") for m, p, a in specs}
    api = resources("AWS::Serverless::HttpApi")
    assert len(api) == 1
    api_id, api_res = next(iter(api.items()))
    auth = api_res["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] in auth["Authorizers"]
    jwt = auth["Authorizers"][auth["DefaultAuthorizer"]]["JwtConfiguration"]
    # The stack's Cognito pool and client unless JwtIssuer names another provider.
    issuer, audience = jwt["issuer"]["Fn::If"], jwt["audience"]["Fn::If"]
    assert issuer[0] == audience[0] == "UseCognito"
    assert "ReviewerUserPool" in json.dumps(issuer[1]) and ref(issuer[2]) == "JwtIssuer"
    assert ref(audience[1][0]) == "ReviewerUserPoolClient" and ref(audience[2]) == "JwtAudience"
    got = set()
    for lid, res in resources("AWS::Serverless::Function").items():
        for e in res["Properties"].get("Events", {}).values():
            if e["Type"] != "HttpApi":
                continue
            p = e["Properties"]
            assert ref(p["ApiId"]) == api_id
            authorizer = p.get("Auth", {}).get("Authorizer")
            assert authorizer in (None, "NONE")
            got.add((p["Method"], p["Path"], authorizer is None))
    assert got == expected, f"template routes {sorted(got)} != api routes {sorted(expected)}"
