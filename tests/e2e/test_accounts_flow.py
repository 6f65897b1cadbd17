"""A new member's first visit, in a real browser on a phone-sized screen."""

from pathlib import Path

import pytest

from tuangou.core.demo import DEMO_PASSWORD, demo_load
from tuangou.messaging.models import OutboxMessage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def _code_for(mobile: str) -> str:
    return OutboxMessage.objects.filter(to=mobile).latest("created_at").params["code"]


def test_home_language_register_and_logins(page, live_server, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "otp:mobile": (10, 60)}
    demo_load()
    SHOTS.mkdir(parents=True, exist_ok=True)

    # Home page in Traditional Chinese, cities listed, filing number in the footer.
    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "zh-Hant"
    assert page.get_by_text("選擇城市").is_visible()
    assert page.locator("#cities").get_by_text("上海").is_visible()
    assert page.get_by_text("滬ICP備00000000號-1").is_visible()
    page.screenshot(path=str(SHOTS / "home-zh-hant.png"), full_page=True)

    # Language switch: English, then back to Traditional Chinese.
    page.select_option("#language", "en")
    page.click("#language-form button")
    assert page.get_by_text("Choose a city").is_visible()
    page.select_option("#language", "zh-hans")
    page.click("#language-form button")
    assert page.get_by_text("选择城市").is_visible()
    page.select_option("#language", "zh-hant")
    page.click("#language-form button")

    # Registration with an SMS code.
    page.click("text=註冊")
    page.fill("#id_mobile", "13912340000")
    page.click("button[name=send_code]")
    page.wait_for_selector(".messages")
    page.fill("#id_mobile", "13912340000")
    page.fill("#id_code", _code_for("13912340000"))
    page.fill("#id_name", "新會員")
    page.fill("#id_password", "a-long-passphrase-7")
    page.click("button[name=register]")
    assert page.get_by_text("新會員").is_visible()
    page.click("text=登出")

    # Sign in by password.
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_pw-mobile", "13800000001")
    page.fill("#id_pw-password", DEMO_PASSWORD)
    page.click("#password-login button[type=submit]")
    assert page.get_by_text("會員 李小華").is_visible()
    page.click("text=登出")

    # Sign in by SMS code.
    page.goto(live_server.url + "/accounts/login/?mode=code")
    page.fill("#id_otp-mobile", "13800000000")
    page.click("button[name=send_code]")
    page.wait_for_selector(".messages")
    page.fill("#id_otp-mobile", "13800000000")
    page.fill("#id_otp-code", _code_for("13800000000"))
    page.click("button[name=login]")
    assert page.get_by_text("網站運營 王敏").is_visible()
    page.goto(live_server.url + "/backoffice/outbox/")
    assert page.locator("#outbox").get_by_text("13800000000").first.is_visible()
    page.screenshot(path=str(SHOTS / "outbox.png"), full_page=True)


def test_wrong_password_shows_a_clear_error(page, live_server):
    demo_load()
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_pw-mobile", "13800000001")
    page.fill("#id_pw-password", "wrong-password")
    page.click("#password-login button[type=submit]")
    assert page.get_by_text("手機號碼或密碼不正確").is_visible()
