from django.urls import path

from tuangou.web.views import accounts, backoffice, storefront
from tuangou.web.views import payments as payment_views

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
urlpatterns += payment_views.urlpatterns
urlpatterns += __import__("tuangou.web.views.salesdesk", fromlist=["urlpatterns"]).urlpatterns
urlpatterns += __import__("tuangou.web.views.deals", fromlist=["urlpatterns"]).urlpatterns
urlpatterns += __import__("tuangou.web.views.portal", fromlist=["urlpatterns"]).urlpatterns
urlpatterns += __import__("tuangou.web.views.merchants", fromlist=["urlpatterns"]).urlpatterns
