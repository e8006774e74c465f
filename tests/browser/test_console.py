"""The console in a real browser (Debian's headless chromium): signing in with
a password and a TOTP code by mouse and by keyboard alone, the overview with
the audit log's integrity, a session ended from another browser, the CSP of
every page with nothing inline and nothing the browser refused or failed, and
a form without its form token refused. Screenshots of each page at desktop
and phone width go to <target>/browser-screenshots/."""

import re

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from console_harness import (
    COOKIE,
    assert_no_browser_errors,
    assert_served_safely,
    button,
    describe,
    fit_viewport,
    follow,
    has_session_cookie,
    heading,
    horizontal_overflow,
    http,
    path_of,
    session_cookie,
    shot,
    sign_in,
    submit,
    wait_for_next_page,
)

# The console's pages: path, screenshot name, heading. A new page is one line
# here: it is then screenshotted signed in, and its headers, HTML and browser
# log checked.
SIGNED_IN_PAGES = [
    ("/console", "overview", "Overview"),
    ("/console/access-requests", "access-requests", "Access requests"),
    ("/console/records", "records", "Records"),
    ("/console/records/interviews", "records-interviews-none", "Records of interviews"),
    ("/console/sessions", "sessions", "Your sessions"),
    ("/console/passkeys", "passkeys-no-origin", "Passkeys"),
    ("/console/audit", "audit-log", "Audit log"),
    ("/console/admin", "administration", "Administration"),
    ("/console/admin/users", "users", "Users"),
    ("/console/admin/api-keys", "api-keys", "API keys"),
    ("/console/admin/keys", "keys", "Keys"),
    ("/console/admin/matters", "matters", "Matters"),
    ("/console/admin/roles", "roles", "Roles"),
    ("/console/admin/policies", "policies", "Policies"),
]
SIGNED_OUT_PAGES = [
    ("/console/login", "login", "Sign in"),
]
PAGES = SIGNED_IN_PAGES + SIGNED_OUT_PAGES


def test_sign_in_with_password_then_code_shows_the_overview_and_the_audit_log_verified(console, browser):
    user = console.user()
    driver = browser()
    driver.get(console.page("/console"))
    assert path_of(driver) == "/console/login", f"not sent to sign in: {describe(driver)}"
    assert heading(driver) == "Sign in"
    shot(driver, "login")
    assert_no_browser_errors(driver)

    # The password first: the code is asked for on a second step, with no session yet.
    driver.find_element(By.ID, "username").send_keys(user.username)
    driver.find_element(By.ID, "password").send_keys(user.password)
    submit(driver, button(driver, "Sign in"))
    assert driver.find_elements(By.NAME, "challenge"), f"no second step: {describe(driver)}"
    assert not driver.find_elements(By.ID, "password"), "the second step asks for the code only"
    assert not has_session_cookie(driver), "no session before the second factor"
    assert "authenticator app" in driver.find_element(By.TAG_NAME, "main").text
    shot(driver, "login-totp")
    assert_no_browser_errors(driver)

    driver.find_element(By.ID, "code").send_keys(user.code())
    submit(driver, button(driver, "Sign in"))
    assert path_of(driver) == "/console", f"not signed in: {describe(driver)}"
    assert heading(driver) == "Overview"
    header = driver.find_element(By.TAG_NAME, "header").text
    assert f"Signed in as {user.username}" in header, header

    # Chromium keeps the __Host- cookie with Secure on http://127.0.0.1 (a secure context).
    cookie = session_cookie(driver)
    assert cookie is not None, "the browser did not keep the session cookie"
    attributes = {key: cookie.get(key) for key in ("secure", "httpOnly", "sameSite", "path")}
    assert attributes == {"secure": True, "httpOnly": True, "sameSite": "Strict", "path": "/"}

    integrity = driver.find_element(By.XPATH, "//section[h2[normalize-space()='Audit log integrity']]")
    verified = integrity.find_element(By.XPATH, ".//dt[normalize-space()='Verified']/following-sibling::dd[1]")
    assert verified.find_element(By.CSS_SELECTOR, "span.ok").text == "yes", verified.text
    second_factor = driver.find_element(By.XPATH, "//dt[normalize-space()='Second factor']/following-sibling::dd[1]")
    assert second_factor.text == "enrolled"
    assert_no_browser_errors(driver)

    # The header's link to the sessions works; then every page, screenshotted signed in.
    follow(driver, "Your sessions")
    assert path_of(driver) == "/console/sessions" and heading(driver) == "Your sessions", describe(driver)
    assert len(driver.find_elements(By.CSS_SELECTOR, "input[name=session]")) == 1, describe(driver)
    button(driver, "End this session (sign out)")
    for path, name, title in SIGNED_IN_PAGES:
        driver.get(console.page(path))
        assert path_of(driver) == path and heading(driver) == title, describe(driver)
        shot(driver, name)
        assert_no_browser_errors(driver)


def active(driver):
    """The focused element's id (or tag, when it has none)."""
    return driver.execute_script("const e = document.activeElement; return e.id || e.tagName.toLowerCase()")


def type_keys(driver, *keys):
    """Keys sent to whatever has the focus, as a person types them."""
    ActionChains(driver).send_keys(*keys).perform()


