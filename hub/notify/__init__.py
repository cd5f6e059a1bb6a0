"""Push delivery: the outbox, the dispatcher, the channels and the signed links in a push."""
