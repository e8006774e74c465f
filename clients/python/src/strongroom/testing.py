"""A real Strongroom server for an application's own tests.

    from strongroom.testing import LocalServer

    @pytest.fixture
    def strongroom():
        with LocalServer() as server:
            yield server

    def test_export(strongroom):
        key = strongroom.api_key("audit:write")
        ...

It runs the ``strongroom`` binary (``$STRONGROOM_BIN``, else ``strongroom`` on
``PATH``) with its own data directory on a free port, provisions users and
keys through the binary's CLI the way an operator does, and removes
everything when it stops. Settings are the server's configuration keys
(``identity_access_token_seconds=2`` sets ``STRONGROOM_IDENTITY_ACCESS_TOKEN_SECONDS``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

__all__ = ["LocalServer"]


def _binary() -> str:
    found = os.environ.get("STRONGROOM_BIN") or shutil.which("strongroom")
    if not found:
        raise RuntimeError("set STRONGROOM_BIN to the strongroom binary (or put it on PATH)")
    return found


class LocalServer:
    """``strongroom server`` in a temporary data directory."""

    def __init__(self, binary: str | None = None, **settings: object) -> None:
        self.binary = binary or _binary()
        self._home = tempfile.TemporaryDirectory(prefix="strongroom-")
        self.data_dir = Path(self._home.name) / "data"
        self.settings = {f"STRONGROOM_{name.upper()}": str(value) for name, value in settings.items()}
        self._log_path = Path(self._home.name) / "server.log"
        self._log = self._log_path.open("w+")
        self.process = subprocess.Popen(  # noqa: S603 - the binary the test names
            [self.binary, "server"],
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            match = re.search(r" listening on (\S+)", line)
            if match:
                self.url: str = match.group(1)
                break
        else:
            self.stop()
            raise RuntimeError("strongroom server did not start:\n" + self.logs())

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
        env.update(STRONGROOM_DATA_DIR=str(self.data_dir), STRONGROOM_SERVER_LISTEN="127.0.0.1:0")
        # A test suite sends requests as fast as it can from one address:
        # no per-address or per-user limits unless the test sets them.
        env.update(STRONGROOM_RATELIMIT_PER_ADDRESS_PER_SECOND="0", STRONGROOM_RATELIMIT_PER_USER_PER_SECOND="0")
        env.update(self.settings)
        return env

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """Runs ``strongroom <args>`` against this server's data and returns its output."""
        result = subprocess.run(  # noqa: S603
            [self.binary, *args], env=self.env(), capture_output=True, text=True, input=stdin, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"strongroom {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def api_key(self, *scopes: str, name: str = "test") -> str:
        """A new API key with ``scopes``, issued through the CLI."""
        args = ["apikey", "create", "--name", name]
        for scope in scopes:
            args += ["--scope", scope]
        return self.cli(*args)

    def init(self, password: str, username: str = "admin") -> None:
        """The first administrator (``strongroom init``), as an operator creates it."""
        self.cli("init", "--username", username, "--password-stdin", stdin=password + "\n")

    def create_user(self, username: str, password: str, *roles: str) -> str:
        """A user with ``roles`` (default ``reader``), created through the CLI; returns the CLI's output."""
        args = ["user", "create", "--username", username, "--email", f"{username}@example.test", "--password-stdin"]
        for role in roles or ("reader",):
            args += ["--role", role]
        return self.cli(*args, stdin=password + "\n")

    def logs(self) -> str:
        self._log.flush()
        return self._log_path.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()
        self._home.cleanup()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
