"""Statements cover a range of time (since, cut-off) and their lines are groups of vouchers
(ADR 0014): the new columns; 0004 fills them, 0005 drops the per-voucher ones."""

import django.db.models.deletion
from django.db import migrations, models

import tuangou.core.money


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0001_initial"),
        ("settlement", "0002_alter_statement_state"),
    ]

    operations = [
        migrations.AddField(
            model_name="statement",
            name="since",
            field=models.DateTimeField(null=True, verbose_name="since"),
        ),
        migrations.AddField(
            model_name="statement",
            name="cut_off",
            field=models.DateTimeField(null=True, verbose_name="cut-off"),
        ),
        migrations.RemoveConstraint(model_name="statementline", name="statement_line_voucher_once"),
        migrations.AlterField(
            model_name="statementline",
            name="voucher",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="vouchers.voucher"
            ),
        ),
        migrations.AlterField(
            model_name="statementline",
            name="order",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="orders.order"
            ),
        ),
        migrations.AlterField(
            model_name="statementline",
            name="at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AlterField(
            model_name="statementline",
            name="units",
            field=models.PositiveIntegerField(verbose_name="units"),
        ),
        migrations.AddField(
            model_name="statementline",
            name="store",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="merchants.store",
                verbose_name="store",
            ),
        ),
        migrations.AddField(
            model_name="statementline",
            name="price",
            field=tuangou.core.money.MoneyField(decimal_places=2, default=0, max_digits=14, verbose_name="price"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="statementline",
            name="vouchers",
            field=models.PositiveIntegerField(default=1, verbose_name="vouchers"),
            preserve_default=False,
        ),
    ]
