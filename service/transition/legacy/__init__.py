"""The legacy Supabase (Postgres) repositories, used during the migration's first two phases."""
