"""Payment shells: the L1 channel manager client, the streaming payer and payee,
the durable voucher store and the channel watcher."""
