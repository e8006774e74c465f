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
    return env


class Server:
    def __init__(self):
        self.home = tempfile.TemporaryDirectory()
        self.data_dir = os.path.join(self.home.name, "data")
        self.log = open(os.path.join(self.home.name, "stderr.log"), "w+")
        self.process = subprocess.Popen([BIN, "server"], env=_env(self.data_dir), stdout=subprocess.PIPE,
                                        stderr=self.log, stdin=subprocess.DEVNULL, text=True)
        for line in self.process.stdout:
            match = re.search(r" listening on (\S+)", line)
            if match:
                self.url = match.group(1)
                break
        else:
            raise RuntimeError("strongroom server did not start: " + self.logs())

    def cli(self, *args):
        result = subprocess.run([BIN, *args], env=_env(self.data_dir), capture_output=True, text=True, check=True)
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
