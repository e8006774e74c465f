"""Passkeys in a real browser: ChromeDriver's virtual authenticator (CTAP2,
resident keys, user verification) stands in for a phone or a security key.
A user signed in with a password and TOTP registers a passkey, signs out,
signs in with the passkey alone (it counts as the second factor), sees when
it was last used, and removes it; afterwards the passkey opens nothing.

WebAuthn needs a domain, not an IP address: these tests open the console
as http://localhost:<port> (a secure context, as 127.0.0.1 is for cookies)."""

from selenium.webdriver.common.by import By
from selenium.webdriver.common.virtual_authenticator import VirtualAuthenticatorOptions
from selenium.webdriver.support.wait import WebDriverWait

from console_harness import (
    WAIT_SECONDS,
    assert_no_browser_errors,
    button,
    describe,
    has_session_cookie,
    heading,
    path_of,
    shot,
    sign_in,
    submit,
)


def authenticator(driver):
    """A platform authenticator that verifies its user (as a fingerprint reader does)."""
    options = VirtualAuthenticatorOptions()
    options.protocol = VirtualAuthenticatorOptions.Protocol.CTAP2
    options.transport = VirtualAuthenticatorOptions.Transport.INTERNAL
    options.has_resident_key = True
    options.has_user_verification = True
    options.is_user_verified = True
    driver.add_virtual_authenticator(options)


class Localhost:
    """The console as http://localhost:<port>."""

    def __init__(self, console):
        self.server = console.server
        self.url = console.url.replace("://127.0.0.1:", "://localhost:")

    def page(self, path):
        return self.url + path


def status_text(driver):
    element = driver.find_element(By.ID, "passkey-status")
    return "" if element.get_attribute("hidden") is not None else element.text


def test_register_a_passkey_sign_in_with_it_alone_and_remove_it(console, browser):
    site = Localhost(console)
    user = console.user()
    driver = browser()
    authenticator(driver)
    sign_in(driver, site, user)

    driver.get(site.page("/console/passkeys"))
    assert heading(driver) == "Passkeys", describe(driver)
    assert "None yet." in driver.find_element(By.TAG_NAME, "main").text
    name = driver.find_element(By.ID, "passkey-name")
    name.clear()
    name.send_keys("Laptop fingerprint")
    shot(driver, "passkeys-empty")
    submit(driver, button(driver, "Add a passkey"))
    listed = driver.find_element(By.CSS_SELECTOR, "ul.passkeys").text
    assert "Laptop fingerprint" in listed and "not used yet" in listed, describe(driver)
    assert len(driver.get_credentials()) == 1, "the authenticator holds the new passkey"
    shot(driver, "passkeys")
    assert_no_browser_errors(driver)

    # Signed out, the passkey alone signs in: no username, no password, no code.
    submit(driver, button(driver, "Sign out"))
    assert path_of(driver) == "/console/login" and not has_session_cookie(driver), describe(driver)
    submit(driver, button(driver, "Sign in with a passkey"))
    assert path_of(driver) == "/console" and heading(driver) == "Overview", describe(driver)
    assert f"Signed in as {user.username}" in driver.find_element(By.TAG_NAME, "header").text
    assert_no_browser_errors(driver)

    # The sign-in is audited as a second factor by passkey.
    api = console.operator()
    events = api.call("GET", f"/v1/audit/events?action=mfa.success&actor={user.id}", expect=200)["events"]
    methods = [event["event"]["details"].get("method") for event in events]
    assert "passkey" in methods, methods

    driver.get(site.page("/console/passkeys"))
    assert "last used" in driver.find_element(By.CSS_SELECTOR, "ul.passkeys").text, describe(driver)
    submit(driver, button(driver, "Remove"))
    assert "None yet." in driver.find_element(By.TAG_NAME, "main").text, describe(driver)

    # The authenticator still holds it, but the server no longer knows it.
    submit(driver, button(driver, "Sign out"))
    button(driver, "Sign in with a passkey").click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: status_text(d))
    assert "did not work" in status_text(driver), status_text(driver)
    assert path_of(driver) == "/console/login" and not has_session_cookie(driver)
    shot(driver, "login-passkey-refused")
    assert_no_browser_errors(driver, allow=(r"/console/login/passkey .*status of 401",))


def test_the_sign_in_page_offers_passkeys_only_where_the_browser_can_use_them(console, browser):
    driver = browser()
    driver.get(Localhost(console).page("/console/login"))
    offer = driver.find_element(By.CSS_SELECTOR, "form[data-passkey=sign-in]")
    assert offer.is_displayed(), "the script shows the passkey button"
    assert_no_browser_errors(driver)


def test_a_passkey_confirms_it_is_you_when_a_decrypt_asks_for_a_recent_second_factor(console, browser):
    """An operator's policy asks this user for a second factor proven in the
    last five minutes before a decrypt. Signed in with a password alone, the
    record page asks to confirm it is you; the passkey does, and the decrypt
    goes through."""
    site = Localhost(console)
    api = console.operator()
    user = console.user(totp=False)
    record = api.interview(api.matter(user), "the answer only a fresh second factor shows")
    fresh = (
        '@id("fresh-mfa-for-one-user")\n'
        f'forbid (principal == Strongroom::User::"{user.id}",\n'
        '  action == Strongroom::Action::"record.decrypt", resource)\n'
        "unless { context has mfa_age_seconds && context.mfa_age_seconds <= 300 };\n"
    )
    api.call(
        "PUT", "/v1/policies", {"policies": fresh, "justification": "decrypts need a fresh second factor"}, expect=200
    )
    try:
        driver = browser()
        authenticator(driver)
        sign_in(driver, site, user)
        driver.get(site.page("/console/passkeys"))
        submit(driver, button(driver, "Add a passkey"))
        assert "My passkey" in driver.find_element(By.CSS_SELECTOR, "ul.passkeys").text, describe(driver)

        page = f"/console/records/interviews/{record}"
        driver.get(site.page(page))
        card = driver.find_element(By.CSS_SELECTOR, "section.step-up")
        assert "Confirm it is you" in card.text, describe(driver)
        shot(driver, "record-step-up")
        assert_no_browser_errors(driver)
        submit(driver, button(driver, "Confirm with a passkey", card))
        assert path_of(driver) == page and not driver.find_elements(By.CSS_SELECTOR, "section.step-up"), describe(
            driver
        )

        form = driver.find_element(By.CSS_SELECTOR, "form[action$='/decrypt']")
        driver.find_element(By.CSS_SELECTOR, "details summary").click()
        form.find_element(By.NAME, "field.transcribed_text").find_element(By.XPATH, "./ancestor::label[1]").click()
        form.find_element(By.ID, "justification").send_keys("checking the answer with a fresh factor")
        submit(driver, button(driver, "Decrypt", form))
        assert (
            "the answer only a fresh second factor shows"
            in driver.find_element(By.ID, "revealed").find_element(By.XPATH, "..").text
        ), describe(driver)
        events = api.call("GET", f"/v1/audit/events?action=mfa.success&actor={user.id}", expect=200)["events"]
        stages = [event["event"]["details"].get("stage") for event in events]
        assert "step_up" in stages, stages
    finally:
        api.call(
            "PUT", "/v1/policies", {"policies": "", "justification": "the one-user rule was for this test"}, expect=200
        )
