"""Sample data for `kscli init --sample`: every status and rule, relative to now."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from kscli.domain import ids
from kscli.domain import subscriptions as rules
from kscli.domain.calendar import add_months
from kscli.domain.model import Incident
from kscli.policy_files import load_default
from kscli.services.licenses import fill_sample_keys
from kscli.store.base import Ledger
from kscli.views import sub_view


def _add(ledger: Ledger, now: datetime, *, started: datetime, plan: str, price: str,
         currency: str, vendor: str, product: str, account: str = "ada@example.com",
         kind: str = "subscription", commitment: int | None = None, auto_renew: bool = True,
         partner: tuple[str, str] | None = None, region: str | None = None,
         trial: str | None = None, notice: str | None = None):
    from kscli.domain.calendar import parse_duration


    sub = rules.new_subscription(
        ledger.next_id(ids.SUB), account=account, vendor=vendor, product=product,
        plan=plan, kind=kind, price=Decimal(price), currency=currency, started_at=started,
        commitment_months=commitment, auto_renew=auto_renew,
        partner_name=partner[0] if partner else None,
        partner_portal=partner[1] if partner else None, region=region, now=started,
        trial=parse_duration(trial) if trial else None,
        notice=parse_duration(notice) if notice else None,
    )
    ledger.add(sub)
    ledger.append_event(sub.id, "created", {"subscription": sub_view(sub)}, now, started)
    for change in rules.due_transitions(sub, now):
        ledger.append_event(sub.id, change.action, change.detail, now, change.at)
        sub = change.sub
    ledger.save(sub)
    return sub


def _apply(ledger: Ledger, now: datetime, change: rules.Change):
    ledger.save(change.sub)
    ledger.append_event(change.sub.id, change.action, change.detail, now)
    return change.sub


def fill_sample(ledger: Ledger, now: datetime) -> None:
    day = timedelta(days=1)
    # A monthly plan inside a 12-month commitment: cancel is refused until it ends.
    _add(ledger, now, started=add_months(now, -3) - 2 * day, plan="monthly", price="24.00",
         currency="USD", vendor="Acme Cloud", product="Cloud Pro", commitment=12)
    # Bought through a partner: cancelled in the partner's portal.
    _add(ledger, now, started=now - 40 * day, plan="annual", price="99.00", currency="EUR",
         vendor="Globex", product="Office Suite",
         partner=("Northwind Resellers", "https://portal.northwind.example/subscriptions"),
         region="EU")
    # An annual plan inside its 60-day money-back window.
    _add(ledger, now, started=now - 20 * day, plan="annual", price="120.00", currency="USD",
         vendor="Initech", product="Backup Plus")
    # A support plan with an incident open.
    support = _add(ledger, now, started=now - 35 * day, plan="annual", price="480.00",
                   currency="USD", vendor="Hooli", product="Priority Support", kind="support",
                   account="support-desk")
    incident = Incident(ledger.next_id(ids.INCIDENT), support.id, "VPN client crashes on start",
                        now - 3 * day)
    ledger.add(incident)
    ledger.append_event(incident.id, "incident-opened",
                        {"sub_id": support.id, "summary": incident.summary}, now, incident.opened_at)
    # Auto-renew turned off: active until the end of the paid period.
    vpn = _add(ledger, now, started=now - 10 * day, plan="monthly", price="5.99", currency="EUR",
               vendor="Stark VPN", product="VPN Personal")
    _apply(ledger, now, rules.renew_off(vpn, now))
    # A cancelled annual plan, still in service to its period end.
    design = _add(ledger, now, started=add_months(now, -14), plan="annual", price="300.00",
                  currency="USD", vendor="Umbrella", product="Design Suite")
    _apply(ledger, now, rules.cancel(design, now))
    # An expired plan (auto-renew was off).
    _add(ledger, now, started=add_months(now, -3), plan="monthly", price="3.00", currency="USD",
         vendor="Vandelay", product="Notes", auto_renew=False)
    # Yen have no minor unit.
    _add(ledger, now, started=now - 100 * day, plan="annual", price="12000", currency="JPY",
         vendor="Tokyo Font Works", product="Font Library")
    # A one-time software sale.
    photo = _add(ledger, now, started=now - 5 * day, plan="once", price="149.00",
                 currency="USD", vendor="Wayne Software", product="Photo Editor",
                 kind="software")
    # A free trial: the first charge falls at its end unless cancelled before.
    _add(ledger, now, started=now - 5 * day, plan="monthly", price="17.99", currency="USD",
         vendor="Streamly", product="Family", trial="14d")
    # A 30-day notice period: renew off must come by its cancel-by day to stop the renewal.
    _add(ledger, now, started=add_months(now + 45 * day, -12), plan="annual", price="240.00",
         currency="EUR", vendor="Contoso", product="CRM Team", account="sales", notice="30d")
    # License keys: unactivated, active on a laptop, lapsed, and Photo Editor's key,
    # issued (so that sale is final). Their windows are the built-in policy's.
    fill_sample_keys(ledger, now, photo, years=load_default().activation_years())
