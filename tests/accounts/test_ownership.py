import pytest

from tuangou.core.errors import Forbidden, NotFound
from tuangou.core.models import City
from tuangou.core.ownership import get_visible, require_role, visible_to
from tuangou.merchants.models import Merchant, MerchantMember, Store

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_merchants(make_user):
    city = City.objects.create(slug="sh", name="上海")
    a = Merchant.objects.create(name="A", slug="a", city=city)
    b = Merchant.objects.create(name="B", slug="b", city=city)
    a1 = Store.objects.create(merchant=a, name="A1", address="x")
    a2 = Store.objects.create(merchant=a, name="A2", address="y")
    b1 = Store.objects.create(merchant=b, name="B1", address="z")
    owner = make_user("merchant")
    clerk = make_user("clerk")
    MerchantMember.objects.create(merchant=a, user=owner)
    MerchantMember.objects.create(merchant=a, user=clerk, store=a1)
    return {"a": a, "b": b, "a1": a1, "a2": a2, "b1": b1, "owner": owner, "clerk": clerk}


def test_merchant_admin_sees_all_its_stores_and_nothing_else(two_merchants):
    m = two_merchants
    assert set(visible_to(Store.objects.all(), m["owner"])) == {m["a1"], m["a2"]}
    assert list(visible_to(Merchant.objects.all(), m["owner"])) == [m["a"]]
    with pytest.raises(NotFound):
        get_visible(Store.objects.all(), m["owner"], pk=m["b1"].pk)


def test_clerk_sees_only_their_store(two_merchants):
    m = two_merchants
    assert list(visible_to(Store.objects.all(), m["clerk"])) == [m["a1"]]


def test_operator_sees_everything_and_strangers_nothing(two_merchants, operator, member):
    assert visible_to(Store.objects.all(), operator).count() == 3
    assert visible_to(Store.objects.all(), member).count() == 0


def test_require_role(member, operator):
    require_role(operator, "operator")
    with pytest.raises(Forbidden):
        require_role(member, "operator")
