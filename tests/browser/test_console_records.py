"""Access requests and records in a real browser: a reader asks for access
and an admin in another browser approves it with a note; an admin decrypts
a field of an interview with a justification (a short one refused by the
server); a reader granted on the matter is offered no decrypt and a decrypt
posted from their session is refused; a decrypted recording plays in the
page, each range the player reads audited with the justification. Each page
gets the checks every page gets (CSP, nothing inline, no browser error, no
sideways scroll at phone width) and is screenshotted at both widths."""

import re

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from console_harness import (
    SIZES,
    WAIT_SECONDS,
    Api,
    assert_no_browser_errors,
    assert_page_checks,
    button,
    describe,
    fit_viewport,
    follow,
    heading,
    horizontal_overflow,
    http,
    path_of,
    replaced,
    shot,
    sign_in,
    submit,
    wait_for_next_page,
    wav,
)

# The interview's encrypted answer: test data, shown only once decrypted.
SECRET = "I was let go from Acme after reporting fraud to the regulator"
PURPOSE = "case_work"


def section(driver: WebDriver, title: str):
    """The page's section headed `title`."""
    return driver.find_element(By.XPATH, f"//section[h2[normalize-space()='{title}']]")


def described(scope, term: str) -> str:
    """The text of the <dd> after the <dt> `term` in `scope`."""
    return scope.find_element(By.XPATH, f".//dt[normalize-space()='{term}']/following-sibling::dd[1]").text


def request_in(driver: WebDriver, title: str, request_id: str):
    """The request `request_id` in the section `title` (None when it is not there)."""
    found = section(driver, title).find_elements(
        By.XPATH,
        f".//article[.//dt[normalize-space()='Request']/following-sibling::dd[1][normalize-space()='{request_id}']]",
    )
    return found[0] if found else None


def main_text(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "main").text


def status_of(answer_to: str) -> str:
    """The browser log's message of an expected refusal of `answer_to` (a path)."""
    return re.escape(answer_to) + r" .*status of (400|403)"


def open_record(driver: WebDriver, collection: str, record_id: str):
    """From any page: Records, the collection, the record, by their links."""
    follow(driver, "Records")
    assert heading(driver) == "Records", describe(driver)
    follow(driver, collection)
    assert heading(driver) == f"Records of {collection}", describe(driver)
    follow(driver, record_id)
    assert heading(driver) == f"Record {record_id}", describe(driver)


def open_decrypt_dialog(driver: WebDriver):
    """Opens the decrypt dialog (a <details>) with a click on its summary; answers its form."""
    details = driver.find_element(By.CSS_SELECTOR, "details")
    if details.get_attribute("open") is None:
        details.find_element(By.TAG_NAME, "summary").click()
    form = details.find_element(By.TAG_NAME, "form")
    assert form.is_displayed(), f"the dialog did not open: {describe(driver)}"
    return form


def fill_decrypt_dialog(driver: WebDriver, field: str, justification: str):
    """Ticks `field` (by its label, as a person does), chooses the purpose, types the justification."""
    form = open_decrypt_dialog(driver)
    box = form.find_element(By.NAME, f"field.{field}")
    if not box.is_selected():
        box.find_element(By.XPATH, "./ancestor::label[1]").click()
    assert box.is_selected(), f"{field} is not ticked"
    Select(form.find_element(By.ID, "purpose")).select_by_value(PURPOSE)
    text = form.find_element(By.ID, "justification")
    text.clear()
    text.send_keys(justification)
    return form


