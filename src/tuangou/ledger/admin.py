from django.contrib import admin

from tuangou.ledger.models import Account, LedgerTransaction, Leg


class LegInline(admin.TabularInline):
    model = Leg
    extra = 0
    can_delete = False
    readonly_fields = ("account", "amount", "order_id")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("code", "kind", "name")
    list_filter = ("kind",)
    search_fields = ("code",)


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "key", "order_id", "payment_id", "refund_id")
    list_filter = ("kind",)
    search_fields = ("key",)
    inlines = [LegInline]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
