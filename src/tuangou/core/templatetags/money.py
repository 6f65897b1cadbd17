from decimal import Decimal

from django import template

from tuangou.core.money import format_yuan

register = template.Library()


@register.filter
def yuan(value: Decimal | int | str | None) -> str:
    """{{ deal.price|yuan }} → ¥1,234.50"""
    return "" if value is None or value == "" else format_yuan(value)