def test_a_reader_asks_for_access_and_an_admin_in_another_browser_approves_it_with_a_note(console, browser):
    api = console.operator()
    reader, admin = console.user(role="reader"), console.user()
    matter = api.matter(reader)
    record_id = api.interview(matter, SECRET)
    why = f"second opinion on the fraud claim ({matter})"
    note = "for the panel's second reading"

    # The reader asks, from the header's link, with the form.
    asker = browser()
    sign_in(asker, console, reader)
    follow(asker, "Access requests")
    assert path_of(asker) == "/console/access-requests" and heading(asker) == "Access requests", describe(asker)
    form = section(asker, "Ask for access")
    form.find_element(By.ID, "matter").send_keys(matter)
    Select(form.find_element(By.ID, "action")).select_by_value("record.decrypt")
    minutes = form.find_element(By.ID, "minutes")
    minutes.clear()
    minutes.send_keys("30")
    Select(form.find_element(By.ID, "purpose")).select_by_value(PURPOSE)
    form.find_element(By.ID, "justification").send_keys(why)
    submit(asker, button(asker, "Ask", form))
    assert path_of(asker) == "/console/access-requests", describe(asker)
    assert not asker.find_elements(By.CSS_SELECTOR, "p.error"), describe(asker)

    # Waiting, marked as decided by someone else, with nothing to decide it with.
    mine = [
        article
        for article in section(asker, "Waiting for a decision").find_elements(By.TAG_NAME, "article")
        if described(article, "Why") == why
    ]
    assert len(mine) == 1, f"{len(mine)} requests of the reader waiting: {describe(asker)}"
    request_id = described(mine[0], "Request")
    assert request_id.startswith("ar_"), request_id
    assert "Your request: someone else decides it." in mine[0].text, mine[0].text
    assert not mine[0].find_elements(By.TAG_NAME, "button"), "an Approve or Deny button on one's own request"
    assert not mine[0].find_elements(By.NAME, "note"), "a note field on one's own request"
    shot(asker, "access-requests-pending", show=section(asker, "Waiting for a decision"))
    assert_page_checks(asker, console)

    # The admin, in a browser of their own, sees what it covers and approves it with a note.
    approver = browser()
    sign_in(approver, console, admin)
    follow(approver, "Access requests")
    request = request_in(approver, "Waiting for a decision", request_id)
    assert request is not None, f"{request_id} is not waiting for the admin: {describe(approver)}"
    covered = {term: described(request, term) for term in ("Asked by", "To", "Matter", "For", "Purpose", "Why")}
    assert covered == {
        "Asked by": f"{reader.username} (user)",
        "To": "record.decrypt",
        "Matter": matter,
        "For": "30 minutes",
        "Purpose": PURPOSE,
        "Why": why,
    }, covered
    assert "someone else decides it" not in request.text, request.text
    request.find_element(By.NAME, "note").send_keys(note)
    shot(approver, "access-requests-decide", show=section(approver, "Waiting for a decision"))
    assert_page_checks(approver, console)  # an admin sees every decided request
    submit(approver, button(approver, "Approve", request))
    assert path_of(approver) == "/console/access-requests", describe(approver)
    assert not approver.find_elements(By.CSS_SELECTOR, "p.error"), describe(approver)
    assert request_in(approver, "Waiting for a decision", request_id) is None, "still waiting after the approval"
    decided = request_in(approver, "Decided", request_id)
    assert decided is not None, f"{request_id} is not among the decided: {describe(approver)}"
    assert decided.find_element(By.CSS_SELECTOR, "span.status").text == "approved", decided.text
    assert f"Note: {note}" in decided.text, decided.text
    assert_no_browser_errors(approver)

    # The reader's page says so at its next load.
    follow(asker, "Access requests")
    assert request_in(asker, "Waiting for a decision", request_id) is None, describe(asker)
    decided = request_in(asker, "Decided", request_id)
    assert decided is not None, f"{request_id} is not decided for the reader: {describe(asker)}"
    assert decided.find_element(By.CSS_SELECTOR, "span.status").text == "approved", decided.text
    assert "access until" in decided.text and f"Note: {note}" in decided.text, decided.text
    shot(asker, "access-requests-decided", show=section(asker, "Decided"))
    assert_page_checks(asker, console)
    approvals = [e for e in api.audited("access_request.approve", matter) if e["target"].get("id") == request_id]
    assert len(approvals) == 1, f"{len(approvals)} approvals of {request_id} audited"

    # The approval works: the record's page now offers the reader the decrypt, and it decrypts.
    open_record(asker, "interviews", record_id)
    form = fill_decrypt_dialog(asker, "transcribed_text", "second reading of the answer, as approved")
    submit(asker, button(asker, "Decrypt", form))
    assert described(section(asker, "Decrypted"), "transcribed_text") == SECRET, describe(asker)
    assert_no_browser_errors(asker)


