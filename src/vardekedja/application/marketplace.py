"""The marketplace application service: every command of the value chain as a method.

Policies run in the same transaction as the command that triggers them. When
a payment is received the order and every production order it opens are saved
together; a completed production order is saved with the delivery it opens; a
delivery or installation is saved with the payouts it makes owed and the order
line it settles. One ``save()`` is one transaction on every event store we use,
so a policy's writes can be neither lost nor repeated, and no follower process
has to catch up before the chain is consistent. The price is contention on the
order stream when several of its lines move at once; a command that loses such
a race is rerun on fresh state (see ``retrying`` in rounds.py), and the domain's
own rules decide the rerun, so a workshop that lost the race to accept gets a
conflict.

The commands are grouped by what they are about, one mixin a module; this
class puts them together. Commands can also run in rounds (rounds.py).
"""

from __future__ import annotations

from vardekedja.application.care import CareCommands
from vardekedja.application.designs import DesignCommands
from vardekedja.application.fulfilment import FulfilmentCommands
from vardekedja.application.media import MediaCommands
from vardekedja.application.orders import OrderCommands
from vardekedja.application.organisations import OrganisationCommands
from vardekedja.application.people import PeopleCommands
from vardekedja.application.settlement import SettlementCommands


class Marketplace(OrganisationCommands, PeopleCommands, DesignCommands, MediaCommands, OrderCommands,
                  FulfilmentCommands, CareCommands, SettlementCommands):
    """Commands of the whole chain; each returns what it recorded and where."""

    name = "Marketplace"
    env = {"AGGREGATE_CACHE_MAXSIZE": "1000"}
