"""template.yaml: linted by cfn-lint and `sam validate --lint`, and checked after the SAM
transform (what CloudFormation will actually create).

`sam validate --lint` needs the SAM CLI: the path in $SAM_CLI, else `sam` on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
from scrubwatch.aws.environment import DEFAULT_WATCHLIST
from scrubwatch.core.config import CHANNELS

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
PARAMETERS = {"AlertEmail": "alerts@example.org"}


# --- linters --------------------------------------------------------------------------


def test_cfn_lint_is_clean() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    command = str(cfn_lint) if cfn_lint.exists() else shutil.which("cfn-lint")
    assert command, "cfn-lint is not installed (it is in the dev extra)"
    result = subprocess.run(
        [command, str(TEMPLATE)], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_is_clean() -> None:
    sam = os.environ.get("SAM_CLI") or shutil.which("sam")
    assert sam, "the SAM CLI is needed: set SAM_CLI to its path or put `sam` on PATH"
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [sam, "validate", "--lint", "--template-file", str(TEMPLATE), "--region", "us-east-1"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


# --- the translated template ------------------------------------------------------------


class _NoManagedPolicies:
    """The managed-policy loader `transform` wants; this template names no managed policy
    by name, so nothing needs looking up in IAM."""

    def load(self) -> dict[str, str]:
        return {}


def translate(parameters: dict[str, Any]) -> dict[str, Any]:
    sam = yaml_parse(TEMPLATE.read_text())
    # As `sam validate` does: local code folders become S3 locations, as after packaging.
    for resource in sam["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in props:
                props[key] = "s3://packaged/code.zip"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the translator's boto3 session asks
        out: dict[str, Any] = transform(sam, dict(parameters), _NoManagedPolicies())
    return out


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return translate(PARAMETERS)


def of_type(cfn: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in cfn["Resources"].items() if r["Type"] == kind}


def props(cfn: dict[str, Any], name: str) -> dict[str, Any]:
    p: dict[str, Any] = cfn["Resources"][name]["Properties"]
    return p


def target(value: Any) -> str | None:
    """The logical id a Ref or GetAtt points at."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            return str(att[0] if isinstance(att, list) else att.split(".")[0])
    return None


def function_named(cfn: dict[str, Any], logical_id: str) -> dict[str, Any]:
    assert cfn["Resources"][logical_id]["Type"] == "AWS::Lambda::Function"
    return props(cfn, logical_id)


def alarms_on_queue(cfn: dict[str, Any], queue: str) -> list[dict[str, Any]]:
    out = []
    for alarm in of_type(cfn, "AWS::CloudWatch::Alarm").values():
        p = alarm["Properties"]
        dims = {d["Name"]: target(d["Value"]) for d in p.get("Dimensions", [])}
        if p.get("Namespace") == "AWS/SQS" and dims.get("QueueName") == queue:
            out.append(p)
    return out


def test_every_function_has_a_failure_destination(cfn: dict[str, Any]) -> None:
    functions = of_type(cfn, "AWS::Lambda::Function")
    assert set(functions) == {
        "SchedulerFunction",
        "CheckerFunction",
        "NotifierFunction",
        "WitnessFunction",
        "RenderFunction",
    }
    on_failure = {
        target(p["Properties"]["FunctionName"]): p["Properties"]["DestinationConfig"]["OnFailure"]
        for p in of_type(cfn, "AWS::Lambda::EventInvokeConfig").values()
        if p["Properties"].get("DestinationConfig", {}).get("OnFailure")
    }
    for name, function in functions.items():
        p = function["Properties"]
        destination = p.get("DeadLetterConfig", {}).get("TargetArn") or on_failure.get(
            name, {}
        ).get("Destination")
        assert destination, f"{name} has neither a DeadLetterConfig nor an OnFailure destination"
        queue = target(destination)
        assert queue is not None
        assert cfn["Resources"][queue]["Type"] == "AWS::SQS::Queue"
        # Someone hears of it: an alarm watches that queue and tells a topic.
        watching = alarms_on_queue(cfn, queue)
        assert watching, f"no alarm on {queue}, where {name}'s failures go"
        assert all(a["AlarmActions"] for a in watching)


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement.get("Action", statement.get("NotAction", []))
    return [actions] if isinstance(actions, str) else list(actions)