def test_a_decided_request_names_who_decided_it_and_fits_a_phone(console, browser):
    api = console.operator()
    reader = console.user(role="reader", totp=False)
    matter = api.matter(reader)
    asked = {"matter": matter, "action": "record.decrypt", "duration_minutes": 30, "purpose": PURPOSE}
    asked["justification"] = "second opinion on the fraud claim"
    request_id = Api(console, reader, console.access_token(reader)).call(
        "POST", "/v1/access-requests", asked, expect=201
    )["id"]
    api.call("POST", f"/v1/access-requests/{request_id}/approve", {"note": "ok"}, expect=200)
    driver = browser()
    sign_in(driver, console, reader)
    follow(driver, "Access requests")
    decided = request_in(driver, "Decided", request_id)
    assert decided is not None, describe(driver)
    line = decided.find_element(By.CSS_SELECTOR, "span.status").find_element(By.XPATH, "..").text
    assert f"by {api.user.username}," in line, line
    fit_viewport(driver, *SIZES[1])
    assert horizontal_overflow(driver) <= 0, f"scrolls sideways at 390 px by {horizontal_overflow(driver)} px"


def test_a_record_page_fits_a_phone(console, browser):
    api = console.operator()
    reader = console.user(role="reader", totp=False)
    record_id = api.interview(api.matter(reader), SECRET)
    driver = browser()
    sign_in(driver, console, reader)
    driver.get(console.page(f"/console/records/interviews/{record_id}"))
    assert heading(driver) == f"Record {record_id}", describe(driver)
    fit_viewport(driver, *SIZES[1])
    assert horizontal_overflow(driver) <= 0, f"scrolls sideways at 390 px by {horizontal_overflow(driver)} px"


