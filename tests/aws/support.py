"""Helpers for the tests in this folder (the fixtures are in conftest.py); the watched site
is the one every folder uses (tests/support)."""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from scrubwatch.aws import clients

REPO = Path(__file__).resolve().parents[2]


EVENTS = REPO / "events"


REGION = "us-east-1"


# What each test's watch list starts from: only loopback is fetched, no retries, and one
# 404 is enough to call a page gone.
SETTINGS: dict[str, Any] = {
    "allow_networks": ["127.0.0.1/32"],
    "retries": 0,
    "confirm_gone": 1,
    "timeout": "5s",
}


# Powertools' metrics flush warns when a run added no metric (every record failed); each
# test module carries this mark.
IGNORE_EMPTY_METRICS = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def sample_event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


class LambdaContext:
    function_name = "scrubwatch-test"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:scrubwatch-test"
    memory_limit_in_mb = 512
    aws_request_id = "3f1c2b4a-0000-4000-8000-000000000001"
    log_group_name = "/aws/lambda/scrubwatch-test"
    log_stream_name = "2026/01/01/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


@dataclass(frozen=True)
class Delivery:
    reply: dict[str, Any] | None  # None when the invocation raised
    error: Exception | None
    messages: list[dict[str, Any]]
    failed: list[str]  # message ids that go back to the queue


