"""Secrets for a Lambda function, handed over the way ECS hands them to a task.

An ECS task definition names its secrets, and the agent puts their values into the
container's environment before the process starts. Lambda has no such field, so the
function's environment carries `SECRET_ARNS`, a JSON object from a variable's name to the ARN
of the Secrets Manager secret that holds its value, and `resolve` does what the agent does:
reads each secret and sets the variable, after which `Settings()` reads it like any other.

Read at the start of every invocation rather than cached in the container: a sign-up is rare,
a call costs milliseconds of the trigger's 5 s, and a rotated secret is used at once. Preferred
to the Parameters and Secrets extension, which needs a layer whose ARN differs by region and
architecture, and which the code would still have to call over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping

from aiobotocore.session import get_session

SECRET_ARNS = "SECRET_ARNS"  # noqa: S105 - the name of a variable of ARNs, not a secret


def wanted(raw: str) -> dict[str, str]:
    """The variables `SECRET_ARNS` names, each with its secret's ARN."""
    if not raw.strip():
        return {}
    parsed = json.loads(raw)
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.startswith("arn:")
        for k, v in parsed.items()
    ):
        raise ValueError(f"{SECRET_ARNS} must be a JSON object of variable names to ARNs")
    return parsed


def _region(arn: str) -> str:
    # arn:<partition>:secretsmanager:<region>:<account>:secret:<name>
    return arn.split(":")[3]


async def resolve(environ: MutableMapping[str, str]) -> None:
    """Set every variable `SECRET_ARNS` names to its secret's current value."""
    session = get_session()
    for name, arn in wanted(environ.get(SECRET_ARNS, "")).items():
        async with session.create_client("secretsmanager", region_name=_region(arn)) as client:
            answer = await client.get_secret_value(SecretId=arn)
        environ[name] = answer["SecretString"]
