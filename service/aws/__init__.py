"""The AWS side as CloudFormation, generated: `hustlehub infra-template` prints the stack.

`template.py` assembles it from the table definition (`service.store.schema`), the sign-up
resources (`signup.py`) and the IAM policies (`iam.py`)."""
