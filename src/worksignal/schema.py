"""Arrow schemas of the canonical records that flow between stages."""

from __future__ import annotations

import pyarrow as pa

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])

#: What an ingest adapter yields, one row per conversation, before normalisation.
RAW_CONVERSATION = pa.schema(
    [
        ("source_format", pa.string()),
        ("source_id", pa.string()),
        ("identity", pa.string()),  # raw email / user id: dropped by the pseudonymise stage
        ("team", pa.string()),
        ("tool", pa.string()),
        ("model", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("tokens_in", pa.int64()),
        ("tokens_out", pa.int64()),
        ("cost", pa.float64()),
        ("messages", pa.list_(MESSAGE)),
        ("location", pa.string()),
    ]
)

#: Columns the normalise stage adds.
NORMALISED_FIELDS = [
    ("conversation_id", pa.string()),
    ("content_hash", pa.string()),
    ("n_messages", pa.int32()),
    ("n_user_turns", pa.int32()),
    ("user_text", pa.string()),  # the first user turn: what the classifier reads first
    ("context_text", pa.string()),  # later user turns, joined: context for the classifier
]

#: Columns the classify stage adds.
LABEL_FIELDS = [
    ("work_probability", pa.float32()),
    ("work", pa.bool_()),
    ("topic", pa.string()),
    ("topic_group", pa.string()),
    ("intent", pa.string()),
    ("tier", pa.string()),
    ("model_version", pa.string()),
]

#: What an adapter yields for a people-directory row.
PERSON = pa.schema(
    [
        ("identity", pa.string()),
        ("team", pa.string()),
        ("manager", pa.string()),
        ("role", pa.string()),
        ("opted_out", pa.bool_()),
        ("excluded", pa.bool_()),
        ("location", pa.string()),
    ]
)
