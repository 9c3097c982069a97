"""Which database a command works on, and what it says when it cannot: only `migrate`, `serve`
and `demo` create a SQLite file; every other command needs an existing database migrated to
this package's head, and says in one line what is wrong (no traceback, no password)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from patron.cli.main import app
from patron.db.engine import normalise_url
from patron.db.migrate import head, upgrade
from tests.cli.helpers import one_line, patron, patron_script, runner, script

PG_URL = os.environ.get("PATRON_TEST_DATABASE_URL")

# Every command that reads or writes the data, with the arguments it needs.
WORKING_COMMANDS = [
    ("tenants", "list"),
    ("tenants", "list", "--json"),
    ("tenants", "create", "myshop"),
    ("keys", "list", "--tenant", "myshop"),
    ("keys", "create", "--tenant", "myshop"),
    ("keys", "revoke", "pk_abcdefg", "--tenant", "myshop"),
    ("jobs", "run"),
    ("jobs", "run", "--now", "2027-12-01"),
    ("verify-ledger",),
    ("verify-ledger", "--json"),
]
IDS = [" ".join(c) for c in WORKING_COMMANDS]


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


class TestNoFileIsCreated:
    @pytest.mark.parametrize("command", WORKING_COMMANDS, ids=IDS)
    def test_a_missing_sqlite_file_is_named_and_not_created(
        self, tmp_path: Path, command: tuple[str, ...]
    ) -> None:
        path = tmp_path / "nothing-here.db"
        result = patron(sqlite_url(path), *command)
        assert result.exit_code == 1, result.output
        assert one_line(result.stderr) == (
            f"error: no database at {path}; run `patron migrate` first "
            "(or point --database-url at an existing one)"
        )
        assert list(tmp_path.iterdir()) == []

    def test_the_default_url_in_the_working_directory_is_not_created_either(
        self, tmp_path: Path
    ) -> None:
        """As a newcomer types it: no option, no environment, in an empty folder."""
        env = {k: v for k, v in os.environ.items() if k != "PATRON_DATABASE_URL"}
        done = subprocess.run(
            [patron_script(), "tenants", "list"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1, done.stderr
        assert f"no database at {tmp_path / 'patron.db'}" in done.stderr
        assert "Traceback" not in done.stderr
        assert list(tmp_path.iterdir()) == []

    def test_serve_without_migrating_does_not_create_it(self, tmp_path: Path) -> None:
        path = tmp_path / "nothing-here.db"
        done = script("serve", "--no-migrate", "--database-url", sqlite_url(path), timeout=30)
        assert done.returncode == 1, done.stderr
        assert f"no database at {path}" in one_line(done.stderr)
        assert list(tmp_path.iterdir()) == []

    def test_migrate_creates_it_and_then_the_commands_work(self, tmp_path: Path) -> None:
        url = sqlite_url(tmp_path / "new.db")
        migrated = patron(url, "migrate")
        assert migrated.exit_code == 0, migrated.output
        assert f"is up to date, at revision {head()} (migrated from an empty database)" in (
            " ".join(migrated.stdout.split())
        )
        assert patron(url, "tenants", "create", "myshop").exit_code == 0
        listed = patron(url, "tenants", "list")
        assert listed.stdout.splitlines()[1].startswith("myshop\t")
        again = patron(url, "migrate")
        assert again.exit_code == 0 and "(migrated from" not in again.stdout

    def test_migrate_names_a_missing_folder(self, tmp_path: Path) -> None:
        result = patron(sqlite_url(tmp_path / "no" / "such" / "x.db"), "migrate")
        assert result.exit_code == 1, result.output
        assert f"no folder {tmp_path / 'no' / 'such'}" in one_line(result.stderr)


class TestNotMigrated:
    @pytest.mark.parametrize("command", WORKING_COMMANDS, ids=IDS)
    def test_an_empty_sqlite_file_is_not_migrated(
        self, tmp_path: Path, command: tuple[str, ...]
    ) -> None:
        path = tmp_path / "empty.db"
        path.touch()
        url = sqlite_url(path)
        result = patron(url, *command)
        assert result.exit_code == 1, result.output
        assert one_line(result.stderr) == (
            f"error: the database at {url} is not migrated (at none, this package needs "
            f"{head()}): run `patron migrate`"
        )

    def test_an_older_revision_is_named(self, tmp_path: Path) -> None:
        url = sqlite_url(tmp_path / "old.db")
        upgrade(url, "0003")
        result = patron(url, "tenants", "list")
        assert result.exit_code == 1, result.output
        assert f"is not migrated (at 0003, this package needs {head()})" in one_line(result.stderr)
        assert patron(url, "migrate").exit_code == 0
        assert patron(url, "tenants", "list").exit_code == 0

    def test_a_revision_this_package_does_not_know_asks_for_a_newer_patron(
        self, tmp_path: Path
    ) -> None:
        url = sqlite_url(tmp_path / "future.db")
        upgrade(url)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
        engine.dispose()
        for command in (("tenants", "list"), ("migrate",)):
            result = patron(url, *command)
            assert result.exit_code == 1, result.output
            assert "is at revision 0999, which this package does not know" in one_line(
                result.stderr
            )

    @pytest.mark.postgres
    @pytest.mark.parametrize("command", WORKING_COMMANDS, ids=IDS)
    def test_a_postgres_database_without_the_schema(
        self, empty_postgres: str, command: tuple[str, ...]
    ) -> None:
        result = patron(empty_postgres, *command)
        assert result.exit_code == 1, result.output
        hidden = make_url(empty_postgres).render_as_string(hide_password=True)
        assert one_line(result.stderr) == (
            f"error: the database at {hidden} is not migrated (at none, this package needs "
            f"{head()}): run `patron migrate`"
        )
        assert "s3cret-pw" not in result.output

    @pytest.mark.postgres
    def test_a_postgres_database_at_an_older_revision(self, empty_postgres: str) -> None:
        upgrade(empty_postgres, "0002")
        result = patron(empty_postgres, "verify-ledger")
        assert result.exit_code == 1, result.output
        assert f"(at 0002, this package needs {head()})" in one_line(result.stderr)
        migrated = patron(empty_postgres, "migrate")
        assert migrated.exit_code == 0, migrated.output
        assert "(migrated from 0002)" in migrated.stdout
        assert "s3cret-pw" not in migrated.output
        assert patron(empty_postgres, "verify-ledger").exit_code == 0


class TestUnreachable:
    URL = "postgresql://patron:s3cret-pw@127.0.0.1:1/patron"

    @pytest.mark.parametrize("command", [*WORKING_COMMANDS, ("migrate",)], ids=[*IDS, "migrate"])
    def test_a_server_that_does_not_answer(self, command: tuple[str, ...]) -> None:
        result = patron(self.URL, *command)
        assert result.exit_code == 1, result.output
        line = one_line(result.stderr)
        assert line.startswith(
            "error: cannot connect to the database at postgresql://patron:***@127.0.0.1:1/patron: "
        )
        assert "s3cret-pw" not in result.output

    @pytest.mark.postgres
    def test_a_database_that_does_not_exist(self) -> None:
        assert PG_URL
        url = make_url(normalise_url(PG_URL)).set(database="patron_no_such_db")
        shown = url.render_as_string(hide_password=True)
        result = patron(url.render_as_string(hide_password=False), "tenants", "list")
        assert result.exit_code == 1, result.output
        line = one_line(result.stderr)
        assert f"cannot connect to the database at {shown}" in line
        assert 'database "patron_no_such_db" does not exist' in line

    def test_as_a_shell_sees_it(self) -> None:
        """The installed script: one line on stderr, nothing on stdout, status 1."""
        done = script("verify-ledger", "--database-url", self.URL)
        assert done.returncode == 1
        assert done.stdout == ""
        assert one_line(done.stderr).startswith("error: cannot connect to the database")


class TestBadUrls:
    @pytest.mark.parametrize(
        ("url", "says"),
        [
            ("not a url", "the database URL is not a URL"),
            ("mysql://u:s3cret-pw@localhost/db", "Patron runs on SQLite or PostgreSQL, not mysql"),
            (
                "oracle://u:s3cret-pw@localhost/db",
                "Patron runs on SQLite or PostgreSQL, not oracle",
            ),
        ],
    )
    def test_a_url_patron_cannot_use_is_bad_input(self, url: str, says: str) -> None:
        for command in (("tenants", "list"), ("migrate",)):
            result = patron(url, *command)
            assert result.exit_code == 2, result.output
            assert says in one_line(result.stderr)
            assert "s3cret-pw" not in result.output

    def test_the_environment_variable_is_used_when_no_option_is_given(self, tmp_path: Path) -> None:
        path = tmp_path / "from-env.db"
        result = runner.invoke(
            app, ["tenants", "list"], env={"PATRON_DATABASE_URL": sqlite_url(path)}
        )
        assert result.exit_code == 1
        assert f"no database at {path}" in result.stderr
