"""The BD rep's pipeline and a prospect, and the merchant's mini-site editor, on a phone-sized screen."""

from pathlib import Path

import pytest

from tuangou.core.demo import DEMO_PASSWORD, demo_load
from tuangou.merchants.models import Merchant, Prospect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def _sign_in(page, live_server, mobile):
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_pw-mobile", mobile)
    page.fill("#id_pw-password", DEMO_PASSWORD)
    page.click("#password-login button[type=submit]")


def test_bd_rep_records_a_visit_and_moves_a_prospect(page, live_server):
    demo_load()
    SHOTS.mkdir(parents=True, exist_ok=True)
    _sign_in(page, live_server, "13800000004")
    page.goto(live_server.url + "/backoffice/bd/")
    assert page.locator("#pipeline").get_by_text("南翔小籠館").is_visible()
    page.screenshot(path=str(SHOTS / "bd-pipeline.png"), full_page=True)
    lead = Prospect.objects.get(name="巷口豆花")
    page.click("text=巷口豆花")
    page.fill("#id_v-notes", "林阿姨願意試一檔豆花套餐。")
    page.click("#visits button[type=submit]")
    assert page.locator(".messages .success").is_visible()
    assert page.locator("#visits").get_by_text("林阿姨願意試一檔豆花套餐。").is_visible()
    page.select_option("#id_m-action", "negotiate")
    page.click("#move button[type=submit]")
    assert page.locator("#agreement-form").is_visible()
    page.screenshot(path=str(SHOTS / "bd-prospect.png"), full_page=True)
    lead.refresh_from_db()
    assert lead.stage == "negotiating"


def test_merchant_edits_promotions_on_the_mini_site(page, live_server):
    demo_load()
    SHOTS.mkdir(parents=True, exist_ok=True)
    _sign_in(page, live_server, "13800000002")
    page.goto(live_server.url + "/portal/site/")
    page.select_option("#merchant-choice", str(Merchant.objects.get(slug="laojie-hotpot").pk))
    page.click("#site form.choose button")
    page.fill("#id_promotions", "週末晚市加送甜品。")
    page.click("#site-form button[type=submit]")
    assert page.locator(".messages .success").is_visible()
    page.screenshot(path=str(SHOTS / "mini-site-edit.png"), full_page=True)
    page.goto(live_server.url + "/m/laojie-hotpot/promotions/")
    assert page.get_by_text("週末晚市加送甜品。").is_visible()
