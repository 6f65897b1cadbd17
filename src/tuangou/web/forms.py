"""Forms of the storefront's account pages. They validate shape; services enforce the rules."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tuangou.core.errors import AppError

_mobile = {"autocomplete": "tel", "inputmode": "numeric", "placeholder": "138 0000 0000"}
_code = {"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 6}


class ServiceForm(forms.Form):
    """A form that shows an AppError from a service on the fields it names."""

    def add_app_error(self, exc: AppError) -> None:
        if exc.errors:
            for field, messages in exc.errors.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
        else:
            self.add_error(None, str(exc.message))


class PasswordLoginForm(ServiceForm):
    mobile = forms.CharField(label=_("Mobile number"), max_length=20, widget=forms.TextInput(attrs=_mobile))
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class CodeLoginForm(ServiceForm):
    mobile = forms.CharField(label=_("Mobile number"), max_length=20, widget=forms.TextInput(attrs=_mobile))
    code = forms.CharField(label=_("SMS code"), max_length=6, required=False, widget=forms.TextInput(attrs=_code))


class RegisterForm(ServiceForm):
    mobile = forms.CharField(label=_("Mobile number"), max_length=20, widget=forms.TextInput(attrs=_mobile))
    code = forms.CharField(label=_("SMS code"), max_length=6, required=False, widget=forms.TextInput(attrs=_code))
    name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=60, required=False)
    password = forms.CharField(
        label=_("Password"), required=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )


class ResetForm(ServiceForm):
    mobile = forms.CharField(label=_("Mobile number"), max_length=20, widget=forms.TextInput(attrs=_mobile))
    code = forms.CharField(label=_("SMS code"), max_length=6, required=False, widget=forms.TextInput(attrs=_code))
    password = forms.CharField(
        label=_("New password"), required=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )


class InvoiceRequestForm(ServiceForm):
    """發票: what the buyer asks to be printed on the invoice."""

    title = forms.CharField(label=_("Invoice title (person or company)"), max_length=120)
    tax_number = forms.CharField(label=_("Tax number (companies)"), max_length=30, required=False)
    email = forms.EmailField(label=_("E-mail"), max_length=254)


class InvoiceIssueForm(ServiceForm):
    number = forms.CharField(label=_("Invoice number"), max_length=40)
    amount = forms.DecimalField(label=_("Amount"), max_digits=12, decimal_places=2)
    title = forms.CharField(label=_("Invoice title"), max_length=120)
    tax_number = forms.CharField(label=_("Tax number"), max_length=30, required=False)


class InvoiceRejectForm(ServiceForm):
    note = forms.CharField(label=_("Why"), max_length=200)
