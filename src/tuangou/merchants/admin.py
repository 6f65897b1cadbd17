from django.contrib import admin

from tuangou.merchants.models import Merchant, MerchantMember, Store


class StoreInline(admin.TabularInline):
    model = Store
    extra = 0


class MemberInline(admin.TabularInline):
    model = MerchantMember
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "city", "is_active"]
    list_filter = ["kind", "city"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [StoreInline, MemberInline]
