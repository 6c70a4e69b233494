"""The DynamoDB data access layer over the single table (see TABLE.md)."""