def test_sign_in_and_out_with_the_keyboard_alone(console, browser):
    user = console.user()
    driver = browser()
    driver.get(console.page("/console/login"))

    # One form: username, Tab, password, Tab, code, Enter. The username has the focus on arrival.
    assert active(driver) == "username"
    type_keys(driver, user.username, Keys.TAB)
    assert active(driver) == "password"
    type_keys(driver, user.password, Keys.TAB)
    assert active(driver) == "code"
    old = driver.find_element(By.TAG_NAME, "html")
    type_keys(driver, user.code(), Keys.ENTER)
    wait_for_next_page(driver, old)
    assert path_of(driver) == "/console", f"not signed in: {describe(driver)}"

    # Tab reaches the header's sign-out button; Enter signs out.
    for _ in range(30):
        type_keys(driver, Keys.TAB)
        focused = driver.switch_to.active_element
        if focused.tag_name == "button" and focused.text == "Sign out":
            break
    else:
        pytest.fail("Tab never reached the sign-out button")
    old = driver.find_element(By.TAG_NAME, "html")
    type_keys(driver, Keys.ENTER)
    wait_for_next_page(driver, old)
    assert path_of(driver) == "/console/login", f"not signed out: {describe(driver)}"

    # Two steps: username, Tab, password, Enter; then the code (focused on arrival), Enter.
    assert active(driver) == "username"
    type_keys(driver, user.username, Keys.TAB, user.password)
    old = driver.find_element(By.TAG_NAME, "html")
    type_keys(driver, Keys.ENTER)
    wait_for_next_page(driver, old)
    assert active(driver) == "code", f"the code does not have the focus: {describe(driver)}"
    old = driver.find_element(By.TAG_NAME, "html")
    type_keys(driver, user.code(), Keys.ENTER)
    wait_for_next_page(driver, old)
    assert path_of(driver) == "/console", f"not signed in: {describe(driver)}"
    assert_no_browser_errors(driver)


def test_a_session_ended_in_one_browser_signs_the_other_out(console, browser):
    user = console.user()
    first, second = browser(), browser()
    sign_in(first, console, user)
    sign_in(second, console, user)
    same = session_cookie(first)["value"] == session_cookie(second)["value"]
    assert not same, "two browsers, two sessions"

    first.get(console.page("/console/sessions"))
    assert len(first.find_elements(By.CSS_SELECTOR, "input[name=session]")) == 2, describe(first)
    shot(first, "sessions-two")
    submit(first, button(first, "End"))
    assert path_of(first) == "/console/sessions", describe(first)
    assert len(first.find_elements(By.CSS_SELECTOR, "input[name=session]")) == 1, describe(first)
    button(first, "End this session (sign out)")
    assert_no_browser_errors(first)

    # The other browser's next page is the sign-in page; the first stays signed in.
    second.get(console.page("/console"))
    assert path_of(second) == "/console/login", f"still signed in: {describe(second)}"
    assert heading(second) == "Sign in"
    first.get(console.page("/console"))
    assert path_of(first) == "/console" and heading(first) == "Overview", describe(first)
    assert_no_browser_errors(first)
    assert_no_browser_errors(second)


@pytest.mark.parametrize(("path", "name", "title"), PAGES, ids=[name for _, name, _ in PAGES])
def test_every_page_sends_the_csp_has_nothing_inline_and_the_browser_logs_no_error(console, browser, path, name, title):
    """Each page, signed in when it needs it (its screenshots are the sign-in test's)."""
    signed_in = (path, name, title) in SIGNED_IN_PAGES
    driver = browser()
    if signed_in:
        sign_in(driver, console, console.user())
    cookie = session_cookie(driver)["value"] if signed_in else None

    # The page as the server sends it (urllib, with the browser's cookie).
    answer = http(console.server, "GET", path, cookie=cookie)
    assert answer.status == 200, f"{path}: {answer.status}"
    assert_served_safely(answer, path)

    # The page in the browser: its heading, no CSP violation or failed load, and at phone width no sideways scrolling.
    driver.get(console.page(path))
    assert path_of(driver) == path and heading(driver) == title, describe(driver)
    assert_no_browser_errors(driver)
    fit_viewport(driver, 390, 844)
    assert horizontal_overflow(driver) <= 0, f"{path} scrolls sideways at 390 px: {horizontal_overflow(driver)} px"


def test_a_form_without_its_form_token_is_refused_and_the_session_stays(console, browser):
    user = console.user()
    driver = browser()
    sign_in(driver, console, user)
    assert_no_browser_errors(driver)

    # The test removes the hidden field from the sign-out form, then submits the form as it is.
    form = driver.find_element(By.CSS_SELECTOR, "form[action='/console/logout']")
    driver.execute_script("arguments[0].querySelector('input[name=form_token]').remove()", form)
    assert not form.find_elements(By.NAME, "form_token")
    submit(driver, button(driver, "Sign out", form))
    assert heading(driver) == "Refused", describe(driver)
    assert "did not come from a page of this console" in driver.find_element(By.TAG_NAME, "main").text
    shot(driver, "refused")
    assert_no_browser_errors(driver, allow=(re.escape("/console/logout") + r" .*status of 403",))

    # Still signed in; the real sign-out form then signs out.
    driver.get(console.page("/console"))
    assert path_of(driver) == "/console" and heading(driver) == "Overview", describe(driver)
    submit(driver, button(driver, "Sign out"))
    assert path_of(driver) == "/console/login", describe(driver)
    assert not has_session_cookie(driver), f"{COOKIE} is still kept after signing out"
    driver.get(console.page("/console"))
    assert path_of(driver) == "/console/login", describe(driver)
    assert_no_browser_errors(driver)
