"""Sign-in, registration, password reset and sign-out pages.

Each page posts one form; a second submit button ("send code") asks for an SMS code first, so the
pages work without JavaScript.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tuangou.accounts import services
from tuangou.accounts.models import OneTimeCode
from tuangou.core.errors import AppError
from tuangou.core.ratelimit import client_ip
from tuangou.web.forms import CodeLoginForm, PasswordLoginForm, RegisterForm, ResetForm, ServiceForm

BACKEND = "django.contrib.auth.backends.ModelBackend"


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return "/"


def _send_code(request: HttpRequest, form: ServiceForm, purpose: str) -> None:
    try:
        services.otp_request(
            mobile=form.cleaned_data["mobile"], purpose=purpose, ip=client_ip(request), language=request.LANGUAGE_CODE
        )
    except AppError as exc:
        form.add_app_error(exc)
    else:
        messages.info(request, _("If the number can receive it, a code is on its way by SMS."))


def _require(form: ServiceForm, *fields: str) -> bool:
    missing = [f for f in fields if not form.cleaned_data.get(f)]
    for field in missing:
        form.add_error(field, _("This field is required."))
    return not missing


def login_view(request: HttpRequest) -> HttpResponse:
    mode = request.GET.get("mode") or request.POST.get("mode") or "password"
    password_form: PasswordLoginForm = PasswordLoginForm(prefix="pw")
    code_form: CodeLoginForm = CodeLoginForm(prefix="otp")
    if request.method == "POST":
        if mode == "code":
            code_form = CodeLoginForm(request.POST, prefix="otp")
            if code_form.is_valid():
                if "send_code" in request.POST:
                    _send_code(request, code_form, OneTimeCode.Purpose.LOGIN)
                elif _require(code_form, "code"):
                    try:
                        user = services.login_code(
                            mobile=code_form.cleaned_data["mobile"],
                            code=code_form.cleaned_data["code"],
                            ip=client_ip(request),
                        )
                    except AppError as exc:
                        code_form.add_app_error(exc)
                    else:
                        login(request, user, backend=BACKEND)
                        return redirect(_next(request))
        else:
            password_form = PasswordLoginForm(request.POST, prefix="pw")
            if password_form.is_valid():
                try:
                    user = services.login_password(
                        mobile=password_form.cleaned_data["mobile"],
                        password=password_form.cleaned_data["password"],
                        ip=client_ip(request),
                        request=request,
                    )
                except AppError as exc:
                    password_form.add_app_error(exc)
                else:
                    login(request, user, backend=BACKEND)
                    return redirect(_next(request))
    return render(
        request,
        "web/accounts/login.html",
        {"mode": mode, "password_form": password_form, "code_form": code_form, "next": _next(request)},
    )


def register_view(request: HttpRequest) -> HttpResponse:
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if "send_code" in request.POST:
            _send_code(request, form, OneTimeCode.Purpose.REGISTER)
        elif _require(form, "code", "password"):
            try:
                user = services.user_register(
                    mobile=form.cleaned_data["mobile"],
                    code=form.cleaned_data["code"],
                    password=form.cleaned_data["password"],
                    name=form.cleaned_data["name"],
                    ip=client_ip(request),
                    language=request.LANGUAGE_CODE,
                )
            except AppError as exc:
                form.add_app_error(exc)
            else:
                login(request, user, backend=BACKEND)
                messages.success(request, _("Welcome! Your account is ready."))
                return redirect("web:home")
    return render(request, "web/accounts/register.html", {"form": form})


def password_reset_view(request: HttpRequest) -> HttpResponse:
    form = ResetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if "send_code" in request.POST:
            _send_code(request, form, OneTimeCode.Purpose.RESET)
        elif _require(form, "code", "password"):
            try:
                services.password_reset(
                    mobile=form.cleaned_data["mobile"],
                    code=form.cleaned_data["code"],
                    password=form.cleaned_data["password"],
                    ip=client_ip(request),
                )
            except AppError as exc:
                form.add_app_error(exc)
            else:
                messages.success(request, _("Your password has been changed. Please sign in."))
                return redirect("web:login")
    return render(request, "web/accounts/reset.html", {"form": form})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("web:home")
