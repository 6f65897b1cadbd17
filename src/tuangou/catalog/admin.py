from django.contrib import admin

from tuangou.catalog.models import PriceList, PriceListItem, Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "unit", "list_price", "stock_on_hand", "is_active"]
    search_fields = ["code", "name"]
    list_filter = ["is_active"]


class PriceListItemInline(admin.TabularInline):
    model = PriceListItem
    extra = 0
    autocomplete_fields = ["product"]


@admin.register(PriceList)
class PriceListAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active"]
    inlines = [PriceListItemInline]
