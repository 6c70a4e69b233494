"""The AWS deployment as a CDK app (aws-cdk-lib, cdk-nag): `app.py` is its entry point."""
