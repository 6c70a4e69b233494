"""The AWS side: the post-confirmation Lambda (`registration.py`, with `trigger.py` and
`envsecrets.py`), the IAM action sets (`iam.py`), and the deployment as a CDK app (`infra/`,
which needs the `infra` extra and is imported by nothing the service runs)."""
