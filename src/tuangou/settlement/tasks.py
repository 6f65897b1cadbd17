from tuangou.core.jobs import job
from tuangou.settlement import services


@job("settlement.statements", every=6 * 3600)
def draft_statements() -> None:
    services.statements_generate_due()
    services.statements_settle_pending()


@job("settlement.settle_vouchers")
def settle_vouchers(*, statement_id: int) -> None:
    services.statement_settle_vouchers(statement_id=statement_id)
