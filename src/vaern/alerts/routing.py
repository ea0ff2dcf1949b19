"""Who is told about a hit: the only place that decides recipients.

Controlled by `units` (leader and `notify` per unit), `people[].unit`, `alerts.fallback`
(people without a unit) and `alerts.analysts` (the digest of `possible` hits).

The rule that must never break: a recipient hears only about people in the units they lead
or are notified for (or, for the fallback address, people without a unit). Analysts are the
one exception by role: they review everything, so the digest goes to them whole. Routing
reads the *current* config, so a person who moved unit is reported to the new leader.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaern.config import Config

# Kinds of e-mail. `new_hit`, `update`, `removed` and `reminder` are about `high` hits and go
# to the person's unit; `digest` lists `possible` hits for the analysts.
NEW_HIT = "new_hit"
UPDATE = "update"
REMOVED = "removed"
REMINDER = "reminder"
DIGEST = "digest"
UNIT_KINDS = (NEW_HIT, UPDATE, REMOVED, REMINDER)


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str | None
    role: str  # leader | notify | fallback | analyst

    @property
    def key(self) -> str:
        """Addresses compare case-insensitively: one e-mail per mailbox, not per spelling."""
        return self.email.lower()


class RoutingTable:
    """The config's people, units and mailboxes indexed once (a watch list can be 50,000 long)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.people = {p.id: p for p in config.people}
        self.units = {u.id: u for u in config.units}
        self.sites = {s.id: s for s in config.sites}
        self.scopes: dict[str, set[str | None]] = {}
        for unit in config.units:
            for email in (unit.leader.email, *(c.email for c in unit.notify)):
                self.scopes.setdefault(email.lower(), set()).add(unit.id)
        if config.alerts.fallback:
            self.scopes.setdefault(config.alerts.fallback.lower(), set()).add(None)


_tables: dict[int, RoutingTable] = {}


def routing_table(config: Config) -> RoutingTable:
    """The routing table of `config` (kept for the few configs a process holds)."""
    found = _tables.get(id(config))
    if found is None or found.config is not config:
        if len(_tables) > 8:
            _tables.clear()
        found = _tables[id(config)] = RoutingTable(config)
    return found


def recipients(config: Config, person_id: str, kind: str, confidence: str) -> list[Recipient]:
    """Everyone who should get an e-mail of `kind` about a hit on `person_id`.

    Unit kinds need a `high` hit; the reminder goes to the leader alone. The digest goes to the
    analysts and is built from `possible` hits.
    """
    if kind == DIGEST:
        # High hits reach the digest only where `alerts.policy` sends them (dispatch.queue_digest).
        return _unique([Recipient(a, None, "analyst") for a in config.alerts.analysts])
    if kind not in UNIT_KINDS:
        raise ValueError(f"unknown alert kind {kind!r}")
    if confidence != "high":
        return []
    index = routing_table(config)
    person = index.people.get(person_id)
    if person is None:
        return []  # no longer watched: nobody is responsible for them any more
    unit = index.units.get(person.unit) if person.unit is not None else None
    if unit is None:
        fallback = config.alerts.fallback
        return [Recipient(fallback, None, "fallback")] if fallback else []
    found = [Recipient(unit.leader.email, unit.leader.name, "leader")]
    if kind != REMINDER:
        found += [Recipient(c.email, c.name, "notify") for c in unit.notify]
    return _unique(found)


def scope(config: Config, address: str) -> set[str | None]:
    """The units whose people `address` may hear about (None = people without a unit).

    This is the invariant the tests hold routing to; the review app can use it too.
    """
    return set(routing_table(config).scopes.get(address.lower(), ()))


def _unique(found: list[Recipient]) -> list[Recipient]:
    seen: set[str] = set()
    out: list[Recipient] = []
    for r in found:
        if r.key not in seen:
            seen.add(r.key)
            out.append(r)
    return out
