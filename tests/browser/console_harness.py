"""The harness of the console's browser tests: a real `strongroom server`
(the black-box tests' `Server`, tests/python/conftest.py), users with a
password and an enrolled TOTP made through the real API, Debian's chromium
driven by Selenium through chromium-driver, screenshots, and the checks every
page gets. Nothing here prints a secret: passwords, TOTP secrets and codes,
cookies, form tokens and sign-in challenges stay out of messages."""

import os

# Selenium Manager never goes to the network: the browser and its driver are Debian's.
os.environ["SE_OFFLINE"] = "true"

import array
import base64
import hashlib
import hmac
import importlib.util
import io
import itertools
import json
import math
import re
import struct
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import wave
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PASSWORD = "correct horse battery staple"
COOKIE = "__Host-strongroom"
# The desktop and the phone the screenshots are taken at (viewport, CSS pixels).
SIZES = ((1280, 800), (390, 844))
WAIT_SECONDS = 15


def _black_box_server_class():
    """`Server` of the black-box tests (tests/python/conftest.py), loaded by
    path under its own name: one way to start the binary for both suites."""
    spec = importlib.util.spec_from_file_location("strongroom_black_box_conftest", ROOT / "tests/python/conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Server


Server = _black_box_server_class()


# --- HTTP, as the tests see it from outside the browser -------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


@dataclass
class Answer:
    """An HTTP answer; its repr (in a failed assertion) is the status alone:
    bodies and headers carry tokens."""

    status: int
    headers: Message = field(repr=False)  # case-insensitive: headers["content-security-policy"]
    body: str = field(repr=False)

    def json(self):
        return json.loads(self.body)


def http(server, method, path, *, token=None, body=None, cookie=None, data=None, content_type=None):
    """One request to the server, redirects not followed: `body` is sent as
    JSON, or `data` (bytes) as `content_type`."""
    headers = {"Accept": "application/json"}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    elif data is not None:
        headers["Content-Type"] = content_type or "application/octet-stream"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if cookie is not None:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    request = urllib.request.Request(server.url + path, data=data, headers=headers, method=method)
    try:
        with _opener.open(request, timeout=30) as response:
            return Answer(response.status, response.headers, response.read().decode())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read().decode())


# --- Users: a password and an enrolled second factor ----------------------------------------------


