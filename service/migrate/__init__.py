"""The move from the legacy Supabase (Postgres) backend to the single DynamoDB table."""
