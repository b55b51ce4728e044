"""Network health: aggregate figures over the ties of the network, never per person.

A *tie* is one recorded encounter of two people: a coffee match or topic circle that met, a
confirmed spontaneous coffee break, a hospitation that took place, a crisis request that
connected a requester with a bridge person. Each tie carries the department and municipality
of both people (as they were at the time, where the feature kept that).

From ties and the current profiles (only their unit and participation flags) this module
computes, for a period and the one before it: ties per month and kind, cross-department and
cross-municipality ties, the E-I index per unit (Krackhardt & Stern 1988:
`(E - I) / (E + I)` with E the ties of a unit's members to other units and I the ties inside
the unit), units without outside ties, participation per unit, and the crisis sectors with
fewer than two live bridge persons.

k-anonymity: a unit with fewer than `k` participants (confirmed profiles) is merged into
`OTHER`; if `OTHER` itself ends up with fewer than `k`, the smallest named units join it
until it has `k` (otherwise the total minus the named units would reveal it). With fewer
than `k` participants overall the report carries no figures at all. The output holds unit
names, sector names and counts only: no Matrix ID, no name, no free text of a person.
"""
