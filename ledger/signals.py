"""What the one write path tells listeners, so a composing app (the API's webhooks) can follow every
status change, from any page, command, import or API call, without the ledger knowing it.

`status_changed` is sent inside the write's transaction, right after the status history rows are
written: sender is the history model (InvoiceStatusChange, PaymentStatusChange, ...), `changes` a
list of (owner id, field, old, new). A listener that acts outside the database defers that to
`transaction.on_commit`, so a rolled-back write tells nobody anything.
"""

from django.dispatch import Signal

status_changed = Signal()
