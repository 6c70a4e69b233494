"""The client wrapper: every DynamoDB data call goes through `Table.call`.

It retries what is worth retrying (throttles, transient server errors, connection failures,
transactions cancelled only by conflicts or throttles) with exponential backoff and full jitter
inside one deadline, reports to the StoreObserver, and translates botocore errors exactly once,
with the botocore error chained as `__cause__`.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from botocore import xform_name
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer
from types_aiobotocore_dynamodb import DynamoDBClient

from metrics import waits
from service.config import Settings
from service.errors import ItemTooLarge, StoreError, StoreUnavailable
from service.store import changes, keys
from service.store.codec import ITEM_LIMIT_BYTES, Item, item_size
from service.store.observer import StoreObserver

Operation = Literal[
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "TransactGetItems",
    "DescribeTable",
]
_MULTI_TABLE: frozenset[str] = frozenset(
    {"BatchGetItem", "BatchWriteItem", "TransactWriteItems", "TransactGetItems"}
)
_READS: frozenset[str] = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
THROTTLES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
_TRANSIENT = THROTTLES | {"InternalServerError", "ServiceUnavailable"}
# A transaction cancelled only because of these can simply be run again; ClientRequestToken
# makes the rerun idempotent should an earlier attempt have committed after all.
_RETRYABLE_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)
_TIMEOUTS = frozenset({"Timeout", "ReadTimeoutError", "ConnectTimeoutError"})
DEFAULT_MAX_ATTEMPTS = 10


class ConditionFailed(StoreError):
    """A single-item condition failed; `old_item` is set when ALL_OLD was requested."""

    def __init__(self, old_item: Item | None) -> None:
        super().__init__("condition failed", code="ConditionalCheckFailedException")
        self.old_item = old_item


@dataclass(frozen=True, slots=True)
class CancellationReason:
    code: str
    item: Item | None = None


class TransactionCancelled(StoreError):
    """One reason per transaction item, in request order ("None" for items that passed)."""

    def __init__(self, reasons: tuple[CancellationReason, ...]) -> None:
        codes = ", ".join(reason.code for reason in reasons)
        super().__init__(f"transaction cancelled [{codes}]", code="TransactionCanceledException")
        self.reasons = reasons


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def cancellation_reasons(exc: ClientError) -> tuple[CancellationReason, ...]:
    raw: Any = exc.response.get("CancellationReasons")
    if isinstance(raw, list):
        return tuple(CancellationReason(str(r.get("Code", "None")), r.get("Item")) for r in raw)
    # Some emulators only put the reasons in the message: "... reasons [None, ConditionalCheck...]"
    found = re.search(r"\[([^\]]*)\]", str(exc.response.get("Error", {}).get("Message", "")))
    codes = found.group(1).split(",") if found else []
    return tuple(CancellationReason(code.strip() or "None") for code in codes)


def _retryable_cancel(reasons: tuple[CancellationReason, ...]) -> bool:
    codes = {reason.code for reason in reasons} - {"None"}
    return bool(codes) and codes <= _RETRYABLE_REASONS


def _code_of(exc: BaseException) -> str:
    return error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__


def _outcome(code: str) -> str:
    if code in THROTTLES:
        return "throttled"
    return "timeout" if code in _TIMEOUTS else "error"


_ANSWERS = frozenset({"ConditionalCheckFailedException", "TransactionCanceledException"})


class Table:
    def __init__(
        self,
        client: DynamoDBClient,
        name: str,
        *,
        observer: StoreObserver,
        retry_base_s: float,
        retry_cap_s: float,
        deadline_s: float,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        tracer: Tracer | None = None,
    ) -> None:
        self.client = client
        # A client span per logical call while tracing runs (service.runtime.tracing).
        self.tracer = tracer
        self.name = name
        self.observer = observer
        self.deadline_s = deadline_s
        self.max_attempts = max_attempts
        self._base = retry_base_s
        self._cap = retry_cap_s

    @classmethod
    def from_settings(
        cls,
        client: DynamoDBClient,
        settings: Settings,
        *,
        observer: StoreObserver,
        tracer: Tracer | None = None,
    ) -> Table:
        return cls(
            client,
            settings.table_name,
            observer=observer,
            tracer=tracer,
            retry_base_s=settings.dynamodb_retry_base_s,
            retry_cap_s=settings.dynamodb_retry_cap_s,
            deadline_s=settings.dynamodb_call_deadline_s,
        )

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt))."""
        return random.uniform(0, min(self._cap, self._base * 2 ** min(attempt, 30)))

    def check_size(self, item: Item, operation: str) -> None:
        """Refuse (ItemTooLarge) and count an item DynamoDB would refuse for its size."""
        size = item_size(item)
        if size <= ITEM_LIMIT_BYTES:
            return
        self.observer.call_finished(operation, 0.0, "refused", ItemTooLarge.__name__)
        pk, sk = item.get(keys.PK, {}).get("S", ""), item.get(keys.SK, {}).get("S", "")
        what = (keys.kind_of(pk, sk) or "item").lower()
        raise ItemTooLarge(what, size, ITEM_LIMIT_BYTES)

    async def call(self, operation: Operation, **kwargs: Any) -> dict[str, Any]:
        tracer = self.tracer
        if tracer is None:
            return await self._call(operation, kwargs, None)
        # The OpenTelemetry semantic conventions' names for an AWS SDK call to DynamoDB.
        attributes = {
            "rpc.system": "aws-api",
            "rpc.service": "DynamoDB",
            "rpc.method": operation,
            "db.system": "dynamodb",
            "aws.dynamodb.table_names": [self.name],
        }
        with tracer.start_as_current_span(
            f"DynamoDB.{operation}", kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            return await self._call(operation, kwargs, span)

    async def _call(
        self, operation: Operation, kwargs: dict[str, Any], span: Span | None
    ) -> dict[str, Any]:
        for item in _put_items(operation, kwargs):
            self.check_size(item, operation)
        change = changes.active()
        if change is not None:
            kwargs = change.stamped(operation, kwargs)
        if operation not in _MULTI_TABLE:
            kwargs.setdefault("TableName", self.name)
        if operation != "DescribeTable":
            kwargs.setdefault("ReturnConsumedCapacity", "INDEXES")
        if operation == "TransactWriteItems":
            kwargs.setdefault("ClientRequestToken", random.randbytes(16).hex())
        method: Callable[..., Awaitable[dict[str, Any]]] = getattr(
            self.client, xform_name(operation)
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        last: list[BaseException] = []
        trace_id = None if span is None else _sampled_trace(span)
        try:
            async with asyncio.timeout(self.deadline_s):
                response = await self._attempts(operation, method, kwargs, started, last)
        except TimeoutError as exc:
            waits.add(loop.time() - started)
            if span is not None:
                _failed(span, retries=len(last), code=_code_of(last[-1]) if last else "Timeout")
            # The deadline can pass during an attempt that follows failed ones (a slow answer
            # to the fourth try after three throttles): the failures are the cause, and what
            # the metrics and the caller should see, not the clock that ended the retries.
            code = _code_of(last[-1]) if last else "Timeout"
            outcome = _outcome(code) if last else "timeout"
            self.observer.call_finished(
                operation, loop.time() - started, outcome, code, trace_id=trace_id
            )
            raise StoreUnavailable(
                f"DynamoDB {operation} passed its {self.deadline_s} s deadline ({code})",
                code=code,
            ) from (last[-1] if last else exc)
        except StoreError as exc:
            waits.add(loop.time() - started)
            if span is not None:
                # Retries ran out (every attempt failed), or an attempt failed for good.
                gave_up = isinstance(exc, StoreUnavailable)
                _failed(
                    span, retries=max(len(last) - 1, 0) if gave_up else len(last), code=exc.code
                )
            self.observer.call_finished(
                operation, loop.time() - started, _outcome(exc.code), exc.code, trace_id=trace_id
            )
            raise
        waits.add(loop.time() - started)
        self.observer.call_finished(operation, loop.time() - started, "ok", None, trace_id=trace_id)
        self._report_capacity(operation, response.get("ConsumedCapacity"))
        if span is not None:
            span.set_attribute("aws.dynamodb.retries", len(last))
            consumed = response.get("ConsumedCapacity")
            if consumed:
                entries = consumed if isinstance(consumed, list) else [consumed]
                span.set_attribute(
                    "aws.dynamodb.consumed_capacity",
                    [json.dumps(entry, default=str, sort_keys=True) for entry in entries],
                )
        if change is not None:
            change.committed(operation, kwargs)
        return response

    async def _attempts(
        self,
        operation: str,
        method: Callable[..., Awaitable[dict[str, Any]]],
        kwargs: dict[str, Any],
        started: float,
        last: list[BaseException],
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        for attempt in range(1, self.max_attempts + 1):
            try:
                return await method(**kwargs)
            except ClientError as exc:
                code = self._retryable_code(operation, exc)
                last.append(exc)
            except (BotoConnectionError, HTTPClientError) as exc:
                code = type(exc).__name__
                last.append(exc)
            delay = self.backoff(attempt)
            # Sleeping past the deadline only to be cancelled would hide the real cause.
            if attempt == self.max_attempts or loop.time() + delay >= started + self.deadline_s:
                break
            self.observer.retried(operation, code)
            await asyncio.sleep(delay)
        raise StoreUnavailable(f"DynamoDB {operation} failed: {code}", code=code) from last[-1]

    def _retryable_code(self, operation: str, exc: ClientError) -> str:
        """The error code when `exc` is worth another attempt; otherwise raise it, translated."""
        code = error_code(exc)
        if code in THROTTLES:
            self.observer.throttled(operation)
            return code
        if code in _TRANSIENT:
            return code
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
            # A server error with no AWS code (a proxy or an emulator failing) is as transient
            # as InternalServerError; retrying inside the deadline is the right answer.
            return "ServerError"
        if code == "TransactionCanceledException":
            reasons = cancellation_reasons(exc)
            if _retryable_cancel(reasons):
                return "TransactionConflict"
            raise TransactionCancelled(reasons) from exc
        if code == "ConditionalCheckFailedException":
            old: Any = exc.response.get("Item")
            raise ConditionFailed(old) from exc
        raise StoreError(f"DynamoDB {operation} failed: {code}", code=code) from exc

    def _report_capacity(self, operation: str, consumed: object) -> None:
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        reads = operation in _READS
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            table = str(entry.get("TableName", self.name))
            part = entry.get("Table") or {"CapacityUnits": entry.get("CapacityUnits", 0.0)}
            self.observer.consumed(table, None, *_units(part, reads=reads))
            for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
                for index, units in (entry.get(kind) or {}).items():
                    self.observer.consumed(table, str(index), *_units(units, reads=reads))


def _sampled_trace(span: Span) -> str | None:
    """The span's trace id in hex when it is sampled, for the latency's exemplar: an unsampled
    trace is exported nowhere, so an exemplar naming it would lead nowhere."""
    context = span.get_span_context()
    return format(context.trace_id, "032x") if context.trace_flags.sampled else None


def _failed(span: Span, *, retries: int, code: str | None) -> None:
    span.set_attribute("aws.dynamodb.retries", retries)
    if code:
        span.set_attribute("aws.dynamodb.error_code", code)
    # A failed condition is an answer (a 409, a 412), not a failure of the call.
    if code not in _ANSWERS:
        span.set_status(StatusCode.ERROR, code)


def _put_items(operation: str, kwargs: Mapping[str, Any]) -> list[Item]:
    """The whole items a write request puts (an update's result is checked by its store)."""
    if operation == "PutItem":
        return [kwargs["Item"]]
    if operation == "TransactWriteItems":
        return [entry["Put"]["Item"] for entry in kwargs["TransactItems"] if "Put" in entry]
    if operation == "BatchWriteItem":
        return [
            request["PutRequest"]["Item"]
            for requests in kwargs["RequestItems"].values()
            for request in requests
            if "PutRequest" in request
        ]
    return []


def _units(part: Mapping[str, Any], *, reads: bool) -> tuple[float, float]:
    read = part.get("ReadCapacityUnits")
    write = part.get("WriteCapacityUnits")
    if read is None and write is None:
        total = float(part.get("CapacityUnits", 0.0))
        return (total, 0.0) if reads else (0.0, total)
    return float(read or 0.0), float(write or 0.0)
