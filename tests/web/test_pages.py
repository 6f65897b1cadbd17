import pytest

from tuangou.core.models import City, SiteSettings

from ..conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def site_setup(db):
    site = SiteSettings.current()
    site.icp_number = "滬ICP備12345678號-1"
    site.public_security_number = "滬公網安備 31010000000001號"
    site.save()
    City.objects.create(slug="shanghai", name="上海")
    City.objects.create(slug="hangzhou", name="杭州")


def test_home_lists_cities_in_traditional_chinese_with_filing_numbers(client, site_setup):
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'lang="zh-Hant"' in html
    assert "選擇城市" in html
    assert "上海" in html and "杭州" in html
    assert "滬ICP備12345678號-1" in html and "滬公網安備 31010000000001號" in html


@pytest.mark.parametrize(("language", "text"), [("zh-hans", "选择城市"), ("en", "Choose a city")])
def test_language_switch(client, site_setup, language, text):
    response = client.post("/i18n/setlang/", {"language": language, "next": "/"})
    assert response.status_code == 302
    assert text in client.get("/").content.decode()


def test_no_asset_comes_from_another_host(client, site_setup):
    html = client.get("/").content.decode()
    assert "http://" not in html.replace("http://testserver", "")
    assert "https://" not in html
    assert "//cdn" not in html


def test_password_login_page(client, make_user):
    user = make_user("member")
    response = client.post("/accounts/login/", {"mode": "password", "pw-mobile": user.mobile, "pw-password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/api/v1/me").json()["mobile"] == user.mobile


def test_login_error_names_the_problem_and_changes_nothing(client, make_user):
    user = make_user("member")
    response = client.post("/accounts/login/", {"mode": "password", "pw-mobile": user.mobile, "pw-password": "x"})
    assert response.status_code == 200
    assert "手機號碼或密碼不正確" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_back_office_is_for_staff_roles_only(client, make_user):
    member = make_user("member")
    client.force_login(member)
    assert client.get("/backoffice/").status_code == 403
    operator = make_user("operator")
    client.force_login(operator)
    response = client.get("/backoffice/")
    assert response.status_code == 200
    assert "/backoffice/outbox/" in response.content.decode()


def test_outbox_shows_console_messages_to_operators_only(client, make_user, django_capture_on_commit_callbacks):
    from tuangou.accounts.services import otp_request

    member = make_user("member")
    with django_capture_on_commit_callbacks(execute=True):
        otp_request(mobile=member.mobile, purpose="login", ip="1.2.3.4")
    client.force_login(make_user("merchant"))
    assert client.get("/backoffice/outbox/").status_code == 403
    client.force_login(make_user("operator"))
    html = client.get("/backoffice/outbox/").content.decode()
    assert member.mobile in html


def test_anonymous_back_office_redirects_to_login(client, db):
    response = client.get("/backoffice/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("accept", "text"),
    [("en-US,en;q=0.9", "選擇城市"), ("zh-TW,zh;q=0.9", "選擇城市"), ("zh-CN,zh;q=0.9", "选择城市"), ("", "選擇城市")],
)
def test_pages_default_to_traditional_chinese(client, site_setup, accept, text):
    assert text in client.get("/", HTTP_ACCEPT_LANGUAGE=accept).content.decode()


def test_the_chosen_language_beats_the_browser(client, site_setup):
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "Choose a city" in client.get("/", HTTP_ACCEPT_LANGUAGE="zh-TW").content.decode()
