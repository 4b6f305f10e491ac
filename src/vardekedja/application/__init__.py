"""The write side: the marketplace's commands, the rounds that run them, API keys and the payment port.

``Marketplace`` (marketplace.py) is the application service. Its commands are
grouped by area in mixins (organisations.py, designs.py, orders.py,
fulfilment.py) over ``MarketplaceBase`` (base.py: settings and loaders), which
stands on ``RoundsApplication`` (rounds.py: commands alone or in rounds
committed together). ``CommandWriter`` (command_thread.py) is the server's one
command thread. api_keys.py makes and checks API keys; payments.py is the port
to the payment provider.
"""

from vardekedja.application.api_keys import IssuedKey, hash_api_key, new_api_key, split_api_key
from vardekedja.application.command_thread import CommandWriter, WriterClosedError
from vardekedja.application.marketplace import Marketplace
from vardekedja.application.payments import PaymentGateway, PaymentIntent, PaymentsUnavailableError
from vardekedja.application.rounds import PENDING_POSITION, Outcome, Recorded, RoundsApplication

__all__ = [
    "PENDING_POSITION",
    "CommandWriter",
    "IssuedKey",
    "Marketplace",
    "Outcome",
    "PaymentGateway",
    "PaymentIntent",
    "PaymentsUnavailableError",
    "Recorded",
    "RoundsApplication",
    "WriterClosedError",
    "hash_api_key",
    "new_api_key",
    "split_api_key",
]
