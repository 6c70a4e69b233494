"""Control-flow exceptions stay outside the error hierarchy: one that escaped the store that
raises it must be an unhandled 500, never taken for an error with a status of its own."""

from __future__ import annotations

import functools
import importlib
import logging
import pkgutil

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

import service
from service.api.endpoint import translate
from service.api.problems import STATUS_BY_ERROR
from service.errors import ServiceError
from service.store.txn import ControlFlow


@functools.cache
def _import_the_service() -> None:
    # Every module, so that no subclass is missed (`__main__` would run the CLI).
    for module in pkgutil.walk_packages(service.__path__, f"{service.__name__}."):
        if not module.name.endswith(".__main__"):
            importlib.import_module(module.name)


def _every_subclass(root: type[Exception]) -> list[type[Exception]]:
    _import_the_service()
    found: list[type[Exception]] = []
    pending = [root]
    while pending:
        for cls in pending.pop().__subclasses__():
            found.append(cls)
            pending.append(cls)
    return found


def test_no_control_flow_exception_is_a_service_error() -> None:
    signals = _every_subclass(ControlFlow)
    assert {"StaleRead", "_Unchanged", "_AlreadySaved"} <= {cls.__name__ for cls in signals}
    assert [cls for cls in signals if issubclass(cls, ServiceError)] == []


def test_every_service_error_is_public_and_has_a_status() -> None:
    # A private ServiceError is a control-flow signal in disguise; one without a row in the
    # status table would leave as a 500 that no one meant.
    errors = _every_subclass(ServiceError)
    assert [cls for cls in errors if cls.__name__.startswith("_")] == []
    unmapped = [
        cls for cls in errors if not any(issubclass(cls, row[0]) for row in STATUS_BY_ERROR)
    ]
    assert unmapped == []


@pytest.mark.parametrize("signal", _every_subclass(ControlFlow), ids=lambda cls: cls.__name__)
def test_an_escaped_control_flow_exception_is_an_unhandled_500(
    signal: type[ControlFlow], caplog: pytest.LogCaptureFixture
) -> None:
    request = make_mocked_request("PUT", "/v1/me/favourites/x", app=web.Application())
    with caplog.at_level(logging.ERROR, logger="service.api.endpoint"):
        response = translate(request, signal())
    assert isinstance(response, web.Response)
    assert response.status == 500
    assert isinstance(response.body, bytes)
    assert orjson.loads(response.body)["detail"] == "an unexpected error occurred"
    assert "unhandled error" in caplog.text
