"""DynamoDB client metrics: implements the data access layer's `StoreObserver` Protocol.

Label values are clamped to known sets because they come from responses we do not control
(error codes) and from callers that may be wrong (operation names).
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Histogram

from metrics.labels import clamp

# The DynamoDB API's operation names. The data layer may pass them as the API spells them
# ("GetItem") or as botocore's method names ("get_item"); both land on the API spelling.
OPERATIONS = frozenset(
    {
        "BatchExecuteStatement",
        "BatchGetItem",
        "BatchWriteItem",
        "CreateTable",
        "DeleteItem",
        "DeleteTable",
        "DescribeTable",
        "DescribeTimeToLive",
        "ExecuteStatement",
        "ExecuteTransaction",
        "GetItem",
        "ListTables",
        "PutItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "TransactWriteItems",
        "UpdateItem",
        "UpdateTable",
        "UpdateTimeToLive",
    }
)
_SNAKE_TO_API = {re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower(): op for op in OPERATIONS}

# refused: never sent (an item over DynamoDB's size limit, refused by the data layer).
OUTCOMES = frozenset({"ok", "error", "throttled", "timeout", "refused"})

# Error codes DynamoDB (and the AWS request layer in front of it) documents.
ERROR_CODES = frozenset(
    {
        "AccessDeniedException",
        "ConditionalCheckFailedException",
        "DuplicateItemException",
        "ExpiredTokenException",
        "IdempotentParameterMismatchException",
        "IncompleteSignature",
        "InternalFailure",
        "InternalServerError",
        "ServerError",
        "InvalidSignatureException",
        "ItemCollectionSizeLimitExceededException",
        "LimitExceededException",
        "MissingAuthenticationToken",
        "ProvisionedThroughputExceededException",
        "ReplicatedWriteConflictException",
        "RequestLimitExceeded",
        "ResourceInUseException",
        "ResourceNotFoundException",
        "SerializationException",
        "ServiceUnavailable",
        "ThrottlingException",
        "TransactionCanceledException",
        "TransactionConflictException",
        "TransactionInProgressException",
        "UnrecognizedClientException",
        "ValidationException",
    }
)
# Codes the data layer reports of its own: its deadline, retryable transaction-cancellation
# reasons, batch leftovers, and botocore's connection failures (by exception class name).
CLIENT_ERROR_CODES = frozenset(
    {
        "Timeout",
        "TransactionConflict",
        "UnprocessedItems",
        "UnprocessedKeys",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "EndpointConnectionError",
        "ConnectionClosedError",
        "HTTPClientError",
        "ItemTooLarge",
    }
)
KNOWN_CODES = ERROR_CODES | CLIENT_ERROR_CODES
NO_CODE = "none"  # a failure without an AWS error code: a timeout, a dropped connection

# Single-digit milliseconds is DynamoDB's normal; the tail runs to the 3 s call deadline.
OPERATION_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)

TABLE_ITSELF = "table"  # the index label of capacity consumed by the base table

# The calls the service makes, whose series exist from the start (zero until the first call):
# a dashboard's ratio or an alert's rate() then has a value before the first event, and with
# several workers the family is on /metrics at all (multiprocess mode writes a series only
# once it exists).
SERVED_OPERATIONS = (
    "BatchGetItem",
    "BatchWriteItem",
    "DeleteItem",
    "DescribeTable",
    "GetItem",
    "PutItem",
    "Query",
    "Scan",
    "TransactGetItems",
    "TransactWriteItems",
    "UpdateItem",
)
THROTTLE_CODES = ("ProvisionedThroughputExceededException", "ThrottlingException")
BATCH_OPERATIONS = ("BatchGetItem", "BatchWriteItem")


def operation_label(operation: str) -> str:
    return _SNAKE_TO_API.get(operation) or clamp(operation, OPERATIONS)


def error_code_label(code: str | None) -> str:
    return NO_CODE if code is None else clamp(code, KNOWN_CODES)


class DynamoMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._duration = Histogram(
            "hustlehub_dynamodb_operation_duration_seconds",
            "Duration of one logical DynamoDB call, all its attempts and backoff included.",
            ["operation"],
            buckets=OPERATION_BUCKETS,
            registry=registry,
        )
        self._requests = Counter(
            "hustlehub_dynamodb_requests_total",
            "Logical DynamoDB calls finished, by outcome (ok, error, throttled, timeout, refused).",
            ["operation", "outcome"],
            registry=registry,
        )
        self._errors = Counter(
            "hustlehub_dynamodb_errors_total",
            "Logical DynamoDB calls that failed, by AWS error code.",
            ["operation", "code"],
            registry=registry,
        )
        self._throttled = Counter(
            "hustlehub_dynamodb_throttled_requests_total",
            "DynamoDB attempts answered with a throttling error (retried or not).",
            ["operation"],
            registry=registry,
        )
        self._retries = Counter(
            "hustlehub_dynamodb_retries_total",
            "DynamoDB attempts repeated after a retryable error.",
            ["operation", "code"],
            registry=registry,
        )
        self._read_units = Counter(
            "hustlehub_dynamodb_consumed_read_capacity_units_total",
            "Read capacity units DynamoDB reported consumed.",
            ["table", "index"],
            registry=registry,
        )
        self._write_units = Counter(
            "hustlehub_dynamodb_consumed_write_capacity_units_total",
            "Write capacity units DynamoDB reported consumed.",
            ["table", "index"],
            registry=registry,
        )
        self._unprocessed = Counter(
            "hustlehub_dynamodb_unprocessed_items_total",
            "Items a batch call handed back unprocessed (to be resent).",
            ["operation"],
            registry=registry,
        )
        for op in SERVED_OPERATIONS:
            self._duration.labels(op)
            self._throttled.labels(op)
            for outcome in sorted(OUTCOMES):
                self._requests.labels(op, outcome)
            for code in THROTTLE_CODES:
                self._errors.labels(op, code)
                self._retries.labels(op, code)
        for op in BATCH_OPERATIONS:
            self._unprocessed.labels(op)

    def declare_table(self, table: str, indexes: tuple[str, ...]) -> None:
        """The capacity series of `table` and its indexes, from zero (their names are the
        service's schema, known once the table is)."""
        for index in (TABLE_ITSELF, *indexes):
            self._read_units.labels(table, index)
            self._write_units.labels(table, index)

    def call_finished(
        self,
        operation: str,
        seconds: float,
        outcome: str,
        error_code: str | None,
        *,
        trace_id: str | None = None,
    ) -> None:
        op = operation_label(operation)
        result = clamp(outcome, OUTCOMES)
        exemplar = None if trace_id is None else {"trace_id": trace_id}
        self._duration.labels(op).observe(seconds, exemplar)
        self._requests.labels(op, result).inc()
        if result != "ok":
            self._errors.labels(op, error_code_label(error_code)).inc()

    def retried(self, operation: str, error_code: str) -> None:
        self._retries.labels(operation_label(operation), error_code_label(error_code)).inc()

    def throttled(self, operation: str) -> None:
        self._throttled.labels(operation_label(operation)).inc()

    def consumed(
        self, table: str, index: str | None, read_units: float, write_units: float
    ) -> None:
        # The table and index names are the service's own schema (a handful), not input.
        labels = (table, TABLE_ITSELF if index is None else index)
        # Counters refuse negative increments; DynamoDB never reports one, but a bad caller
        # must not turn a metrics call into an exception in the data path.
        if read_units > 0:
            self._read_units.labels(*labels).inc(read_units)
        if write_units > 0:
            self._write_units.labels(*labels).inc(write_units)

    def unprocessed(self, operation: str, count: int) -> None:
        if count > 0:
            self._unprocessed.labels(operation_label(operation)).inc(count)