def test_an_admin_decrypts_a_field_with_a_justification_a_short_one_refused_by_the_server(console, browser):
    api = console.operator()
    admin = console.user()
    matter = api.matter(admin)
    record_id = api.interview(matter, SECRET)
    driver = browser()
    sign_in(driver, console, admin)

    # Records, interviews (the record listed on its matter), the record: public fields, the secret withheld.
    follow(driver, "Records")
    follow(driver, "interviews")
    row = driver.find_element(By.XPATH, f"//tr[td/a[normalize-space()='{record_id}']]")
    assert matter in row.text, row.text
    shot(driver, "records-interviews")
    assert_page_checks(driver, console)
    follow(driver, record_id)
    page = path_of(driver)
    assert page == f"/console/records/interviews/{record_id}" and heading(driver) == f"Record {record_id}", describe(
        driver
    )
    fields = section(driver, "Fields")
    assert described(fields, "feedback") == "clear and honest", fields.text
    assert described(fields, "user_id") == "candidate-881", fields.text
    assert described(fields, "transcribed_text") == "encrypted", fields.text
    assert "Acme" not in driver.page_source, "the encrypted answer is on the page before any decrypt"
    assert "recorded permanently" in section(driver, "Decrypt").get_attribute("textContent")
    form = driver.find_element(By.CSS_SELECTOR, "details form")
    assert not form.is_displayed(), "the dialog is open before it is asked for"
    shot(driver, "record")
    assert_page_checks(driver, console)

    # A short justification: the browser's own check stops it first (minlength), nothing is sent.
    form = fill_decrypt_dialog(driver, "transcribed_text", "too short")
    justification = form.find_element(By.ID, "justification")
    assert driver.execute_script("return arguments[0].validity.tooShort", justification), "minlength did not apply"
    old = driver.find_element(By.TAG_NAME, "html")
    button(driver, "Decrypt", form).click()
    try:
        WebDriverWait(driver, 1).until(replaced(old))
        sent = True
    except TimeoutException:
        sent = False
    assert not sent and path_of(driver) == page, f"the browser sent a short justification: {describe(driver)}"

    # Without the attribute the server refuses it, says why, and reveals nothing.
    driver.execute_script("arguments[0].removeAttribute('minlength')", justification)
    submit(driver, button(driver, "Decrypt", form))
    assert path_of(driver) == f"{page}/decrypt", describe(driver)
    alert = driver.find_element(By.CSS_SELECTOR, "p.error[role=alert]")
    assert "at least 20 characters" in alert.text, alert.text
    assert "Acme" not in driver.page_source, "a refused decrypt revealed the answer"
    assert not driver.find_elements(By.ID, "revealed"), describe(driver)
    assert driver.find_element(By.CSS_SELECTOR, "details").get_attribute("open") is not None, "the dialog is closed"
    shot(driver, "record-decrypt-refused")
    assert_page_checks(driver, console, fetch=False, allow=(status_of("/decrypt"),))
    assert not api.audited("record.decrypt", matter), "a refused decrypt was audited as a reveal"

    # Justified: the value, and the warning that it is recorded.
    reason = "verifying the claim before the offer"
    form = fill_decrypt_dialog(driver, "transcribed_text", reason)
    submit(driver, button(driver, "Decrypt", form))
    revealed = section(driver, "Decrypted")
    assert described(revealed, "transcribed_text") == SECRET, revealed.text
    assert "recorded permanently" in revealed.find_element(By.CSS_SELECTOR, "p.warning").text, revealed.text
    assert described(section(driver, "Fields"), "transcribed_text") == "encrypted", "the stored view changed"
    shot(driver, "record-decrypted")
    assert_page_checks(driver, console, fetch=False)
    reveals = api.audited("record.decrypt", matter)
    assert len(reveals) == 1, f"{len(reveals)} reveals audited"
    assert (reveals[0]["justification"], reveals[0]["fields"]) == (reason, ["transcribed_text"]), reveals[0]
    assert reveals[0]["actor"]["name"] == admin.username, reveals[0]["actor"]

    # The audit explorer shows the reveal; the page checks its proof against the pinned key.
    follow(driver, "Audit log")
    driver.find_element(By.ID, "action").send_keys("record.decrypt")
    driver.find_element(By.ID, "matter").send_keys(matter)
    submit(driver, button(driver, "Filter"))
    rows = driver.find_elements(By.CSS_SELECTOR, "table.events tbody tr")
    assert len(rows) == 1 and "record.decrypt" in rows[0].text and admin.username in rows[0].text, describe(driver)
    shot(driver, "audit")
    assert_page_checks(driver, console)
    submit(driver, rows[0].find_element(By.TAG_NAME, "a"))
    assert heading(driver).startswith("Audit event "), describe(driver)
    shown = driver.find_element(By.CSS_SELECTOR, "pre.event").text
    assert reason in shown and "transcribed_text" in shown and "Acme" not in shown, shown
    pinned = driver.find_element(By.ID, "pinned-key")
    WebDriverWait(driver, 10).until(lambda d: pinned.get_attribute("value"))
    server_key = http(console.server, "GET", "/v1/audit/public-key").body.splitlines()[0]
    assert pinned.get_attribute("value") == server_key, "the first check offers the server's key, to compare"
    button(driver, "Check the proof").click()
    result = driver.find_element(By.ID, "proof-result")
    WebDriverWait(driver, 10).until(lambda d: result.is_displayed())
    assert result.text.startswith("Verified: event "), result.text
    shot(driver, "audit-event")
    assert_page_checks(driver, console)

    # A key other than the pinned one does not verify it.
    pinned.clear()
    pinned.send_keys(server_key[:-6] + ("AAAAA=" if not server_key.endswith("AAAAA=") else "BBBBB="))
    button(driver, "Check the proof").click()
    WebDriverWait(driver, 10).until(lambda d: result.text.startswith("Not verified"))


