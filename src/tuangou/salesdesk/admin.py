from django.contrib import admin

from tuangou.salesdesk.models import (
    Collection,
    Contact,
    Customer,
    HandOver,
    Invoice,
    Order,
    OrderLine,
    PerformanceRecord,
    ProductSale,
    Shipment,
    WriteOff,
)


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "payment_terms", "settlement_day", "net_days", "credit_limit", "is_active"]
    list_filter = ["kind", "payment_terms", "is_active"]
    search_fields = ["name", "contacts__name"]
    inlines = [ContactInline]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of the flow: changed only by the services, so read-only here."""

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    readonly_fields = ["product", "quantity", "unit_price", "amount", "qty_shipped", "qty_delivered"]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["number", "customer", "owner", "state", "amount_total", "payment_status", "due_date"]
    list_filter = ["state", "payment_status", "fulfilment_status"]
    search_fields = ["number", "customer__name"]
    inlines = [OrderLineInline]


for model in (Invoice, Shipment, Collection, HandOver, WriteOff, PerformanceRecord, ProductSale):
    admin.site.register(model, ReadOnlyAdmin)
