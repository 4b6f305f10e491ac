"""The canonical encoding the hash chain covers is fixed forever: old exports must keep verifying.

The expected bytes and hashes below were computed once and are pinned; any
change to how an event is encoded or chained (a speed-up included) must leave
them exactly as they are.
"""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from vardekedja.audit.encoding import GENESIS, canonical, chain

# A stored event's state with what the encoding must survive: typed values,
# non-ASCII text, quotes and a newline, a float, null, a boolean, unsorted keys.
DATA = {
    "timestamp": {"_type_": "datetime_iso", "_data_": "2026-11-26T15:08:55.049005+00:00"},
    "originator_topic": "vardekedja:Payout",
    "order_id": {"_type_": "uuid_hex", "_data_": "654ca58d87974a338780db603e20032e"},
    "line_no": 1,
    "weight_kg": 45.5,
    "role": "area_company",
    "amount_ore": 80000,
    "reason": 'installation: 1 × Parkbänk Fittja "Ö"\n',
    "tags": ["ek", None, True],
}
ARGS = (37, "5c94eb85-f003-5b53-8d70-e4d346ed06ef", 1, "vardekedja:Payout.Owed", "2026-11-26T15:08:55.049005+00:00")

PINNED_BYTES = (
    '{"data":{"amount_ore":80000,"line_no":1,"order_id":{"_data_":"654ca58d87974a338780db603e20032e",'
    '"_type_":"uuid_hex"},"originator_topic":"vardekedja:Payout","reason":"installation: 1 × Parkbänk Fittja '
    '\\"Ö\\"\\n","role":"area_company","tags":["ek",null,true],"timestamp":{"_data_":'
    '"2026-11-26T15:08:55.049005+00:00","_type_":"datetime_iso"},"weight_kg":45.5},"position":37,'
    '"stream_id":"5c94eb85-f003-5b53-8d70-e4d346ed06ef","time":"2026-11-26T15:08:55.049005+00:00",'
    '"type":"vardekedja:Payout.Owed","version":1}'
).encode()


def test_an_event_encodes_to_the_pinned_canonical_bytes() -> None:
    assert canonical(*ARGS, DATA) == PINNED_BYTES


def test_an_event_chains_to_the_pinned_hash_from_genesis_and_from_a_previous_hash() -> None:
    encoded = canonical(*ARGS, DATA)

    assert chain(GENESIS, encoded) == "3737423a2837c0eb8b44f2a070adf6e60cefca2c485243ffa60f6787902e01c0"
    assert (
        chain("183e55b3e929b0651529e318200c0f2aa3cd2b8471655f3914b4e56ed70bb886", encoded)
        == "1906ea304f91979d9b07aa6053a2a51fb9e6d850e28bd02bc68cdf30f7ddb7a9"
    )


def test_the_encoding_does_not_depend_on_the_order_of_keys_in_the_stored_state() -> None:
    reordered = dict(reversed(list(DATA.items())))

    assert canonical(*ARGS, reordered) == PINNED_BYTES


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, derandomize=True, database=None)
@given(data=json_values, position=st.integers(1, 2**62), stream_id=st.text(max_size=40), version=st.integers(1, 2**31))
def test_the_encoding_is_sorted_compact_utf8_json_of_the_record_whatever_the_data(
    data: object, position: int, stream_id: str, version: int
) -> None:
    record = {"data": data, "position": position, "stream_id": stream_id, "time": "t", "type": "y", "version": version}
    expected = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    assert canonical(position, stream_id, version, "y", "t", data) == expected


def test_floats_that_json_writes_specially_are_encoded_as_json_dumps_writes_them() -> None:
    data = {"values": [1e16, 1.0, -0.0, 5e-324, 1.7976931348623157e308, math.inf, -math.inf]}
    expected = json.dumps({"data": data, "position": 1, "stream_id": "s", "time": "t", "type": "y", "version": 1},
                          sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()  # fmt: skip

    assert canonical(1, "s", 1, "y", "t", data) == expected
