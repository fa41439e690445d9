"""Any bytes either ingest or quarantine; the parsers never raise."""

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worksignal.ingest import ADAPTERS, Quarantined, Source, detect, make_adapter

_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=15,
)
# Records shaped like each format, with fields of any type: the hard cases for a parser.
shaped = st.fixed_dictionaries(
    {}, optional={
        "messages": json_value, "id": json_value, "user": json_value, "created_at": json_value,
        "usage": json_value, "metadata": json_value, "mapping": json_value, "current_node": json_value,
        "chat_messages": json_value, "resourceSpans": json_value, "request_id": json_value, "spend": json_value,
    })


def _drain(adapter_name: str, path: Path) -> list:
    return list(make_adapter(adapter_name).read(Source(path), 4096))


@_SETTINGS
@given(data=st.binary(max_size=600))
def test_any_bytes_never_raise_in_any_adapter(tmp_path_factory, data: bytes):
    path = tmp_path_factory.mktemp("fuzz") / "input"
    path.write_bytes(data)
    for name in ADAPTERS:
        for output in _drain(name, path):
            assert isinstance(output, Quarantined | dict)
    detect(Source(path))


@_SETTINGS
@given(records=st.lists(shaped, min_size=1, max_size=4), as_array=st.booleans())
def test_format_shaped_records_with_wrong_types_never_raise(tmp_path_factory, records, as_array: bool):
    path = tmp_path_factory.mktemp("shaped") / "input.json"
    # The stdlib writes what real producers do: huge integers, NaN, any unicode.
    if as_array:
        path.write_text(json.dumps(records))
    else:
        path.write_text("\n".join(json.dumps(r) for r in records))
    for name in ADAPTERS:
        outputs = _drain(name, path)
        for output in outputs:
            assert isinstance(output, Quarantined | dict)
        if name == "openai-jsonl" and not as_array:
            assert len(outputs) == len(records)  # one output per line: stored or quarantined
