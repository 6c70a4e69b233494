-- What the service adds to the legacy Supabase schema (legacy.sql) for the dual-write and
-- dual-read phases. Applied by the service at start-up in those phases, under an advisory
-- lock; every statement is idempotent. legacy.sql itself is never edited.

-- Optimistic locking: the service's ETags and If-Match carry a version. Rows that predate
-- the service start at 1, which is also what the DynamoDB copies of them start at.
alter table public.categories add column if not exists version integer not null default 1;
alter table public.listings add column if not exists version integer not null default 1;

-- The transactional outbox: one row per entity a legacy write changed, inserted in the same
-- transaction as the write, deleted once DynamoDB holds that entity's current state. A row
-- names the entity only: applying it reads the entity's state from Postgres at that moment,
-- so rows may be applied late, twice or out of order and DynamoDB still ends up current.
create table if not exists public.hustlehub_outbox (
    id               bigserial primary key,
    entity           text not null check (entity in ('category', 'listing')),
    entity_id        text not null,
    attempts         integer not null default 0,
    next_attempt_at  timestamptz not null default now(),
    last_error       text not null default '',
    created_at       timestamptz not null default now()
);

create index if not exists hustlehub_outbox_due on public.hustlehub_outbox (next_attempt_at);
create index if not exists hustlehub_outbox_entity on public.hustlehub_outbox (entity);

-- Dead letters: rows that failed `migration_max_attempts` times. They stay until an operator
-- requeues them (`hustlehub migrate-phase reconcile --requeue-dead`).
create table if not exists public.hustlehub_outbox_dead (
    id          bigint primary key,
    entity      text not null,
    entity_id   text not null,
    attempts    integer not null,
    last_error  text not null,
    created_at  timestamptz not null,
    died_at     timestamptz not null default now()
);

create index if not exists hustlehub_outbox_dead_entity on public.hustlehub_outbox_dead (entity);
