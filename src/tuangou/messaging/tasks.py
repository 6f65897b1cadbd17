from tuangou.core.jobs import job
from tuangou.messaging import services


@job("messaging.deliver", max_retries=services.MAX_ATTEMPTS - 1, retry_backoff=10.0)
def deliver(*, message_id: int) -> None:
    services.message_deliver(message_id=message_id)


@job("messaging.deliver_batch", max_retries=services.MAX_ATTEMPTS - 1, retry_backoff=10.0)
def deliver_batch(*, message_ids: list[int]) -> None:
    services.messages_deliver(message_ids=message_ids)