def test_a_reader_is_offered_no_decrypt_and_a_decrypt_posted_from_their_session_is_refused(console, browser):
    api = console.operator()
    reader = console.user(role="reader")
    matter = api.matter(reader)
    record_id = api.interview(matter, SECRET)
    driver = browser()
    sign_in(driver, console, reader)

    open_record(driver, "interviews", record_id)
    page = path_of(driver)
    assert described(section(driver, "Fields"), "feedback") == "clear and honest", describe(driver)
    assert described(section(driver, "Fields"), "transcribed_text") == "encrypted", describe(driver)
    assert not driver.find_elements(By.TAG_NAME, "details"), "a decrypt dialog for a reader"
    assert not driver.find_elements(By.NAME, "justification"), "a justification field for a reader"
    assert not driver.find_elements(By.CSS_SELECTOR, "form[action$='/decrypt']"), "a decrypt form for a reader"
    shot(driver, "record-reader")
    assert_page_checks(driver, console)

    # The form the page does not offer, made in the page with the session's own form token, then sent.
    old = driver.find_element(By.TAG_NAME, "html")
    driver.execute_script(
        """
        const form = document.createElement("form");
        form.method = "post";
        form.action = location.pathname + "/decrypt";
        const token = document.querySelector("form.signout input[name=form_token]").value;
        for (const [name, value] of [["form_token", token], ["field.transcribed_text", "on"],
                                     ["purpose", arguments[0]], ["justification", arguments[1]]]) {
            const input = document.createElement("input");
            input.type = "hidden";
            input.name = name;
            input.value = value;
            form.appendChild(input);
        }
        document.body.appendChild(form);
        form.submit();
        """,
        PURPOSE,
        "second opinion on the fraud claim",
    )
    wait_for_next_page(driver, old)
    assert path_of(driver) == f"{page}/decrypt", describe(driver)
    assert heading(driver) == "Refused", describe(driver)
    assert "The refusal is recorded." in main_text(driver), describe(driver)
    assert "Acme" not in driver.page_source, "the refusal page holds the answer"
    assert_page_checks(driver, console, fetch=False, allow=(status_of("/decrypt"),))
    denials = [
        e
        for e in api.audited("permission.denied", matter)
        if e.get("details", {}).get("action") == "record.decrypt" and e["target"].get("id") == record_id
    ]
    assert len(denials) == 1, f"{len(denials)} refusals of the reader's decrypt audited"
    assert denials[0]["actor"]["name"] == reader.username, denials[0]["actor"]
    assert not api.audited("record.decrypt", matter), "the reader's decrypt was audited as a reveal"