def hotp(secret: bytes, counter: int) -> str:
    """RFC 4226: HMAC-SHA1, dynamic truncation, six digits."""
    mac = hmac.new(secret, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


@dataclass
class User:
    """A console user. `code()` gives a TOTP code (RFC 6238, 30-second steps)
    the server has not seen yet: it refuses a step at or before the last one
    it accepted and takes one step of skew either side, so a user signs in
    about twice per step; a third sign-in waits for the next step."""

    username: str
    password: str = field(repr=False)
    secret: bytes | None = field(default=None, repr=False)
    last_step: int | None = field(default=None, repr=False)
    id: str = ""  # the server's id of the user (`user:<id>` in grants)

    def code(self) -> str:
        assert self.secret is not None, f"{self.username} has no second factor"
        while True:
            now = time.time()
            current = int(now // 30)
            # The step before is taken only with time to spare: the code must arrive in its window.
            earliest = current - 1 if now % 30 < 20 else current
            step = max(earliest, self.last_step + 1) if self.last_step is not None else earliest
            if step <= current + 1:
                self.last_step = step
                return hotp(self.secret, step)
            time.sleep(30 - now % 30 + 0.2)


class Console:
    """The server under test and what tests ask of it."""

    def __init__(self, server):
        self.server = server
        self.url = server.url
        self._names = itertools.count(1)

    def page(self, path: str) -> str:
        return self.url + path

    def unique(self, prefix: str) -> str:
        """A name no other test of the session uses (`matter-7`)."""
        return f"{prefix}-{next(self._names)}"

    def user(self, *, role="admin", totp=True) -> User:
        """A new user with `role` and the test password (created with the CLI,
        as an operator would), its id read through the API, and enrolled in
        TOTP through the API as a person does it (unless `totp=False`). Its
        API session is then ended."""
        user = User(f"user{next(self._names)}", PASSWORD)
        self.server.cli(
            "user", "create", "--username", user.username, "--email", f"{user.username}@example.com",
            "--role", role, "--password-stdin", stdin=PASSWORD + "\n",
        )  # fmt: skip
        token = self.access_token(user)
        me = http(self.server, "GET", "/v1/users/me", token=token)
        assert me.status == 200, f"/v1/users/me of {user.username}: {me.status}"
        user.id = me.json()["id"]
        if totp:
            enrolment = http(self.server, "POST", "/v1/auth/totp/enroll", token=token)
            assert enrolment.status == 200, f"enrolment: {enrolment.status}"
            query = urllib.parse.urlparse(enrolment.json()["otpauth_uri"]).query
            encoded = urllib.parse.parse_qs(query)["secret"][0]
            user.secret = base64.b32decode(encoded + "=" * (-len(encoded) % 8))
            confirmed = http(self.server, "POST", "/v1/auth/totp/confirm", token=token, body={"code": user.code()})
            assert confirmed.status == 200, f"confirmation: {confirmed.status}"
        # The API's session ends: the user's sessions are then the browsers' alone.
        logout = http(self.server, "POST", "/v1/auth/logout", token=token)
        assert logout.status == 204, f"logout: {logout.status}"
        return user

    def access_token(self, user: User) -> str:
        """An API access token of `user`, who has no second factor yet (a
        password alone opens a session)."""
        login = http(self.server, "POST", "/v1/auth/login", body={"username": user.username, "password": user.password})
        assert login.status == 200, f"login of {user.username}: {login.status}"
        assert "access_token" in login.json(), f"login of {user.username} asks for more than the password"
        return login.json()["access_token"]

    def operator(self) -> "Api":
        """An administrator without a second factor who sets things up through
        the API, as an operator's script would: matters, grants, records."""
        user = self.user(role="admin", totp=False)
        return Api(self, user, self.access_token(user))


class Api:
    """The API as an administrator's script uses it, for what a test needs
    before the browser opens: an admin sees only the matters they made or
    were granted, so a matter is made with its members granted."""

    def __init__(self, console: Console, user: User, token: str):
        self.console = console
        self.user = user
        self.token = token

    def call(self, method: str, path: str, body=None, *, expect: int, data=None, content_type=None):
        answer = http(
            self.console.server, method, path, token=self.token, body=body, data=data, content_type=content_type
        )
        assert answer.status == expect, f"{method} {path}: {answer.status}, not {expect}"
        return answer.json() if answer.body else None

    def matter(self, *members: User) -> str:
        """A new matter, each of `members` granted on it; answers its id."""
        matter = self.console.unique("matter")
        self.call("POST", "/v1/matters", {"id": matter, "name": f"Matter {matter}"}, expect=201)
        for member in members:
            grant = {"principal": f"user:{member.id}", "justification": "assigned to this matter for the test"}
            self.call("POST", f"/v1/matters/{matter}/grants", grant, expect=201)
        return matter

    def interview(self, matter: str, transcribed_text: str) -> str:
        """An interview (the `interviews` template) on `matter` whose
        encrypted `transcribed_text` is `transcribed_text`; answers its id."""
        fields = {
            "user_id": "candidate-881", "consent_id": "consent-17", "timestamp": "2026-11-23T10:00:00Z",
            "transcribed_text": transcribed_text, "tokens": {"count": 14}, "embedding": [0.12, -0.5, 0.33],
            "anonymized_answer": "I left my previous employer after raising a compliance concern",
            "score": 4.5, "feedback": "clear and honest", "status": "reviewed",
        }  # fmt: skip
        record = {"matter": matter, "subject": "candidate-881", "fields": fields}
        return self.call("POST", "/v1/collections/interviews/records", record, expect=201)["id"]

    def recording(self, matter: str, audio: bytes) -> str:
        """A recording on `matter` with `audio` (a WAV) as its encrypted
        `audio` blob; answers its id."""
        record = {"matter": matter, "fields": {"title": "Deposition, witness 7", "status": "recorded"}}
        record_id = self.call("POST", "/v1/collections/recordings/records", record, expect=201)["id"]
        blob = f"/v1/collections/recordings/records/{record_id}/blobs/audio"
        stored = self.call("PUT", blob, data=audio, content_type="audio/wav", expect=201)
        assert stored["size"] == len(audio), f"stored {stored['size']} bytes of {len(audio)}"
        return record_id

    def audited(self, action: str, matter: str) -> list[dict]:
        """The audit log's events of type `action` on `matter`."""
        query = urllib.parse.urlencode({"action": action, "matter": matter, "limit": 1000})
        return [entry["event"] for entry in self.call("GET", f"/v1/audit/events?{query}", expect=200)["events"]]


def wav(seconds: float, *, rate: int = 16_000, frequency: float = 440.0) -> bytes:
    """A mono 16-bit PCM WAV of a sine tone."""
    step = 2 * math.pi * frequency / rate
    samples = array.array("h", (int(12_000 * math.sin(step * i)) for i in range(int(rate * seconds))))
    if sys.byteorder == "big":
        samples.byteswap()  # WAV is little-endian
    frames = samples.tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(rate)
        sound.writeframes(frames)
    return out.getvalue()


# --- The browser ----------------------------------------------------------------------------------


def chromium(profile: str) -> WebDriver:
    """Headless Debian chromium with its own profile (its own cookie jar)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root, as here and in CI
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={SIZES[0][0]},{SIZES[0][1]}",
        "--no-first-run",
        "--no-default-browser-check",
        # Nothing but 127.0.0.1: no background calls home, and any request
        # elsewhere goes to a proxy that is not there (loopback bypasses it).
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-pings",
        "--proxy-server=http://127.0.0.1:9",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    fit_viewport(driver, *SIZES[0])
    return driver


class Browsers:
    """Opens browsers, each with its own profile; closes them all."""

    def __init__(self):
        self.opened = []

    def open(self) -> WebDriver:
        profile = tempfile.TemporaryDirectory(prefix="strongroom-chromium-")
        try:
            driver = chromium(profile.name)
        except Exception:
            profile.cleanup()
            raise
        self.opened.append((driver, profile))
        return driver

    def close(self):
        """Quits every browser (one that fails to quit does not keep the others open)."""
        failures = []
        for driver, profile in self.opened:
            try:
                driver.quit()
            except Exception as error:
                failures.append(error)
            profile.cleanup()
        if failures:
            raise failures[0]


def describe(driver: WebDriver) -> str:
    """Where the browser is and what it shows, for an assertion's message
    (the visible text only: no hidden field, no cookie)."""
    try:
        text = driver.find_element(By.TAG_NAME, "main").text
    except Exception:
        text = driver.find_element(By.TAG_NAME, "body").text
    return f"{driver.current_url} ({driver.title!r}): {' '.join(text.split())[:300]!r}"


def path_of(driver: WebDriver) -> str:
    return urllib.parse.urlparse(driver.current_url).path


def heading(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "h1").text


def submit(driver: WebDriver, element):
    """Clicks `element` (a submit button) and waits for the next page."""
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    wait_for_next_page(driver, old)


def replaced(old):
    """A wait's condition: the element `old` no longer belongs to the page.
    While the page is being replaced, ChromeDriver may say so with an
    "unhandled inspector error" (the node's document is gone) rather than a
    stale element reference: either means the old page is gone."""

    def gone(_driver) -> bool:
        try:
            old.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return True
            raise
        return False

    return gone


def wait_for_next_page(driver: WebDriver, old):
    """Waits until the page whose root element was `old` is replaced, and the new one loaded."""
    WebDriverWait(driver, WAIT_SECONDS).until(replaced(old))
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.execute_script("return document.readyState") == "complete")


def follow(driver: WebDriver, link_text: str):
    """Clicks the link `link_text` and waits for the page it opens."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.LINK_TEXT, link_text).click()
    wait_for_next_page(driver, old)


def button(driver: WebDriver, text: str, scope=None):
    """The one button labelled `text` (in `scope`, an element, if given)."""
    found = [b for b in (scope or driver).find_elements(By.TAG_NAME, "button") if b.text.strip() == text]
    assert len(found) == 1, f"{len(found)} buttons {text!r} on {describe(driver)}"
    return found[0]


def sign_in(driver: WebDriver, console: Console, user: User):
    """Signs `user` in through the real form, in two steps: password, then the code."""
    driver.get(console.page("/console/login"))
    driver.find_element(By.ID, "username").send_keys(user.username)
    driver.find_element(By.ID, "password").send_keys(user.password)
    submit(driver, button(driver, "Sign in"))
    if user.secret is not None:
        assert driver.find_elements(By.NAME, "challenge"), f"no second step: {describe(driver)}"
        driver.find_element(By.ID, "code").send_keys(user.code())
        submit(driver, button(driver, "Sign in"))
    assert path_of(driver) == "/console", f"not signed in: {describe(driver)}"


def session_cookie(driver: WebDriver):
    """The console's cookie as the browser keeps it (None if it has none).
    Its value is a credential: never in a message."""
    return driver.get_cookie(COOKIE)


def has_session_cookie(driver: WebDriver) -> bool:
    return session_cookie(driver) is not None


def fit_viewport(driver: WebDriver, width: int, height: int):
    """Sizes the window so that the page's viewport is `width`×`height`
    (headless chromium's window has a frame, and a minimum width, around it)."""
    driver.set_window_size(width, height)
    inner_width, inner_height = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    if (inner_width, inner_height) != (width, height):
        driver.set_window_size(2 * width - inner_width, 2 * height - inner_height)


def screenshot_dir() -> Path:
    """`browser-screenshots/` in cargo's target directory (CARGO_TARGET_DIR, or target/)."""
    target = os.environ.get("CARGO_TARGET_DIR")
    directory = (Path(target) if target else ROOT / "target") / "browser-screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def shot(driver: WebDriver, name: str, *, show=None):
    """Screenshots the page at the desktop's and the phone's width
    (`<name>-1280.png`, `<name>-390.png`), then puts the window back. With
    `show` (an element), the page is scrolled to it first at each width."""
    directory = screenshot_dir()
    before = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    for width, height in SIZES:
        fit_viewport(driver, width, height)
        if show is not None:
            driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", show)
        driver.save_screenshot(str(directory / f"{name}-{width}.png"))
    fit_viewport(driver, *before)
    if show is not None:
        driver.execute_script("window.scrollTo(0, 0)")


def horizontal_overflow(driver: WebDriver) -> int:
    """How many CSS pixels the page is wider than its viewport."""
    return driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")


# Errors every page may log, each with why: none (the console serves its
# own icon, so Chromium does not ask for /favicon.ico).
KNOWN_BROWSER_ERRORS: tuple[str, ...] = ()


def assert_no_browser_errors(driver: WebDriver, *, allow: tuple[str, ...] = ()):
    """No CSP violation, script error or failed load in the browser's log
    since it was last read (reading empties it). `allow` lists regular
    expressions of expected messages (a 403 the test asked for)."""
    severe = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    allowed = KNOWN_BROWSER_ERRORS + allow
    unexpected = [message for message in severe if not any(re.search(pattern, message) for pattern in allowed)]
    assert not unexpected, f"the browser logged errors on {driver.current_url}: {unexpected}"


# --- What every page's HTML must not have ----------------------------------------------------------

_INLINE = {
    "a script without src": re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.IGNORECASE),
    "an event handler attribute (on*=)": re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE),
    "a javascript: URL": re.compile(r"=\s*[\"']?\s*javascript:", re.IGNORECASE),
    "a style element": re.compile(r"<style\b", re.IGNORECASE),
    "a style attribute": re.compile(r"<[a-z][^>]*\sstyle\s*=", re.IGNORECASE),
}


def inline_code(html: str) -> list[str]:
    """What `html` has that the CSP forbids inline: script, handlers, styles."""
    return [what for what, pattern in _INLINE.items() if pattern.search(html)]


def csp_directives(csp: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as {directive: [sources]}."""
    directives = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def assert_served_safely(answer: Answer, path: str):
    """What every page's answer has: the console's CSP (nothing inline, no
    script but this server's own: `script-src 'self'` at most, which the
    passkeys' console.js needs), `no-store`, and HTML with nothing the CSP
    would refuse."""
    csp = answer.headers.get("Content-Security-Policy", "")
    directives = csp_directives(csp)
    for directive, source in (
        ("default-src", "'none'"),
        ("style-src", "'self'"),
        ("form-action", "'self'"),
        ("frame-ancestors", "'none'"),
    ):
        assert source in directives.get(directive, []), f"{path}: {directive} {source} missing from the CSP {csp!r}"
    assert "unsafe-" not in csp, f"{path}: {csp!r}"
    assert directives.get("script-src", ["'self'"]) == ["'self'"], f"{path}: a script source beside 'self': {csp!r}"
    cache = answer.headers.get("Cache-Control", "")
    assert "no-store" in cache, f"{path}: Cache-Control {cache!r}"
    inline = inline_code(answer.body)
    assert not inline, f"{path} has {inline}"


def assert_page_checks(
    driver: WebDriver,
    console: Console,
    *,
    fetch: bool = True,
    allow: tuple[str, ...] = (),
):
    """The checks every page gets, on the page the browser shows now: with
    `fetch`, the page fetched again with the browser's cookie (a GET; the
    answer of a form cannot be) must be served safely; the page as the
    browser holds it has nothing inline; the browser logged no error
    (`allow` as in assert_no_browser_errors); and at phone width nothing
    scrolls sideways."""
    path = path_of(driver)
    if fetch:
        cookie = session_cookie(driver)
        answer = http(console.server, "GET", path, cookie=cookie["value"] if cookie else None)
        assert answer.status == 200, f"{path}: {answer.status}"
        assert_served_safely(answer, path)
    inline = inline_code(driver.page_source)
    assert not inline, f"{path} holds {inline}"
    assert_no_browser_errors(driver, allow=allow)
    before = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    fit_viewport(driver, *SIZES[1])
    overflow = horizontal_overflow(driver)
    fit_viewport(driver, *before)
    assert overflow <= 0, f"{path} scrolls sideways at {SIZES[1][0]} px: {overflow} px"