@dataclass
class Stack:
    """The resources of template.yaml, created in moto, and helpers to drive them.

    The test's own clients are made before any fault hook is registered, so a hook that
    breaks the handlers' calls never breaks the test's reads.
    """

    table: str
    bucket: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    topic_arn: str
    capture_url: str  # every SNS delivery, raw envelope (RawMessageDelivery false)
    slack_capture_url: str  # the Slack queue: what its filter policy lets through, raw
    email_queue_url: str  # the email queue: what its filter policy lets through, raw
    email_queue_arn: str
    email_topic_arn: str  # where the notifier sends each email
    emails_url: str  # every message on the email topic (the envelope shows its Subject)
    witness_queue_url: str  # the Internet Archive captures the checker asks for
    published: list[dict[str, Any]] = field(default_factory=list)  # sns.Publish params
    _hooks: list[tuple[str, Callable[..., Any]]] = field(default_factory=list)

    @functools.cached_property
    def sqs(self) -> Any:
        return boto3.client("sqs", region_name=REGION)

    @functools.cached_property
    def ddb(self) -> Any:
        return boto3.client("dynamodb", region_name=REGION)

    @functools.cached_property
    def s3(self) -> Any:
        return boto3.client("s3", region_name=REGION)

    @functools.cached_property
    def sns(self) -> Any:
        return boto3.client("sns", region_name=REGION)

    # --- botocore event hooks on the default session (what the handlers' clients use) ---

    def hook(self, event_name: str, handler: Callable[..., Any]) -> None:
        """Runs ``handler(params=..., **kw)`` before every matching call of the handlers'
        clients: those made from now on, and those the container already keeps."""
        boto3.DEFAULT_SESSION.events.register(event_name, handler)  # type: ignore[union-attr]
        for client in clients.made():
            client.meta.events.register(event_name, handler)
        self._hooks.append((event_name, handler))

    def unhook(self, event_name: str, handler: Callable[..., Any]) -> None:
        boto3.DEFAULT_SESSION.events.unregister(event_name, handler)  # type: ignore[union-attr]
        for client in clients.made():
            client.meta.events.unregister(event_name, handler)
        self._hooks.remove((event_name, handler))

    # --- SNS topic, as the template makes it, with the capturing subscriptions ---

    def create_topic(self) -> None:
        sns, sqs = self.sns, self.sqs
        self.topic_arn = sns.create_topic(Name="scrubwatch-AlertTopic")["TopicArn"]
        for url, policy in (
            (self.capture_url, None),
            (self.slack_capture_url, {"channels": ["slack"]}),
            (self.email_queue_url, {"channels": ["email"]}),
        ):
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            # As in template.yaml: the channels' queues take the raw message (the event JSON).
            raw = url != self.capture_url
            attributes = {"RawMessageDelivery": "true" if raw else "false"}
            if policy is not None:
                attributes["FilterPolicyScope"] = "MessageAttributes"
                attributes["FilterPolicy"] = json.dumps(policy)
            sns.subscribe(
                TopicArn=self.topic_arn,
                Protocol="sqs",
                Endpoint=arn["Attributes"]["QueueArn"],
                Attributes=attributes,
            )

    def emails(self) -> list[dict[str, Any]]:
        """The emails sent since last asked: each {"Subject", "Message"} of the email topic."""
        return [
            {"Subject": e.get("Subject"), "Message": e["Message"]}
            for e in self.envelopes(self.emails_url)
        ]

    def notifier_event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The Lambda SQS event for messages received from the email queue."""
        event = self.sqs_event(messages)
        for record in event["Records"]:
            record["eventSourceARN"] = self.email_queue_arn
        return event

    # --- what a tick costs ---

    def count_calls(self) -> Counter[str]:
        """Counts every AWS call the handlers' clients make from now on, as
        "service.Operation" (the notifier's claims too: Powertools is handed the same client)."""
        calls: Counter[str] = Counter()

        def count(event_name: str, **_: Any) -> None:
            calls[event_name.removeprefix("before-call.")] += 1

        self.hook("before-call", count)
        return calls

    def tick(self, handlers: Any, batch_size: int = 5) -> int:
        """One scheduled tick, as deployed: the scheduler, then the checker on batches of
        ``batch_size`` messages (the event source mapping's) until the queue is empty.
        Returns the number of checker invocations."""
        handlers.scheduler.lambda_handler(sample_event("schedule.json"), LambdaContext())
        messages = self.receive_all(self.queue_url)
        invocations = 0
        for start in range(0, len(messages), batch_size):
            batch = messages[start : start + batch_size]
            reply = handlers.checker.lambda_handler(self.sqs_event(batch), LambdaContext())
            assert reply == {"batchItemFailures": []}, reply
            invocations += 1
            for m in batch:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return invocations

    # --- queues ---

    def queued(self) -> Counter[str]:
        """The watch ids on the check queue now, each message taken off it."""
        from scrubwatch.aws.schedule import CheckRequest

        ids: Counter[str] = Counter()
        for m in self.receive_all(self.queue_url):
            ids.update(CheckRequest.model_validate_json(m["Body"]).watches)
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return ids

    def receive_all(self, url: str, visibility: int | None = None) -> list[dict[str, Any]]:
        """Every message visible on a queue now (each becomes invisible once received)."""
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "QueueUrl": url,
            "MaxNumberOfMessages": 10,
            "AttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
            "WaitTimeSeconds": 0,
        }
        if visibility is not None:
            kwargs["VisibilityTimeout"] = visibility
        while True:
            got = self.sqs.receive_message(**kwargs).get("Messages", [])
            if not got:
                return out
            out.extend(got)

    def envelopes(self, url: str | None = None) -> list[dict[str, Any]]:
        """The SNS envelopes delivered to a capturing queue since it was last read."""
        messages = self.receive_all(url or self.capture_url)
        for m in messages:
            self.sqs.delete_message(
                QueueUrl=url or self.capture_url, ReceiptHandle=m["ReceiptHandle"]
            )
        return [json.loads(m["Body"]) for m in messages]

    def sqs_event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The Lambda SQS event for received messages, shaped like events/sqs-check.json."""
        template = sample_event("sqs-check.json")["Records"][0]
        records = []
        for m in messages:
            record = copy.deepcopy(template)
            record.update(
                messageId=m["MessageId"],
                receiptHandle=m["ReceiptHandle"],
                body=m["Body"],
                md5OfBody=m["MD5OfBody"],
                attributes={
                    k: v
                    for k, v in m.get("Attributes", {}).items()
                    if k
                    in (
                        "ApproximateReceiveCount",
                        "SentTimestamp",
                        "SenderId",
                        "ApproximateFirstReceiveTimestamp",
                    )
                },
                messageAttributes={},
                eventSourceARN=self.queue_arn,
                awsRegion=REGION,
            )
            records.append(record)
        return {"Records": records}

    def deliver(self, checker: ModuleType) -> Delivery:
        """What Lambda's SQS event source mapping does once: receive a batch (up to 10),
        invoke the checker, delete the records it did not report failed. A function error
        (the handler raised) returns the whole batch."""
        messages = self.receive_all(self.queue_url)
        assert messages, "nothing on the check queue"
        try:
            reply = checker.lambda_handler(self.sqs_event(messages), LambdaContext())
        except Exception as exc:
            failed = [m["MessageId"] for m in messages]
            return Delivery(None, exc, messages, failed)
        failed = [f["itemIdentifier"] for f in reply["batchItemFailures"]]
        for m in messages:
            if m["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return Delivery(reply, None, messages, failed)

    def send_checks(self, *bodies: str) -> list[str]:
        ids = []
        for body in bodies:
            ids.append(
                self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)["MessageId"]
            )
        return ids

    # --- DynamoDB ---

    def state_item(self, watch_id: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.ddb.get_item(
            TableName=self.table,
            Key={"pk": {"S": f"W#{watch_id}"}, "sk": {"S": "STATE"}},
            ConsistentRead=True,
        ).get("Item")
        return item

    def state(self, watch_id: str) -> dict[str, Any]:
        item = self.state_item(watch_id)
        assert item is not None, f"no state for {watch_id}"
        raw = item["state"]
        data: dict[str, Any] = json.loads(zlib.decompress(raw["B"]) if "B" in raw else raw["S"])
        data["_rev"] = int(item["rev"]["N"])
        return data

    def history(self, watch_id: str) -> list[dict[str, Any]]:
        reply = self.ddb.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
            ExpressionAttributeValues={":pk": {"S": f"W#{watch_id}"}, ":v": {"S": "V#"}},
        )
        items: list[dict[str, Any]] = reply["Items"]
        return items

    # --- S3 ---

    def object_keys(self, prefix: str = "") -> list[str]:
        reply = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in reply.get("Contents", []))

    def get(self, key: str) -> bytes:
        data: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return data


def _build_stack() -> Stack:
    ddb = boto3.client("dynamodb", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)

    table = "scrubwatch-Table"
    ddb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        SSESpecification={"Enabled": True},
    )
    bucket = "scrubwatch-evidencebucket"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    dlq_url = sqs.create_queue(
        QueueName="scrubwatch-CheckDeadLetterQueue",
        Attributes={"MessageRetentionPeriod": "1209600"},
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
    queue_url = sqs.create_queue(
        QueueName="scrubwatch-CheckQueue",
        Attributes={
            "VisibilityTimeout": "720",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"], "maxReceiveCount": 3}
            ),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    email_queue = sqs.create_queue(QueueName="scrubwatch-EmailQueue")["QueueUrl"]
    sns = boto3.client("sns", region_name=REGION)
    email_topic = sns.create_topic(Name="scrubwatch-EmailTopic")["TopicArn"]
    emails = sqs.create_queue(QueueName="capture-emails")["QueueUrl"]
    sns.subscribe(
        TopicArn=email_topic,
        Protocol="sqs",
        Endpoint=sqs.get_queue_attributes(QueueUrl=emails, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"],
    )
    stack = Stack(
        table=table,
        bucket=bucket,
        queue_url=queue_url,
        queue_arn=queue_arn["Attributes"]["QueueArn"],
        dlq_url=dlq_url,
        topic_arn="",
        capture_url=sqs.create_queue(QueueName="capture-all")["QueueUrl"],
        slack_capture_url=sqs.create_queue(QueueName="capture-slack")["QueueUrl"],
        email_queue_url=email_queue,
        email_queue_arn=sqs.get_queue_attributes(QueueUrl=email_queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"],
        email_topic_arn=email_topic,
        emails_url=emails,
        witness_queue_url=sqs.create_queue(QueueName="scrubwatch-WitnessQueue")["QueueUrl"],
    )
    stack.create_topic()
    for client in ("ddb", "s3", "sns", "sqs"):
        getattr(stack, client)  # made now, before any hook
    return stack


def _load(name: str) -> ModuleType:
    path = REPO / "functions" / name / "handler.py"
    spec = importlib.util.spec_from_file_location(f"scrubwatch_{name}_handler", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def emf_blobs(stdout: str) -> list[dict[str, Any]]:
    """The CloudWatch EMF blobs Powertools printed, whole (dimensions included)."""
    out = []
    for line in stdout.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if isinstance(blob, dict) and "_aws" in blob:
            out.append(blob)
    return out


def emf_metrics(stdout: str) -> list[dict[str, Any]]:
    """One dict per EMF blob printed: metric name to the sum of the values recorded in
    that invocation."""
    out = []
    for blob in emf_blobs(stdout):
        names = [m["Name"] for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
        out.append({n: _total(blob[n]) for n in names})
    return out


def _total(value: Any) -> float:
    return float(sum(value)) if isinstance(value, list) else float(value)


def name_stack(aws: Stack, name: str = "scrubwatch") -> str:
    """A CloudFormation stack whose outputs name the test's bucket and table, as a deployed
    stack's do: what --stack NAME reads."""
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "EvidenceBucketName": {"Value": aws.bucket},
            "TableName": {"Value": aws.table},
            "CheckQueueUrl": {"Value": aws.queue_url},
        },
    }
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    return name
