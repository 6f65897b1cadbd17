from django.urls import path

from tuangou.web.views import (
    accounts,
    backoffice,
    deals,
    merchants,
    orders,
    payments,
    portal,
    processes,
    salesdesk,
    storefront,
)

app_name = "web"

urlpatterns = [
    path("", storefront.home, name="home"),
    path("accounts/login/", accounts.login_view, name="login"),
    path("accounts/register/", accounts.register_view, name="register"),
    path("accounts/password-reset/", accounts.password_reset_view, name="password_reset"),
    path("accounts/logout/", accounts.logout_view, name="logout"),
    path("backoffice/", backoffice.dashboard, name="backoffice"),
    path("backoffice/outbox/", backoffice.outbox, name="outbox"),
]
# Each domain's pages declare their own urlpatterns next to their views.
for module in (payments, salesdesk, deals, orders, portal, merchants, processes):
    urlpatterns += module.urlpatterns
