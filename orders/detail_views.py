"""The order page and the new-order page.

Reading needs the support role, placing an order the finance role. The order's actions
(deliver, invoice, add a line, cancel lines, credit by quantity) are in orders/action_views.py.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from billing.actors import AuthenticatedHttpRequest
from billing.form_fields import no_customer_match
from billing.roles import FINANCE, SUPPORT, role_required
from orders.forms import NewOrderForm, left_to_cancel, left_to_deliver
from orders.models import Order, OrderState
from orders.selectors import order_invoices, order_lines
from orders.services import create_order
from orders.timeline import order_timeline
from submissions.flow import perform


def get_order(pk: int) -> Order:
    return get_object_or_404(Order.objects.select_related("customer", "provider", "created_by"), pk=pk)


@role_required(SUPPORT)
def order_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    order = get_order(pk)
    lines = order_lines(order)
    invoices = order_invoices(order)
    active = order.state != OrderState.CANCELED
    context = {
        "order": order,
        "lines": lines,
        "invoices": invoices,
        "payment_rows": [(item.invoice, row) for item in invoices for row in item.allocations],
        "timeline": order_timeline(order, lines=lines, invoices=invoices),
        "can_deliver": active and any(left_to_deliver(line) > 0 for line in lines),
        "can_invoice": active and any(line.invoiceable_quantity > 0 for line in lines),
        "can_add_line": active,
        "can_cancel": active and any(left_to_cancel(line) > 0 for line in lines),
    }
    return render(request, "orders/detail.html", context)


@role_required(FINANCE)
def order_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    if request.method == "POST":
        form = NewOrderForm(request.POST, user=request.user)
        if "add_line" in request.POST:
            form = NewOrderForm.with_one_more_line(request.POST, user=request.user)
        else:
            response = perform(
                request,
                form,
                lambda data: create_order(
                    customer=data["customer"],
                    provider=data["provider"],
                    currency=data["currency"],
                    lines=data["lines"],
                    invoicing=data["invoicing"],
                    by=request.user,
                ),
                done=lambda order: order,
                success=lambda order: f"Order {order} placed.",
            )
            if response is not None:
                return response
    else:
        form = NewOrderForm(user=request.user, customer_query=query, initial={"customer": request.GET.get("customer")})
    return render(request, "orders/new.html", {"form": form, "query": query, "no_match": no_customer_match(query)})
