"""Fixtures: a real `strongroom server` on a free port with its own data dir,
and API keys issued through the real CLI, as an operator would."""
import os
import re
import subprocess
import tempfile

import pytest

BIN = os.environ.get("STRONGROOM_BIN", "target/debug/strongroom")


def _env(data_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    env.update(STRONGROOM_DATA_DIR=data_dir, STRONGROOM_SERVER_LISTEN="127.0.0.1:0")
    # Tests send requests as fast as they can from one address; the tests of
    # rate limits set their own.
    env.update(STRONGROOM_RATELIMIT_PER_ADDRESS_PER_SECOND="0", STRONGROOM_RATELIMIT_PER_USER_PER_SECOND="0")
    return env


class Server:
    def __init__(self, **settings):
        self.home = tempfile.TemporaryDirectory()
        self.data_dir = os.path.join(self.home.name, "data")
        self.settings = {f"STRONGROOM_{name.upper()}": str(value) for name, value in settings.items()}
        self.log = open(os.path.join(self.home.name, "stderr.log"), "w+")
        self.process = subprocess.Popen([BIN, "server"], env=self.env(), stdout=subprocess.PIPE,
                                        stderr=self.log, stdin=subprocess.DEVNULL, text=True)
        for line in self.process.stdout:
            match = re.search(r" listening on (\S+)", line)
            if match:
                self.url = match.group(1)
                break
        else:
            raise RuntimeError("strongroom server did not start: " + self.logs())

    def env(self):
        return {**_env(self.data_dir), **self.settings}

    def cli(self, *args, stdin=None):
        result = subprocess.run([BIN, *args], env=self.env(), capture_output=True, text=True, check=True, input=stdin)
        return result.stdout.strip()

    def api_key(self, *scopes):
        args = ["apikey", "create", "--name", "hvac"]
        for scope in scopes:
            args += ["--scope", scope]
        return self.cli(*args)

    def logs(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.home.cleanup()


@pytest.fixture
def server():
    instance = Server()
    yield instance
    instance.stop()


@pytest.fixture
def make_server():
    """A server with settings (`identity_access_token_seconds=2` sets STRONGROOM_IDENTITY_ACCESS_TOKEN_SECONDS)."""
    started = []

    def make(**settings):
        started.append(Server(**settings))
        return started[-1]

    yield make
    for instance in started:
        instance.stop()
