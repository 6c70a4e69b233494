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
    entity           text not null,
    entity_id        text not null,
    attempts         integer not null default 0,
    next_attempt_at  timestamptz not null default now(),
    last_error       text not null default '',
    created_at       timestamptz not null default now()
);

-- A database that predates users, favourites and audit events in the outbox has a narrower
-- check. Only then is the table altered: ALTER TABLE waits for every lock on it, and a running
-- instance's reconciler holds row locks for a whole round.
do $$
begin
    if not exists (
        select 1 from pg_constraint
        where conrelid = 'public.hustlehub_outbox'::regclass
          and conname = 'hustlehub_outbox_entity_check'
          and pg_get_constraintdef(oid) like '%audit%'
    ) then
        alter table public.hustlehub_outbox drop constraint if exists hustlehub_outbox_entity_check;
        alter table public.hustlehub_outbox add constraint hustlehub_outbox_entity_check
            check (entity in ('category', 'listing', 'user', 'favourite', 'audit'));
    end if;
end
$$;

create index if not exists hustlehub_outbox_due on public.hustlehub_outbox (next_attempt_at);
create index if not exists hustlehub_outbox_entity on public.hustlehub_outbox (entity);

-- Dead letters: rows that failed `HUSTLEHUB_MIGRATION__MAX_ATTEMPTS` times. They stay until an
-- operator requeues them (`hustlehub migrate reconcile --requeue-dead`).
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

-- Who a Cognito user is in Supabase. Profiles and favourites are keyed by the Supabase user id;
-- the service knows the caller's Cognito sub. Filled from the transform's user mapping
-- (`hustlehub migrate link-users`) before the first legacy phase starts, and by the
-- service for a sub it meets unlinked: it claims the unlinked Supabase user with the same
-- (Cognito-confirmed) email, or adds a new auth.users row.
create table if not exists public.hustlehub_identities (
    sub      text primary key,
    user_id  uuid not null unique references auth.users (id) on delete cascade
);

-- Admin grants by sub: the API may grant a sub that has no profile yet, which
-- profiles.is_admin cannot hold. This table is the truth in the legacy phases;
-- profiles.is_admin is kept equal to it for every linked user, so a return to Supabase keeps
-- the grants made meanwhile.
create table if not exists public.hustlehub_admins (
    sub         text primary key,
    granted_at  timestamptz not null,
    granted_by  text not null
);

-- Audit events of the writes made in the legacy phases, inserted in the write's transaction
-- and carried to DynamoDB (where the audit log is read) by the outbox. Never updated.
create table if not exists public.hustlehub_audit (
    id           text primary key,
    at           timestamptz not null,
    actor        text not null,
    action       text not null,
    entity_type  text not null,
    entity_id    text not null,
    version      integer
);