def iam_statements(cfn: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, role in of_type(cfn, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in _statements(policy["PolicyDocument"]):
                yield f"{name}/{policy['PolicyName']}", statement
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for name, policy in of_type(cfn, kind).items():
            for statement in _statements(policy["Properties"]["PolicyDocument"]):
                yield name, statement


def test_no_iam_statement_has_a_wildcard_action(cfn: dict[str, Any]) -> None:
    statements = list(iam_statements(cfn))
    assert len(statements) >= 6  # the functions' own policies are there to be checked
    for where, statement in statements:
        assert "NotAction" not in statement, f"{where}: NotAction grants by exclusion"
        for action in _actions(statement):
            assert "*" not in action, f"{where}: wildcard action {action!r}"
        if statement.get("Effect") == "Allow":
            assert statement.get("Resource") != "*", f"{where}: Resource '*'"


def test_resource_policies_allow_no_wildcard_action(cfn: dict[str, Any]) -> None:
    """Resource policies (bucket, topic) are not IAM identity policies, but what they Allow
    must be as narrow. A Deny is different: the bucket's TLS-only statement denies `s3:*`
    on purpose, since it must cover every action; it is accepted only with a Condition."""
    documents = [
        (name, r["Properties"]["PolicyDocument"])
        for kind in ("AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy")
        for name, r in of_type(cfn, kind).items()
    ]
    assert documents
    for name, document in documents:
        for statement in _statements(document):
            wildcard = [a for a in _actions(statement) if "*" in a]
            if statement["Effect"] == "Allow":
                assert not wildcard, f"{name}: Allow with wildcard action {wildcard}"
            elif wildcard:
                assert statement.get("Condition"), f"{name}: unconditional Deny {wildcard}"


def test_managed_policies_are_only_the_lambda_basics(cfn: dict[str, Any]) -> None:
    """SAM attaches AWS-managed policies for logs and X-Ray; the SQS event source's managed
    policy (receive/delete on every queue) must not come in: the template scopes it."""
    allowed = {
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    }
    for name, role in of_type(cfn, "AWS::IAM::Role").items():
        arns = set(map(str, role["Properties"].get("ManagedPolicyArns", [])))
        assert arns <= allowed, f"{name}: {sorted(arns - allowed)}"


def test_runtime_and_architecture(cfn: dict[str, Any]) -> None:
    """Every function on Graviton with the scrubwatch layer, but the render function: the
    Lambda build of Chromium is x86_64 only, so it has the layer's x86_64 twin and the
    browser's layer, and nothing arm64."""
    layers = of_type(cfn, "AWS::Lambda::LayerVersion")
    by_name = {layer["Properties"]["LayerName"]: i for i, layer in layers.items()}
    assert set(by_name) == {"ScrubwatchLayer", "ScrubwatchLayerX86", "RenderLayer"}
    arch = {i: layer["Properties"]["CompatibleArchitectures"] for i, layer in layers.items()}
    for layer in layers.values():
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    for name, function in of_type(cfn, "AWS::Lambda::Function").items():
        p = function["Properties"]
        assert p["Runtime"] == "python3.12", name
        assert p["Handler"] == "handler.lambda_handler", name
        assert target(p["TracingConfig"]["Mode"]) == "Tracing", name
        used = [target(x) for x in p["Layers"]]
        if name == "RenderFunction":
            assert p["Architectures"] == ["x86_64"]
            assert used == [by_name["ScrubwatchLayerX86"], by_name["RenderLayer"]]
        else:
            assert p["Architectures"] == ["arm64"], name
            assert used == [by_name["ScrubwatchLayer"]], name
        assert all(arch[i] == p["Architectures"] for i in used), name


def test_functions_are_given_their_configuration(cfn: dict[str, Any]) -> None:
    expected = {
        "TABLE_NAME": "Table",
        "BUCKET_NAME": "EvidenceBucket",
        "QUEUE_URL": "CheckQueue",
        "TOPIC_ARN": "AlertTopic",
        "SLACK_WEBHOOK_PARAM": "SlackWebhookParameter",
    }
    for name, function in of_type(cfn, "AWS::Lambda::Function").items():
        variables = function["Properties"]["Environment"]["Variables"]
        for variable, logical_id in expected.items():
            assert target(variables[variable]) == logical_id, f"{name}: {variable}"
        assert variables["WATCHLIST_PATH"] == DEFAULT_WATCHLIST  # where the layer puts it


def _mappings_of(cfn: dict[str, Any], function: str) -> list[dict[str, Any]]:
    return [
        m["Properties"]
        for m in of_type(cfn, "AWS::Lambda::EventSourceMapping").values()
        if target(m["Properties"]["FunctionName"]) == function
    ]


def _mapping_of(cfn: dict[str, Any], function: str, queue: str | None = None) -> dict[str, Any]:
    [mapping] = [
        m
        for m in _mappings_of(cfn, function)
        if queue is None or target(m["EventSourceArn"]) == queue
    ]
    return mapping


def test_check_queue_feeds_the_checker_with_room_for_retries(cfn: dict[str, Any]) -> None:
    m = _mapping_of(cfn, "CheckerFunction")
    checker = function_named(cfn, "CheckerFunction")
    queue_id = target(m["EventSourceArn"])
    assert queue_id == "CheckQueue"
    assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 1 <= m["BatchSize"] <= 10
    queue = props(cfn, queue_id)
    assert queue["VisibilityTimeout"] >= 6 * checker["Timeout"]
    redrive = queue["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == 3
    dlq = target(redrive["deadLetterTargetArn"])
    assert dlq is not None and dlq != queue_id
    assert cfn["Resources"][dlq]["Type"] == "AWS::SQS::Queue"
    assert props(cfn, dlq)["MessageRetentionPeriod"] == 1209600
    assert alarms_on_queue(cfn, dlq), "nobody hears of messages in the dead-letter queue"
    # The watches a checker has no time for go back to the queue as a new message.
    sends = [
        s
        for policy in props(cfn, "CheckerFunctionRole")["Policies"]
        for s in _statements(policy["PolicyDocument"])
        if "sqs:SendMessage" in _actions(s)
    ]
    # (and the function's own failed invocations to its failure queue, as SAM grants; and
    # the events the Internet Archive should capture to the witness queue)
    assert sorted(str(target(s["Resource"])) for s in sends) == [
        "CheckQueue",
        "FailureQueue",
        "WitnessQueue",
    ]


def test_schedule_has_no_fixed_name_and_an_explicit_input(cfn: dict[str, Any]) -> None:
    [schedule] = of_type(cfn, "AWS::Scheduler::Schedule").values()
    p = schedule["Properties"]
    assert "Name" not in p  # OmitName: two stacks in one account do not collide
    assert target(p["ScheduleExpression"]) == "Schedule"
    t = p["Target"]
    assert target(t["Arn"]) == "SchedulerFunction"
    sample = json.loads((REPO / "events" / "schedule.json").read_text())
    assert json.loads(t["Input"]) == sample
    assert t["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert cfn["Resources"][target(t["DeadLetterConfig"]["Arn"])]["Type"] == "AWS::SQS::Queue"


def test_evidence_bucket_is_private_encrypted_versioned_and_tls_only(
    cfn: dict[str, Any],
) -> None:
    bucket = cfn["Resources"]["EvidenceBucket"]
    assert bucket["DeletionPolicy"] == "Retain"
    p = bucket["Properties"]
    assert p["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    [rule] = p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert p["VersioningConfiguration"] == {"Status": "Enabled"}
    policies = [
        r["Properties"]
        for r in of_type(cfn, "AWS::S3::BucketPolicy").values()
        if target(r["Properties"]["Bucket"]) == "EvidenceBucket"
    ]
    assert len(policies) == 1
    tls = [
        s
        for s in _statements(policies[0]["PolicyDocument"])
        if s["Effect"] == "Deny"
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in ("false", False)
    ]
    assert len(tls) == 1
    statement = tls[0]
    assert statement["Principal"] == "*"
    assert _actions(statement) == ["s3:*"]
    resources = statement["Resource"]
    assert {"Fn::GetAtt": ["EvidenceBucket", "Arn"]} in resources  # the bucket
    assert {"Fn::Sub": "${EvidenceBucket.Arn}/*"} in resources  # and every object


def test_table_has_point_in_time_recovery_and_encryption(cfn: dict[str, Any]) -> None:
    p = props(cfn, "Table")
    assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert p["SSESpecification"]["SSEEnabled"] is True
    assert p["BillingMode"] == "PAY_PER_REQUEST"
    # The keys the DynamoDB adapter (and the moto tests) use.
    assert {(a["AttributeName"], a["AttributeType"]) for a in p["AttributeDefinitions"]} == {
        ("pk", "S"),
        ("sk", "S"),
    }
    assert {(k["AttributeName"], k["KeyType"]) for k in p["KeySchema"]} == {
        ("pk", "HASH"),
        ("sk", "RANGE"),
    }


def test_subscriptions_get_only_the_channels_they_serve(cfn: dict[str, Any]) -> None:
    by_queue: dict[str, dict[str, Any]] = {}
    for sub in of_type(cfn, "AWS::SNS::Subscription").values():
        p = sub["Properties"]
        if target(p["TopicArn"]) == "AlertTopic":
            assert p["Protocol"] == "sqs"  # nothing reads the alert topic but the queues
            by_queue[str(target(p["Endpoint"]))] = p
    assert set(by_queue) == {"SlackQueue", "EmailQueue"}
    assert by_queue["SlackQueue"]["FilterPolicy"] == {"channels": ["slack"]}
    assert by_queue["EmailQueue"]["FilterPolicy"] == {"channels": ["email"]}
    for p in by_queue.values():
        assert p["RawMessageDelivery"] is True
        assert p["FilterPolicyScope"] == "MessageAttributes"
        assert set(p["FilterPolicy"]["channels"]) <= set(CHANNELS)
        assert target(p["RedrivePolicy"]["deadLetterTargetArn"]) == "FailureQueue"


def test_email_goes_through_the_notifier_to_a_topic_only_it_publishes_to(
    cfn: dict[str, Any],
) -> None:
    """So each event is emailed once: the address is subscribed to the email topic, which
    only the notifier (claiming each event id) publishes to."""
    [email] = [
        sub["Properties"]
        for sub in of_type(cfn, "AWS::SNS::Subscription").values()
        if sub["Properties"]["Protocol"] == "email"
        and target(sub["Properties"]["TopicArn"]) != "OpsTopic"
    ]
    assert target(email["TopicArn"]) == "EmailTopic"
    assert email["Endpoint"] == {"Ref": "AlertEmail"}
    assert props(cfn, "EmailTopic")["KmsMasterKeyId"] == "alias/aws/sns"
    publishers = {
        function
        for function in FUNCTIONS
        for policy in props(cfn, f"{function}Role")["Policies"]
        for s in _statements(policy["PolicyDocument"])
        if "sns:Publish" in _actions(s) and target(s["Resource"]) == "EmailTopic"
    }
    assert publishers == {"NotifierFunction"}
    env = function_named(cfn, "NotifierFunction")["Environment"]["Variables"]
    assert target(env["EMAIL_TOPIC_ARN"]) == "EmailTopic"
    assert target(env["EMAIL_QUEUE_ARN"]) == "EmailQueue"


@pytest.mark.parametrize("queue", ["SlackQueue", "EmailQueue"])
def test_alert_queues_batch_bursts_and_keep_what_they_cannot_deliver(
    cfn: dict[str, Any], queue: str
) -> None:
    m = _mapping_of(cfn, "NotifierFunction", queue)
    notifier = function_named(cfn, "NotifierFunction")
    assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert m["MaximumBatchingWindowInSeconds"] > 0 and m["BatchSize"] > 10
    p = props(cfn, queue)
    assert p["VisibilityTimeout"] >= 6 * notifier["Timeout"]
    dlq = target(p["RedrivePolicy"]["deadLetterTargetArn"])
    assert dlq is not None and alarms_on_queue(cfn, dlq)


def test_alarms_on_function_errors_reach_an_unfiltered_subscription(
    cfn: dict[str, Any],
) -> None:
    alarms = of_type(cfn, "AWS::CloudWatch::Alarm").values()
    errors = {
        target(d["Value"])
        for a in alarms
        if a["Properties"]["Namespace"] == "AWS/Lambda"
        and a["Properties"]["MetricName"] == "Errors"
        for d in a["Properties"]["Dimensions"]
        if d["Name"] == "FunctionName"
    }
    assert {"SchedulerFunction", "CheckerFunction", "RenderFunction"} <= errors
    subscriptions = [s["Properties"] for s in of_type(cfn, "AWS::SNS::Subscription").values()]
    for alarm in alarms:
        for action in alarm["Properties"]["AlarmActions"]:
            topic = target(action)
            assert cfn["Resources"][topic]["Type"] == "AWS::SNS::Topic"
            # Alarm notifications carry no message attributes: a filter would drop them.
            assert any(
                target(s["TopicArn"]) == topic and "FilterPolicy" not in s for s in subscriptions
            ), f"alarm notifications on {topic} reach nobody"


# --- operations (issue 12, point 5) ----------------------------------------------------


FUNCTIONS = (
    "SchedulerFunction",
    "CheckerFunction",
    "NotifierFunction",
    "WitnessFunction",
    "RenderFunction",
)


def test_every_function_logs_to_a_group_kept_for_the_retention_days(cfn: dict[str, Any]) -> None:
    for function in FUNCTIONS:
        group = target(function_named(cfn, function)["LoggingConfig"]["LogGroup"])
        assert group is not None and cfn["Resources"][group]["Type"] == "AWS::Logs::LogGroup"
        assert props(cfn, group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert cfn["Parameters"]["LogRetentionDays"]["Default"] == 90


@pytest.mark.parametrize(
    ("function", "parameter"),
    [
        ("CheckerFunction", "CheckerMaxConcurrency"),
        ("NotifierFunction", "NotifierMaxConcurrency"),
        ("RenderFunction", "RenderMaxConcurrency"),
    ],
)
def test_queue_consumers_have_a_maximum_concurrency(
    cfn: dict[str, Any], function: str, parameter: str
) -> None:
    mappings = _mappings_of(cfn, function)
    assert mappings
    for mapping in mappings:
        assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": parameter}}
    # Lambda takes 2 to 1,000 for an SQS mapping.
    assert cfn["Parameters"][parameter]["MinValue"] >= 2


def test_the_table_outlives_the_stack(cfn: dict[str, Any]) -> None:
    table = cfn["Resources"]["Table"]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"]["DeletionProtectionEnabled"] is True


def test_alerts_are_encrypted_and_the_checker_may_publish_them(cfn: dict[str, Any]) -> None:
    assert props(cfn, "AlertTopic")["KmsMasterKeyId"] == "alias/aws/sns"
    role = props(cfn, "CheckerFunctionRole")
    kms = [
        s
        for policy in role["Policies"]
        for s in _statements(policy["PolicyDocument"])
        if "kms:GenerateDataKey" in _actions(s)
    ]
    assert len(kms) == 1
    via = kms[0]["Condition"]["StringEquals"]["kms:ViaService"]
    assert via == {"Fn::Sub": "sns.${AWS::Region}.amazonaws.com"}


def test_what_sns_cannot_hand_on_is_kept(cfn: dict[str, Any]) -> None:
    subscriptions = [
        s["Properties"]
        for s in of_type(cfn, "AWS::SNS::Subscription").values()
        if target(s["Properties"]["TopicArn"]) != "OpsTopic"
    ]
    assert len(subscriptions) == 3  # Slack's queue, email's queue, the address
    for sub in subscriptions:
        dlq = target(sub["RedrivePolicy"]["deadLetterTargetArn"])
        assert dlq is not None and alarms_on_queue(cfn, dlq)
        allowed = [
            s
            for policy in of_type(cfn, "AWS::SQS::QueuePolicy").values()
            if dlq in [target(q) for q in policy["Properties"]["Queues"]]
            for s in _statements(policy["Properties"]["PolicyDocument"])
        ]
        topic = target(sub["TopicArn"])
        assert any(
            s["Principal"] == {"Service": "sns.amazonaws.com"}
            and topic in [target(a) for a in _listed(s["Condition"]["ArnEquals"]["aws:SourceArn"])]
            for s in allowed
        ), topic


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_alarm_also_says_when_it_is_over(cfn: dict[str, Any]) -> None:
    for name, alarm in of_type(cfn, "AWS::CloudWatch::Alarm").items():
        p = alarm["Properties"]
        assert p.get("OKActions") == p["AlarmActions"], name


def test_a_stack_that_stops_checking_raises_an_alarm(cfn: dict[str, Any]) -> None:
    alarms = [a["Properties"] for a in of_type(cfn, "AWS::CloudWatch::Alarm").values()]
    [heartbeat] = [a for a in alarms if a["Namespace"] == "scrubwatch"]
    # The metric the scheduler reports on every tick, even with nothing due.
    assert heartbeat["MetricName"] == "WatchesDue"
    assert heartbeat["Dimensions"] == [{"Name": "service", "Value": "scrubwatch-scheduler"}]
    assert heartbeat["TreatMissingData"] == "breaching"
    assert heartbeat["Period"] == {"Ref": "HeartbeatSeconds"}
    # tests/aws/test_operations.py: the scheduler reports it so on every tick.
    on = {(a["Namespace"], a["MetricName"]) for a in alarms}
    assert ("AWS/SQS", "ApproximateAgeOfOldestMessage") in on
    assert ("AWS/Lambda", "Throttles") in on


# --- conditions: Object Lock and Slack follow their parameters ------------------------


def _parameter(cfn: dict[str, Any], values: dict[str, Any], name: str) -> Any:
    return values.get(name, cfn["Parameters"][name].get("Default"))


def _condition(cfn: dict[str, Any], values: dict[str, Any], expr: Any) -> Any:
    if isinstance(expr, dict) and len(expr) == 1:
        [(fn, arg)] = expr.items()
        if fn == "Ref":
            return _parameter(cfn, values, arg)
        if fn == "Condition":
            return _condition(cfn, values, cfn["Conditions"][arg])
        if fn == "Fn::Not":
            return not _condition(cfn, values, arg[0])
        if fn == "Fn::Equals":
            a, b = (_condition(cfn, values, x) for x in arg)
            return str(a) == str(b)
        if fn == "Fn::And":
            return all(_condition(cfn, values, x) for x in arg)
        if fn == "Fn::Or":
            return any(_condition(cfn, values, x) for x in arg)
    return expr


_NO_VALUE = object()


def _resolve(cfn: dict[str, Any], values: dict[str, Any], value: Any) -> Any:
    """Applies Fn::If (and drops AWS::NoValue) the way CloudFormation would."""
    if isinstance(value, dict):
        if value == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        if set(value) == {"Fn::If"}:
            name, yes, no = value["Fn::If"]
            chosen = yes if _condition(cfn, values, cfn["Conditions"][name]) else no
            return _resolve(cfn, values, chosen)
        out = {k: _resolve(cfn, values, v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not _NO_VALUE}
    if isinstance(value, list):
        return [v for v in (_resolve(cfn, values, x) for x in value) if v is not _NO_VALUE]
    return value


@pytest.mark.parametrize(("days", "locked"), [(0, False), (7, True)])
def test_object_lock_only_when_asked(cfn: dict[str, Any], days: int, locked: bool) -> None:
    values = {**PARAMETERS, "EvidenceObjectLockDays": days}
    bucket = _resolve(cfn, values, props(cfn, "EvidenceBucket"))
    if not locked:
        assert "ObjectLockEnabled" not in bucket
        assert "ObjectLockConfiguration" not in bucket
        return
    assert bucket["ObjectLockEnabled"] is True
    lock = bucket["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    retention = lock["Rule"]["DefaultRetention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert _condition(cfn, values, retention["Days"]) == days


@pytest.mark.parametrize("parameter", ["", "/scrubwatch/slack-webhook"])
def test_notifier_may_read_only_the_slack_parameter(cfn: dict[str, Any], parameter: str) -> None:
    values = {**PARAMETERS, "SlackWebhookParameter": parameter}
    role = _resolve(cfn, values, props(cfn, "NotifierFunctionRole"))
    ssm = [
        s
        for policy in role["Policies"]
        for s in _statements(policy["PolicyDocument"])
        if "ssm:GetParameter" in _actions(s)
    ]
    assert len(ssm) == 1
    resource = ssm[0]["Resource"]["Fn::Sub"]
    expected = "${SlackWebhookParameter}" if parameter else "/scrubwatch/none"
    assert resource.endswith(f":parameter{expected}")


def test_notifier_may_touch_only_its_claims_in_the_table(cfn: dict[str, Any]) -> None:
    from scrubwatch.aws.notify import CLAIM_PREFIX

    role = props(cfn, "NotifierFunctionRole")
    table = [
        s
        for policy in role["Policies"]
        for s in _statements(policy["PolicyDocument"])
        if any(a.startswith("dynamodb:") for a in _actions(s))
    ]
    assert table
    for statement in table:
        keys = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        assert keys == [f"{CLAIM_PREFIX}*"]
    assert not "W#x".startswith(CLAIM_PREFIX)  # a watch's items are out of its reach


def test_the_checker_may_make_every_write_its_commit_makes(cfn: dict[str, Any]) -> None:
    """A transaction needs the permission of each action in it: the checker's commit
    updates the state, puts the history row, and puts or deletes the recheck entry."""
    role = props(cfn, "CheckerFunctionRole")
    actions = {
        a
        for policy in role["Policies"]
        for s in _statements(policy["PolicyDocument"])
        for a in _actions(s)
    }
    assert {"dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:DeleteItem"} <= actions


def test_the_internet_archive_is_asked_off_the_check_path(cfn: dict[str, Any]) -> None:
    """Captures have their own queue, retries, dead letters and function, at a bounded
    concurrency (witnessing.CONCURRENCY shares the list's rate between them); only that
    function may read the Archive keys."""
    from scrubwatch.aws import witnessing

    m = _mapping_of(cfn, "WitnessFunction")
    assert target(m["EventSourceArn"]) == "WitnessQueue"
    assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert m["ScalingConfig"] == {"MaximumConcurrency": witnessing.CONCURRENCY}
    queue = props(cfn, "WitnessQueue")
    assert queue["VisibilityTimeout"] >= 6 * function_named(cfn, "WitnessFunction")["Timeout"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == witnessing.ATTEMPTS + 1
    dlq = target(queue["RedrivePolicy"]["deadLetterTargetArn"])
    assert dlq is not None and alarms_on_queue(cfn, dlq)
    readers = [
        name
        for name, statement in iam_statements(cfn)
        if "ssm:GetParameter" in _actions(statement) and "Wayback" in json.dumps(statement)
    ]
    assert [r.split("/")[0] for r in readers] == ["WitnessFunctionRole"]
    # It may add its results, and overwrite no evidence.
    puts = [
        s["Resource"]
        for name, s in iam_statements(cfn)
        if name.startswith("WitnessFunctionRole") and "s3:PutObject" in _actions(s)
    ]
    assert puts == [{"Fn::Sub": "${EvidenceBucket.Arn}/evidence/*.witness.json"}]
    assert queue["MessageRetentionPeriod"] == 1209600


def test_tracing_is_a_choice_and_passthrough_switches_the_tracer_off(cfn: dict[str, Any]) -> None:
    """Lambda samples traces at its own rate (X-Ray sampling rules do not apply to it):
    `Tracing` keeps that (Active) or records none (PassThrough), and then the functions'
    Powertools tracer is off too, so it costs nothing at cold start or per call."""
    assert cfn["Parameters"]["Tracing"]["AllowedValues"] == ["Active", "PassThrough"]
    assert cfn["Conditions"]["Traced"] == {"Fn::Equals": [{"Ref": "Tracing"}, "Active"]}
    for name, function in of_type(cfn, "AWS::Lambda::Function").items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["POWERTOOLS_TRACE_DISABLED"] == {"Fn::If": ["Traced", "false", "true"]}, (
            name
        )
