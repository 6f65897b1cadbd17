from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tuangou.core.models import City
from tuangou.deals.models import Category


def home(request: HttpRequest) -> HttpResponse:
    """首頁: pick a city."""
    cities = City.objects.filter(is_active=True)
    categories = Category.objects.all()
    return render(request, "web/home.html", {"cities": cities, "categories": categories})
