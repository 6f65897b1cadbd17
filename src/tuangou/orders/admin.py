from django.contrib import admin

from tuangou.orders.models import Order


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Read only: orders change through the services (join, pay, cancel, expire)."""

    list_display = ["number", "user", "deal", "quantity", "amount", "status", "created_at", "expires_at"]
    list_filter = ["status"]
    search_fields = ["number", "user__mobile", "deal__title"]
    list_select_related = ["user", "deal"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