def test_a_decrypted_recording_plays_in_the_page_and_each_range_read_is_audited(console, browser):
    api = console.operator()
    admin = console.user()
    matter = api.matter(admin)
    seconds = 20
    audio = wav(seconds)
    record_id = api.recording(matter, audio)
    driver = browser()
    sign_in(driver, console, admin)

    open_record(driver, "recordings", record_id)
    assert not driver.find_elements(By.TAG_NAME, "audio"), "a player before the decrypt"
    reason = "transcription quality check for the hearing"
    form = fill_decrypt_dialog(driver, "audio", reason)
    submit(driver, button(driver, "Decrypt", form))
    revealed = section(driver, "Decrypted")
    assert "recorded permanently" in revealed.text, revealed.text
    players = revealed.find_elements(By.TAG_NAME, "audio")
    assert len(players) == 1, describe(driver)
    player = players[0]
    source = player.get_attribute("src")
    assert f"/console/records/recordings/{record_id}/blobs/audio?reason=" in source, source

    # Muted, so that no user gesture is needed; sent three quarters in (a seek: a range the
    # player has not read yet), it plays until time passes in it.
    seek = seconds * 3 / 4
    started = driver.execute_async_script(
        """
        const [audio, seek, done] = arguments;
        audio.muted = true;
        audio.currentTime = seek;
        audio.play().then(() => done("playing"), (error) => done(String(error)));
        """,
        player,
        seek,
    )
    assert started == "playing", f"play() failed: {started}"
    state = "return [arguments[0].readyState, arguments[0].currentTime, arguments[0].duration, arguments[0].error]"

    def played(driver):
        ready, time, _, _ = driver.execute_script(state, player)
        return ready >= 2 and time > seek  # HAVE_CURRENT_DATA, and time has passed in it

    WebDriverWait(driver, WAIT_SECONDS).until(played, message="the player never played")
    ready, _, duration, error = driver.execute_script(state, player)
    assert error is None and ready >= 2, (ready, error)
    assert abs(duration - seconds) < 0.1, f"a {seconds}-second recording lasts {duration} s in the player"
    shot(driver, "record-audio")
    assert_page_checks(driver, console, fetch=False)

    # Every range the player read (the seek's too) is a reveal audited with the dialog's justification and purpose.
    reads = [e for e in api.audited("blob.read", matter) if e["target"].get("id") == record_id]
    assert reads, "the player's reads were not audited"
    for read in reads:
        assert (read["justification"], read.get("purpose"), read["fields"]) == (reason, PURPOSE, ["audio"]), read
        assert read["actor"]["name"] == admin.username, read["actor"]
        assert re.fullmatch(r"\d+-\d+", str(read.get("details", {}).get("range"))), read
    ranges = [tuple(int(end) for end in read["details"]["range"].split("-")) for read in reads]
    assert any(start > 0 for start, _ in ranges), f"no read but from the start: {ranges}"
    assert max(last for _, last in ranges) == len(audio) - 1, f"{ranges} of {len(audio)} bytes"


def test_the_decrypt_dialog_works_with_the_keyboard_alone(console, browser):
    """Tab to the dialog's summary, Enter opens it, Space ticks the field, the
    purpose is chosen with the arrow keys, the reason typed, Enter sends it."""
    api = console.operator()
    admin = console.user()
    record_id = api.interview(api.matter(admin), SECRET)
    driver = browser()
    sign_in(driver, console, admin)
    driver.get(console.page(f"/console/records/interviews/{record_id}"))

    def press(*keys):
        ActionChains(driver).send_keys(*keys).perform()

    def focused():
        return driver.switch_to.active_element

    for _ in range(60):
        press(Keys.TAB)
        if focused().tag_name == "summary":
            break
    else:
        raise AssertionError(f"Tab never reached the decrypt dialog: {describe(driver)}")
    press(Keys.ENTER)
    assert driver.find_element(By.CSS_SELECTOR, "details").get_attribute("open") is not None, "Enter opens it"
    for _ in range(10):
        press(Keys.TAB)
        if focused().get_attribute("name") == "field.transcribed_text":
            break
    press(Keys.SPACE)
    assert driver.find_element(By.NAME, "field.transcribed_text").is_selected(), "Space ticks the field"
    while focused().get_attribute("id") != "purpose":
        press(Keys.TAB)
    press(Keys.TAB)
    assert focused().get_attribute("id") == "justification", describe(driver)
    press("verifying the claim with the keyboard only")
    while focused().tag_name != "button":
        press(Keys.TAB)
    assert focused().text == "Decrypt", focused().text
    old = driver.find_element(By.TAG_NAME, "html")
    press(Keys.ENTER)
    wait_for_next_page(driver, old)
    assert described(section(driver, "Decrypted"), "transcribed_text") == SECRET, describe(driver)
    assert_no_browser_errors(driver)
