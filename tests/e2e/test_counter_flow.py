"""The demo clerk at the counter, on a phone-sized screen: type a code, see what it is for,
confirm; the same code a second time is refused as already used."""

from pathlib import Path

import pytest

from tuangou.core.demo import DEMO_PASSWORD, demo_load
from tuangou.vouchers.models import Voucher

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_clerk_verifies_a_member_voucher_once(page, live_server):
    demo_load()
    SHOTS.mkdir(parents=True, exist_ok=True)
    voucher = Voucher.objects.filter(user__mobile="13800000001", state="issued").select_related("deal").first()
    assert voucher is not None

    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_pw-mobile", "13800000003")
    page.fill("#id_pw-password", DEMO_PASSWORD)
    page.click("#password-login button[type=submit]")
    page.goto(live_server.url + "/portal/")
    assert page.locator("#counter h1").is_visible()

    # Type the code as it is printed (groups and spaces), look it up: what is it for?
    page.fill("#id_code", voucher.display_code)
    page.click("button[name=lookup]")
    found = page.locator("#found")
    assert found.get_by_text(voucher.deal.title).is_visible()
    assert found.get_by_text(voucher.display_code).is_visible()
    page.screenshot(path=str(SHOTS / "counter-found.png"), full_page=True)

    page.click("button[name=confirm]")
    assert page.locator(".messages .success").is_visible()
    assert page.locator("#recent").get_by_text(voucher.code[-4:]).is_visible()
    voucher.refresh_from_db()
    assert voucher.state == "used"
    page.screenshot(path=str(SHOTS / "counter-verified.png"), full_page=True)

    # The same code again: the counter says it was already used, and offers no confirm button.
    page.fill("#id_code", voucher.display_code)
    page.click("button[name=lookup]")
    assert page.locator("#found .refusal").is_visible()
    assert page.locator("button[name=confirm]").count() == 0
    page.screenshot(path=str(SHOTS / "counter-already-used.png"), full_page=True)
    # …and confirming it anyway (a stale page, a second counter) is refused too.
    page.evaluate(
        "code => { const f = document.getElementById('counter-form');"
        " f.querySelector('#id_code').value = code;"
        " const b = document.createElement('button'); b.name = 'confirm'; b.value = '1';"
        " f.appendChild(b); b.click(); }",
        voucher.display_code,
    )
    page.wait_for_selector("#refusal")
    page.screenshot(path=str(SHOTS / "counter-second-attempt.png"), full_page=True)
    assert Voucher.objects.get(pk=voucher.pk).state == "used"


def test_member_sees_the_vouchers_with_their_qr_codes(page, live_server):
    demo_load()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_pw-mobile", "13800000001")
    page.fill("#id_pw-password", DEMO_PASSWORD)
    page.click("#password-login button[type=submit]")
    page.goto(live_server.url + "/me/vouchers/")
    usable = Voucher.objects.filter(user__mobile="13800000001", state="issued").order_by("pk")
    for voucher in usable:
        assert page.get_by_text(voucher.display_code).is_visible()
    assert page.locator("svg").count() >= usable.count()
    page.screenshot(path=str(SHOTS / "my-vouchers.png"), full_page=True)
