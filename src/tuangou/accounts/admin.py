from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from tuangou.accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["mobile"]
    list_display = ["mobile", "name", "email", "is_active", "is_staff"]
    search_fields = ["mobile", "name", "email"]
    fieldsets = (
        (None, {"fields": ("mobile", "password")}),
        (_("Profile"), {"fields": ("name", "email", "language")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("mobile", "password1", "password2")}),)
