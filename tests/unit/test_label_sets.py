"""metrics may not import service (ARCHITECTURE.md), so the bounded label sets it keeps for
the service's reasons are copies; these tests fail the moment a copy drifts."""

from metrics.auth import FAILURE_REASONS as COUNTED_REASONS
from service.auth.observer import FAILURE_REASONS


def test_every_reason_the_verifier_reports_has_its_own_series() -> None:
    # "forbidden" is reported by the HTTP layer (a valid token without the admin grant).
    assert FAILURE_REASONS | {"forbidden"} == COUNTED_REASONS
