"""`hustlehub`'s parser: the version, every option's help, and the `migrate` family (the
offline tool's steps, `generate`, and the legacy phases' `reconcile` and `link-users`)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from service import cli, transition


def _parsers(
    parser: argparse.ArgumentParser, path: str = "hustlehub"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


def test_version_prints_the_installed_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"hustlehub {version('hustlehub-directory')}\n"


def test_every_option_says_what_it_does_and_its_default() -> None:
    seen = 0
    for path, parser in _parsers(cli.parser()):
        formatter = parser._get_formatter()
        for action in parser._actions:
            subcommands = isinstance(action, argparse._SubParsersAction)
            if subcommands or action.default is argparse.SUPPRESS:
                continue  # the subcommands, --help, --version
            name = "/".join(action.option_strings) or action.dest
            shown = formatter._expand_help(action)
            assert action.help, f"{path} {name}: no help"
            assert "default" in shown or "(required)" in shown, f"{path} {name}: {shown!r}"
            seen += 1
    assert seen > 40


def test_the_phase_commands_are_members_of_migrate() -> None:
    top = cli.parser()
    args = top.parse_args(
        ["migrate", "reconcile", "--requeue-dead", "--all", "--prune", "B1", "--concurrency", "3"]
    )
    assert args.func is cli.cmd_migrate_reconcile
    assert (args.requeue_dead, args.all, args.prune, args.concurrency) == (True, True, "B1", 3)
    defaults = top.parse_args(["migrate", "reconcile"])
    assert (defaults.requeue_dead, defaults.all, defaults.prune, defaults.concurrency) == (
        False,
        False,
        None,
        4,
    )
    linking = top.parse_args(["migrate", "link-users", "--user-map", "subs.csv"])
    assert linking.func is cli.cmd_migrate_link_users
    assert linking.user_map == Path("subs.csv")
    generating = top.parse_args(
        ["migrate", "generate", "--dsn", "postgresql://x/y", "--users", "5"]
    )
    assert generating.func is cli.cmd_migrate_generate
    assert generating.users == 5


@pytest.mark.parametrize(
    "argv",
    [
        ["migrate-phase", "reconcile"],
        ["migrate", "reconcile", "--concurrency", "0"],
        ["migrate", "link-users"],  # the map is required
    ],
)
def test_the_parser_refuses(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.parser().parse_args(argv)
    assert done.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_the_concurrency_bound_is_the_packages() -> None:
    # The parser keeps its own copy so that building it does not import asyncpg.
    assert transition.MAX_CONCURRENCY == cli.MAX_RECONCILE_CONCURRENCY
    top = cli.parser()
    top.parse_args(["migrate", "reconcile", "--concurrency", str(transition.MAX_CONCURRENCY)])
    with pytest.raises(SystemExit):
        top.parse_args(
            ["migrate", "reconcile", "--concurrency", str(transition.MAX_CONCURRENCY + 1)]
        )


def test_the_phase_commands_need_the_legacy_dsn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUSTLEHUB_MODE", "test")
    monkeypatch.delenv("HUSTLEHUB_MIGRATION__LEGACY_DSN", raising=False)
    for argv in (["migrate", "reconcile"], ["migrate", "link-users", "--user-map", "x.csv"]):
        with pytest.raises(SystemExit) as done:
            cli.main(argv)
        assert done.value.code == "HUSTLEHUB_MIGRATION__LEGACY_DSN must name the legacy Postgres"


def test_generate_is_refused_without_an_explicit_dsn(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # HUSTLEHUB_MIGRATE_DSN names the real Supabase: generate never falls back to it.
    monkeypatch.setenv("HUSTLEHUB_MODE", "test")
    monkeypatch.setenv("HUSTLEHUB_MIGRATE_DSN", "postgresql://postgres@127.0.0.1:1/supabase")
    with pytest.raises(SystemExit) as done:
        cli.main(["migrate", "generate"])
    assert done.value.code == 2
    assert "--dsn" in capsys.readouterr().err


def test_the_phase_commands_need_no_service_secrets_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No cursor secret, no app client ids: what stops them is their own missing setting.
    monkeypatch.setenv("HUSTLEHUB_MODE", "production")
    for name in ("HUSTLEHUB_CURSOR_SECRET", "HUSTLEHUB_COGNITO_APP_CLIENT_IDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("HUSTLEHUB_MIGRATION__LEGACY_DSN", raising=False)
    with pytest.raises(SystemExit) as done:
        cli.main(["migrate", "reconcile"])
    assert done.value.code == "HUSTLEHUB_MIGRATION__LEGACY_DSN must name the legacy Postgres"
