from django.contrib import admin

from tuangou.messaging.models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "channel", "to", "template", "status", "attempts"]
    list_filter = ["status", "channel", "template"]
    search_fields = ["to"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
