from django.contrib import admin

from tuangou.deals.models import Category, Deal, DealMedia, DealTier, Team


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position"]
    prepopulated_fields = {"slug": ["name"]}


class TierInline(admin.TabularInline):
    model = DealTier
    extra = 0


class MediaInline(admin.TabularInline):
    model = DealMedia
    extra = 0


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin):
    """Read-mostly: state and counters move only through the services and the clock."""

    list_display = [
        "title",
        "merchant",
        "city",
        "status",
        "group_price",
        "sold_units",
        "reserved_units",
        "stock",
        "ends_at",
    ]
    list_filter = ["status", "city", "mode"]
    search_fields = ["title", "merchant__name"]
    list_select_related = ["merchant", "city"]
    readonly_fields = [
        "status",
        "sold_units",
        "buyers",
        "reserved_units",
        "final_unit_price",
        "submitted_at",
        "approved_at",
        "tipped_at",
        "closed_at",
        "created_by",
    ]
    inlines = [TierInline, MediaInline]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["pk", "deal", "leader", "status", "size", "seats_taken", "members_paid", "virtual", "expires_at"]
    list_filter = ["status", "virtual"]
    readonly_fields = [
        "status",
        "seats_taken",
        "members_paid",
        "virtual",
        "clock_started_at",
        "expires_at",
        "finished_at",
    ]
    raw_id_fields = ["deal", "leader"]
