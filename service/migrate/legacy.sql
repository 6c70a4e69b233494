-- The legacy Supabase (Postgres) schema the directory is migrated from, as a Supabase project
-- lays it out: sign-in identities in `auth.users` (owned by Supabase Auth), the app's own
-- tables in `public`, profiles keyed by the auth user id, uuid ids everywhere.
-- Every statement is idempotent so the generator and the tests can apply it to a fresh
-- database or schema more than once.

create extension if not exists pgcrypto;

create schema if not exists auth;

create table if not exists auth.users (
    id          uuid primary key default gen_random_uuid(),
    email       text not null unique,
    created_at  timestamptz not null default now()
);

create table if not exists public.profiles (
    id            uuid primary key references auth.users (id) on delete cascade,
    email         text not null,
    display_name  text not null default '',
    is_admin      boolean not null default false,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now()
);

create table if not exists public.categories (
    id           uuid primary key default gen_random_uuid(),
    slug         text not null unique check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 80),
    name         text not null,
    description  text not null default '',
    sort_order   integer not null default 0 check (sort_order between 0 and 999999),
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);

create table if not exists public.listings (
    id               uuid primary key default gen_random_uuid(),
    slug             text not null unique check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 80),
    title            text not null,
    summary          text not null default '',
    description      text not null default '',
    category_id      uuid not null references public.categories (id) on delete restrict,
    location         text not null default '',
    remote           boolean not null default false,
    skills           text[] not null default '{}',
    income_min       integer not null check (income_min >= 0),
    income_max       integer not null check (income_max >= income_min),
    income_currency  char(3) not null default 'USD',
    income_period    text not null default 'month'
                     check (income_period in ('hour', 'day', 'week', 'month', 'year', 'project')),
    url              text,
    image_url        text,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now()
);

create index if not exists listings_category_created
    on public.listings (category_id, created_at desc);

create table if not exists public.favorites (
    user_id     uuid not null references public.profiles (id) on delete cascade,
    listing_id  uuid not null references public.listings (id) on delete cascade,
    created_at  timestamptz not null default now(),
    primary key (user_id, listing_id)
);

create index if not exists favorites_listing on public.favorites (listing_id);
